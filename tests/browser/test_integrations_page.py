"""The integrations page in a real Chromium with a real Celery worker: a planner clicks
"Sync now", the run starts on the worker against the IQGeo simulator, the progress bar shows
the features fetched so far (the simulator holds its second page until the test has seen
the first one counted), then the page shows the finished run with its counts."""

import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection

from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create
from integrations.iqgeo.models import SyncRun
from tests.celery_worker import celery_worker_process
from tests.integrations.iqgeo_fixtures import (
    iqgeo_server,  # noqa: F401  (the fixture "iqgeo")
    town_seed,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
FEATURES = 35  # four pages of 10


def _hold_the_second_page(simulator) -> threading.Event:
    """The simulator answers the page at offset 10 only once the returned event is set
    (bounded, so a failing test never hangs)."""
    release = threading.Event()
    answer = simulator.handle

    def handle(method, target, headers, body):
        if parse_qs(urlsplit(target).query).get("offset") == ["10"]:
            release.wait(timeout=8)
        return answer(method, target, headers, body)

    simulator.handle = handle
    return release


def test_sync_now_shows_the_progress_then_the_finished_run(page, iqgeo, settings, monkeypatch):
    owner = organisation_create(name="Wedding Fibre Netz", kind=OrganisationKind.OWNER)
    user_create(username="gis", organisation=owner, role=Role.PLANNER, password="gis-pass-123")
    simulator = iqgeo(town_seed(FEATURES))
    release = _hold_the_second_page(simulator)
    for name, value in {
        "USE_IQGEO": "1",
        "IQGEO_BASE_URL": settings.IQGEO_BASE_URL,
        "IQGEO_USER": settings.IQGEO_USER,
        "IQGEO_PASSWORD": settings.IQGEO_PASSWORD,
        "IQGEO_PAGE_SIZE": "10",
    }.items():
        monkeypatch.setenv(name, value)  # the worker's settings come from its environment

    with celery_worker_process(database_name=connection.settings_dict["NAME"]):
        page.goto("/integrations/")
        page.wait_for_url("**/accounts/login/?next=/integrations/")
        page.fill("#id_username", "gis")
        page.fill("#id_password", "gis-pass-123")
        page.click("button[type=submit]")
        page.wait_for_url("**/integrations/")
        card = page.locator("#system-iqgeo")
        assert card.locator(".last-run").get_attribute("data-status") == "none"
        assert card.locator(".sync-progress").is_hidden()

        card.get_by_role("button", name="Sync now").click()

        page.wait_for_url("**/integrations/?watch=iqgeo&since=*")
        progress = card.locator(".sync-progress")
        assert progress.is_visible()
        text = progress.locator(".sync-progress-text")
        text.filter(has_text=f"fetched 10 of {FEATURES} features (29%)").wait_for()
        bar = progress.locator("progress")
        assert bar.evaluate("bar => [bar.value, bar.max]") == [10, FEATURES]
        assert progress.get_attribute("data-state") == "running"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "integrations-progress.png"), full_page=True)

        release.set()  # the run goes on; the page shows it once it has finished
        card.locator(".last-run[data-status='succeeded']").wait_for(timeout=20_000)

    run = SyncRun.objects.get()
    assert (run.status, run.fetched, run.created) == ("succeeded", FEATURES, FEATURES)
    assert card.locator(".sync-progress").is_hidden()
    assert card.locator("[data-count='created']").inner_text() == str(FEATURES)
    assert card.locator(f"a[href='/integrations/runs/{run.pk}/']").inner_text() == f"Run {run.pk}"
    assert page.evaluate("Chart.getChart('chart-iqgeo').data.datasets.length") == 4
    page.screenshot(path=str(ARTIFACTS / "integrations-finished.png"), full_page=True)
    assert page.js_errors == [] and page.outside_requests == []
