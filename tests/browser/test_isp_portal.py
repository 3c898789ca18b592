"""The ISPs' door in a real headless Chromium with no internet: an ISP user signs in, sees the
address that is ready for activation on the dashboard, opens it, types the ONT serial,
activates and sees the service active; every portal page fits a phone."""

from pathlib import Path

import pytest

from accounts.roles import Role
from accounts.services import user_create
from gis_core.lifecycle import AddressStatus
from tests.wholesale.conftest import build, town  # noqa: F401  (the small marketplace fixture)
from wholesale.lifecycle import OrderStatus, ServiceStatus
from wholesale.models import Customer, Service
from wholesale.services import order_place

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE = {"width": 375, "height": 812}
PASSWORD = "isp-pass-123"


@pytest.fixture
def ready(town):  # noqa: F811
    """Spree Net's user, and its order at a connected home, ready for activation; Kiez
    Online has one too, which Spree never sees."""
    spree, kiez = town.isps
    user_create(username="spree", organisation=spree, role=Role.ISP_USER, password=PASSWORD)
    customer = Customer.objects.create(name="Alice Example", email="alice@example.org")
    home = build(town.address("live", n=0), "connected")
    order = order_place(
        address=home, isp=spree, offering=town.offerings[0], customer=customer, unit=""
    )
    other = build(town.address("live", n=1), "connected")
    foreign = order_place(address=other, isp=kiez, offering=town.offerings[1])
    return {"order": order, "foreign": foreign}


def _watched(page):
    """Record JS errors and requests leaving the machine, as conftest's `page` does."""
    page.js_errors = []
    page.outside_requests = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))

    def note_request(request):
        if not request.url.startswith(("http://localhost", "http://127.0.0.1", "data:", "blob:")):
            page.outside_requests.append(request.url)

    page.on("request", note_request)
    return page


def _sign_in(page, username: str = "spree"):
    """Open the portal, get sent to the site's own login page, sign in, come back."""
    page.goto("/isp/")
    page.wait_for_url("**/accounts/login/?next=/isp/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/isp/")


def _fits(page) -> None:
    """No horizontal scroll: nothing on the page is wider than the screen."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => window.innerWidth")
    assert width <= viewport, f"{page.url}: {width}px wide on a {viewport}px screen"


def test_an_isp_user_activates_a_ready_address_from_the_dashboard(page, ready):
    ARTIFACTS.mkdir(exist_ok=True)
    order = ready["order"]
    _sign_in(page)

    # the dashboard: the ready address is the call to action; Kiez's order is not there
    item = page.locator(f"[data-ready-list] li[data-order='{order.reference}']")
    assert item.count() == 1
    assert order.address.label in item.text_content()
    assert page.locator(f"[data-order='{ready['foreign'].reference}']").count() == 0
    assert "Kiez Online" not in page.content()
    assert page.text_content("[data-status-count=ready_for_activation] .value").strip() == "1"
    assert page.locator("[data-chart=activations] rect.bar").count() == 12
    page.screenshot(path=str(ARTIFACTS / "isp-dashboard.png"), full_page=True)

    # open it: the order, its map, the activation form with the offering's product chosen
    item.locator("a.ready-link").click()
    page.wait_for_url(f"**/isp/orders/{order.pk}/")
    page.wait_for_selector("#order-map[data-ready=true]")
    assert page.get_attribute("[data-order-status]", "data-order-status") == "ready_for_activation"
    chosen = page.eval_on_selector("#id_product", "select => select.value")
    assert chosen == str(order.offering.product_id)

    # a serial with a space is refused on the page; nothing is activated
    page.fill("#id_ont_serial", "ALCL 1234")
    page.click("[data-form=activate] button[type=submit]")
    page.wait_for_selector("[data-error-field=ont_serial]")
    assert "is not an ONT serial" in page.text_content(".messages")
    assert not Service.objects.filter(order=order).exists()

    # the right serial and a C-VLAN: activated, the service page says so
    page.fill("#id_ont_serial", "ALCL12345678")
    page.fill("#id_c_vlan", "100")
    page.screenshot(path=str(ARTIFACTS / "isp-activate.png"), full_page=True)
    page.click("[data-form=activate] button[type=submit]")
    page.wait_for_url("**/isp/services/*/")
    service = Service.objects.get(order=order)
    assert page.url.endswith(f"/isp/services/{service.pk}/")
    assert page.get_attribute("[data-service-status]", "data-service-status") == "active"
    assert page.text_content("[data-fact=ont]").strip() == "ALCL12345678"
    assert f"Service {service.reference} is active" in page.text_content(".messages")
    page.screenshot(path=str(ARTIFACTS / "isp-service.png"), full_page=True)

    order.refresh_from_db()
    order.address.refresh_from_db()
    assert (service.status, service.c_vlan) == (ServiceStatus.ACTIVE, 100)
    assert order.status == OrderStatus.ACTIVE
    assert order.address.status == AddressStatus.ACTIVATED

    # back on the dashboard: nothing waits any more, this week's bar counts it
    page.click(".isp-nav a[href='/isp/']")
    page.wait_for_url("**/isp/")
    assert page.locator("[data-ready-list] li[data-order]").count() == 0
    last_week = page.locator("[data-chart=activations] g").last
    assert last_week.get_attribute("data-count") == "1"

    assert page.js_errors == []
    assert page.outside_requests == []


def test_every_portal_page_fits_a_phone(browser, live_server, ready):
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True
    )
    try:
        page = _watched(context.new_page())
        _sign_in(page)
        order = ready["order"]
        for path in [
            "/isp/",
            "/isp/orders/",
            f"/isp/orders/{order.pk}/",
            "/isp/services/",
            "/isp/customers/",
            "/isp/notifications/",
            "/isp/webhooks/",
            "/isp/settings/",
            "/isp/catalog/",
            f"/isp/network/?address={order.address_id}",
        ]:
            page.goto(path)
            page.wait_for_load_state("load")
            _fits(page)
        page.goto(f"/isp/orders/{order.pk}/")
        page.screenshot(path=str(ARTIFACTS / "isp-order-phone.png"), full_page=True)
        assert page.js_errors == []
        assert page.outside_requests == []
    finally:
        context.close()
