"""A real headless Chromium driven by Playwright, against pytest-django's live server."""

import os
import shutil

import pytest

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed: `make test` installs it (apt package chromium)")


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    # Playwright runs an asyncio loop in this thread; the live server's ORM calls are in others.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page that records JS errors and every request leaving the machine."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.js_errors = []
    page.outside_requests = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))

    def note_request(request):
        url = request.url
        if not url.startswith(("http://localhost", "http://127.0.0.1", "data:", "blob:")):
            page.outside_requests.append(url)

    page.on("request", note_request)
    yield page
    context.close()


@pytest.fixture
def login(page):
    """Sign a user in through the admin login form."""

    def sign_in(username: str, password: str):
        page.goto("/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_load_state()
        return page

    return sign_in
