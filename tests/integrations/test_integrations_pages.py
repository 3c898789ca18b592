"""The operators' integrations pages (/integrations/): who gets in, what a real run against
the IQGeo simulator shows (overview, progress, runs, rejections), starting a run, the
write-back backlog, and bad input answered without a 500."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create
from common.models import DomainEvent, OutboxMessage, OutboxStatus
from gis_core.models import Address
from gis_core.services import address_update
from integrations.iqgeo.importer import sync_iqgeo
from integrations.iqgeo.models import SyncRun
from integrations.models import SyncConflict
from integrations.registry import SYSTEMS, SyncSystem
from integrations.runs import sync_run
from integrations.safety import conflicts_record, sync_lock
from integrations.tasks import sync_run_task
from tests.integrations.iqgeo_fixtures import (
    iqgeo_server,  # noqa: F401  (the fixture "iqgeo")
    town_seed,
)

pytestmark = pytest.mark.django_db

PAGES = [
    "/integrations/",
    "/integrations/runs/",
    "/integrations/iqgeo/status/",
    "/integrations/conflicts/",
]


@pytest.fixture
def run(iqgeo):
    """A real full run from the simulator: 25 features of the demo town and one without a
    street (rejected with its reason)."""
    simulator = iqgeo(town_seed(25))
    simulator.add({"type": "Point", "coordinates": [13.35, 52.55]}, {"streetNr": "7"})
    return sync_iqgeo(full=True)


@pytest.fixture
def operator_client(client, planner):
    client.force_login(planner)
    return client


def _refused_users(owner) -> dict[str, object]:
    isp = organisation_create(name="Fiber ISP", kind=OrganisationKind.ISP)
    contractor = organisation_create(name="Digging Co", kind=OrganisationKind.CONTRACTOR)
    return {
        "finance": user_create(username="fin", organisation=owner, role=Role.FINANCE),
        "dispatcher": user_create(username="disp", organisation=owner, role=Role.DISPATCHER),
        "technician": user_create(username="tech", organisation=owner, role=Role.TECHNICIAN),
        "isp user": user_create(username="isp", organisation=isp, role=Role.ISP_USER),
        "contractor": user_create(
            username="dig", organisation=contractor, role=Role.CONTRACTOR_TECHNICIAN
        ),
    }


def test_only_operator_admins_and_planners_get_in(client, owner, planner, run):
    pages = [*PAGES, f"/integrations/runs/{run.pk}/"]
    conflict = SyncConflict.objects.create(
        system="iqgeo", external_id="1", field="street", winner="remote", detected_at=run.started_at
    )
    posts = ["/integrations/iqgeo/sync/", f"/integrations/conflicts/{conflict.pk}/resolve/"]
    for name, user in _refused_users(owner).items():
        client.force_login(user)
        for path in pages:
            assert client.get(path).status_code == 403, (name, path)
        for path in [
            "/integrations/iqgeo/sync/",
            f"/integrations/conflicts/{conflict.pk}/resolve/",
        ]:
            assert client.post(path, {"full": "1"}).status_code == 403, (name, path)
    client.logout()
    posts = ["/integrations/iqgeo/sync/", f"/integrations/conflicts/{conflict.pk}/resolve/"]
    for path in [*pages, *posts]:
        response = client.post(path) if path in posts else client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"], path
    assert SyncRun.objects.count() == 1  # nobody refused started or changed anything
    conflict.refresh_from_db()
    assert conflict.resolved_at is None

    admin = user_create(username="boss", organisation=owner, role=Role.OPERATOR_ADMIN)
    for user in (planner, admin):
        client.force_login(user)
        for path in pages:
            assert client.get(path).status_code == 200, (user.role, path)


def test_the_navigation_links_the_page_for_operators_only(client, owner, planner):
    client.force_login(planner)
    link = '<a href="/integrations/" aria-current="page">Integrations</a>'
    assert link in client.get("/integrations/").content.decode()
    finance = user_create(username="fin", organisation=owner, role=Role.FINANCE)
    client.force_login(finance)
    assert 'href="/integrations/"' not in client.get("/billing/").content.decode()


def test_the_overview_shows_the_last_run_with_its_counts(operator_client, run):
    assert (run.status, run.fetched, run.created, run.rejected) == ("succeeded", 26, 25, 1)

    page = operator_client.get("/integrations/")

    html = page.content.decode()
    card = html[html.index('id="system-iqgeo"') : html.index('id="system-vetro"')]
    assert 'data-enabled="yes"' in card and django_settings.IQGEO_BASE_URL in card
    assert f'data-run="{run.pk}" data-status="succeeded"' in card
    assert f'<a href="/integrations/runs/{run.pk}/">Run {run.pk}</a>' in card
    assert '<dd data-count="created">25</dd>' in card
    assert '<dd data-count="rejected">1</dd>' in card
    assert "fetched 26 of 26" in card
    assert 'id="chart-iqgeo"' in card  # the recent runs' chart
    assert "an incremental pull every 15 minutes" in card
    assert "Nothing waiting" in card  # no write-back backlog
    assert page.context["charts"]["iqgeo"][0]["created"] == 25
    assert '<section class="card system-card" id="system-vetro"' in html
    vetro = html[html.index('id="system-vetro"') :]
    assert 'data-enabled="no"' in vetro and "Not syncing:" in vetro
    assert 'href="/ogc/"' in html and "/api/sync/changes" in html


def test_the_runs_list_and_a_run_with_its_rejection_and_reason(operator_client, run):
    listing = operator_client.get("/integrations/runs/?system=iqgeo")
    assert f'<tr data-run="{run.pk}">' in listing.content.decode()

    detail = operator_client.get(f"/integrations/runs/{run.pk}/").content.decode()

    assert "missing street (streetName)" in detail
    assert "Rejected features (1)" in detail
    assert '<dd data-count="unchanged">0</dd>' in detail


def test_the_runs_list_pages_and_filters(operator_client, iqgeo):
    iqgeo(town_seed(3))
    for _ in range(27):
        sync_iqgeo(full=True)

    first = operator_client.get("/integrations/runs/").content.decode()
    second = operator_client.get("/integrations/runs/?page=2").content.decode()

    assert first.count("<tr data-run=") == 25 and second.count("<tr data-run=") == 2
    assert "1 / 2" in first and 'rel="next"' in first
    empty = operator_client.get("/integrations/runs/?system=vetro").content.decode()
    assert "No sync run yet." in empty


def test_the_status_endpoint_follows_a_running_run_page_by_page(operator_client, iqgeo):
    iqgeo(town_seed(25))  # pages of 10
    seen = []

    def progress(fetched: int, total: int) -> None:
        seen.append(operator_client.get("/integrations/iqgeo/status/").json())

    run = sync_iqgeo(full=True, progress=progress)

    assert [(s["state"], s["run"]["fetched"], s["run"]["total"]) for s in seen] == [
        ("running", 10, 25),
        ("running", 20, 25),
        ("running", 25, 25),
    ]
    assert seen[0]["run"]["percent"] == 40 and seen[0]["run"]["id"] == run.pk
    done = operator_client.get("/integrations/iqgeo/status/").json()
    assert done["state"] == "finished" and done["run"]["created"] == 25


def test_sync_now_starts_the_task_after_commit_and_its_run_is_shown(
    operator_client, iqgeo, django_capture_on_commit_callbacks
):
    iqgeo(town_seed(12))
    before = operator_client.get("/integrations/iqgeo/status/").json()
    assert before == {"system": "iqgeo", "state": "waiting", "run": None}

    with django_capture_on_commit_callbacks() as callbacks:
        response = operator_client.post("/integrations/iqgeo/sync/", {"full": "0"})

    assert response.status_code == 302 and len(callbacks) == 1
    location = response["Location"]
    assert location.startswith("/integrations/?watch=iqgeo&since=")
    watching = operator_client.get(location)
    assert "A sync with IQGeo has started: what changed" in watching.content.decode()
    since = watching.context["cards"][0]["since"]
    assert watching.context["cards"][0]["watch"] and since
    waiting = operator_client.get("/integrations/iqgeo/status/", {"since": since}).json()
    assert waiting["state"] == "waiting"

    # what the worker does with the queued task (the task, called in this process)
    run_id = sync_run_task("iqgeo", False)

    status = operator_client.get("/integrations/iqgeo/status/", {"since": since}).json()
    assert status["state"] == "finished" and status["run"]["id"] == run_id
    assert (status["run"]["mode"], status["run"]["created"]) == ("full", 12)  # no cursor yet
    again = sync_run_task("iqgeo", True)
    assert SyncRun.objects.get(pk=again).mode == "full"


def test_a_system_switched_off_is_explained_and_not_started(
    operator_client, settings, django_capture_on_commit_callbacks
):
    settings.USE_IQGEO = False
    settings.IQGEO_BASE_URL = "http://127.0.0.1:9"

    page = operator_client.get("/integrations/").content.decode()
    assert "Not syncing: USE_IQGEO is off." in page
    with django_capture_on_commit_callbacks() as callbacks:
        response = operator_client.post("/integrations/iqgeo/sync/", {"full": "1"}, follow=True)
        vetro = operator_client.post("/integrations/vetro/sync/", follow=True)

    assert callbacks == []
    assert "IQGeo cannot be synced: USE_IQGEO is off" in response.content.decode()
    assert "VETRO FiberMap cannot be synced" in vetro.content.decode()
    assert sync_run(system="iqgeo") is None and sync_run_task("iqgeo", False) is None
    assert SyncRun.objects.count() == 0


def test_the_write_back_backlog_shows_what_waits_for_the_system(operator_client):
    event = DomainEvent.objects.create(topic="service.activated", payload={"service_id": 1})
    OutboxMessage.objects.create(
        event=event,
        handler="integrations.iqgeo.writeback",
        attempts=3,
        last_error="IQGeo unavailable: 503 Service Unavailable",
    )
    second = DomainEvent.objects.create(topic="service.deactivated", payload={"service_id": 1})
    OutboxMessage.objects.create(
        event=second, handler="integrations.iqgeo.writeback", status=OutboxStatus.DEAD
    )
    OutboxMessage.objects.create(
        event=second, handler="integrations.provisioning.provision_ont", attempts=9
    )

    html = operator_client.get("/integrations/").content.decode()

    card = html[html.index('id="system-iqgeo"') : html.index('id="system-vetro"')]
    assert 'data-pending="1" data-dead="1"' in card
    assert "after 3 attempts): IQGeo unavailable: 503 Service Unavailable" in card
    vetro = html[html.index('id="system-vetro"') :]
    assert 'data-pending="0" data-dead="0"' in vetro


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("post", "/integrations/nowhere/sync/", 404),
        ("get", "/integrations/nowhere/status/", 404),
        ("get", "/integrations/iqgeo/status/?since=yesterday", 400),
        ("get", "/integrations/iqgeo/status/?since=2026-12-06T10:00:00", 400),
        ("get", "/integrations/runs/999999/", 404),
        ("get", "/integrations/runs/?page=x", 200),
        ("get", "/integrations/runs/?system=nowhere", 200),
        ("get", "/integrations/?watch=iqgeo&since=nonsense", 200),
        ("get", "/integrations/iqgeo/sync/", 405),
        ("post", "/integrations/", 405),
        ("get", "/integrations/conflicts/?state=maybe&system=nowhere&run=x&page=9", 200),
        ("post", "/integrations/conflicts/999999/resolve/", 404),
        ("get", "/integrations/conflicts/1/resolve/", 405),
    ],
)
def test_bad_input_gets_a_clear_answer_never_a_500(operator_client, method, path, status):
    response = getattr(operator_client, method)(path)
    assert response.status_code == status
    if path.startswith("/integrations/iqgeo/status/"):
        assert response.json()["field"] == "since"


def test_the_beat_pulls_iqgeo_incrementally_on_the_configured_interval():
    entry = django_settings.CELERY_BEAT_SCHEDULE["iqgeo-sync-incremental"]
    assert entry["task"] == sync_run_task.name == "integrations.tasks.sync_run_task"
    assert entry["args"] == ("iqgeo",) and entry["kwargs"] == {"full": False}
    assert entry["schedule"] == 60.0 * django_settings.IQGEO_SYNC_MINUTES
    full = django_settings.CELERY_BEAT_SCHEDULE["iqgeo-sync-full"]
    assert full["task"] == sync_run_task.name
    assert full["args"] == ("iqgeo",) and full["kwargs"] == {"full": True}
    assert full["schedule"].hour == {django_settings.IQGEO_FULL_SYNC_HOUR}


def test_a_system_whose_package_is_missing_is_not_installed_and_the_others_still_run():
    missing = SyncSystem(
        key="nowhere",
        label="Nowhere GIS",
        importer="integrations.nowhere.importer.sync_nowhere",
        enabled_setting="USE_NOWHERE",
        base_url_setting="NOWHERE_BASE_URL",
        docs="docs/nowhere.md",
        schedule="never",
    )
    assert missing.load() is None
    assert missing.unavailable_reason() == (
        "the Nowhere GIS integration is not installed in this version of oanm"
    )
    assert SYSTEMS["iqgeo"].load() is sync_iqgeo


def _feature_address(feature_id: int) -> Address:
    return Address.objects.get(
        external_refs__system="iqgeo", external_refs__external_id=str(feature_id)
    )


def test_a_conflict_of_a_real_run_is_listed_and_marked_resolved(operator_client, iqgeo, planner):
    simulator = iqgeo(town_seed(6))
    sync_iqgeo(full=True)
    address_update(address=_feature_address(2), street="Lokale Straße")
    simulator.update(2, streetName="Neue Straße")
    run = sync_iqgeo()
    assert run.conflicts == 1

    overview = operator_client.get("/integrations/").content.decode()
    assert 'data-open="1"' in overview and "1</a>" in overview
    listing = operator_client.get("/integrations/conflicts/?system=iqgeo")
    html = listing.content.decode()
    conflict = SyncConflict.objects.get()
    assert f'<tr data-conflict="{conflict.pk}">' in html
    assert "Lokale Straße" in html and "Neue Straße" in html and "the GIS's" in html
    detail = operator_client.get(f"/integrations/runs/{run.pk}/").content.decode()
    assert f"?state=all&amp;run={run.pk}" in detail

    response = operator_client.post(
        f"/integrations/conflicts/{conflict.pk}/resolve/",
        {"note": "  street renamed in IQGeo, right  ", "next": "/integrations/conflicts/"},
        follow=True,
    )

    assert "Conflict on street of feature 2 resolved." in response.content.decode()
    conflict.refresh_from_db()
    assert conflict.resolved_by == planner and conflict.note == "street renamed in IQGeo, right"
    assert "No open conflict." in response.content.decode()
    resolved = operator_client.get("/integrations/conflicts/?state=resolved").content.decode()
    assert f'<tr data-conflict="{conflict.pk}">' in resolved
    again = operator_client.post(
        f"/integrations/conflicts/{conflict.pk}/resolve/",
        {"note": "twice", "next": "https://elsewhere.example/"},
    )
    assert again.status_code == 302 and again["Location"] == "/integrations/conflicts/"
    conflict.refresh_from_db()
    assert conflict.note == "street renamed in IQGeo, right"  # the second resolve changed nothing


def test_sync_now_while_a_run_holds_the_lock_starts_nothing_and_shows_that_run(
    operator_client, iqgeo, django_capture_on_commit_callbacks
):
    iqgeo(town_seed(3))
    with sync_lock("iqgeo"):
        with django_capture_on_commit_callbacks() as callbacks:
            response = operator_client.post("/integrations/iqgeo/sync/", follow=True)
        assert sync_run(system="iqgeo") is None  # a worker's task is skipped too

    assert callbacks == [] and SyncRun.objects.count() == 0
    assert "A sync of IQGeo is already running" in response.content.decode()


def test_a_run_left_running_by_a_killed_process_is_shown_as_interrupted(operator_client, iqgeo):
    iqgeo(town_seed(3))
    run = sync_iqgeo(full=True)
    SyncRun.objects.filter(pk=run.pk).update(status="running", next_offset=10)  # killed

    status = operator_client.get("/integrations/iqgeo/status/").json()
    page = operator_client.get("/integrations/").content.decode()
    detail = operator_client.get(f"/integrations/runs/{run.pk}/").content.decode()

    assert status["state"] == "interrupted" and status["run"]["id"] == run.pk
    assert ">interrupted</span>" in page
    assert '<div class="sync-progress" hidden data-system="iqgeo"' in page  # nothing to follow
    assert "the next full run resumes it at offset 10" in detail


def test_the_pages_read_in_a_fixed_number_of_statements(
    operator_client, django_assert_max_num_queries
):
    now = timezone.now()
    runs = SyncRun.objects.bulk_create(
        SyncRun(system=system, mode="full", status="succeeded", started_at=now, finished_at=now)
        for system in ("iqgeo", "vetro")
        for _ in range(30)
    )
    rows = [
        {"external_id": str(n), "field": "street", "oanm_value": "A", "remote_value": "B"}
        for n in range(30)
    ]
    conflicts_record(system="iqgeo", rows=rows, run=runs[0])
    operator_client.get("/integrations/")  # the session and user are cached from here on

    for path, statements in [
        ("/integrations/", 10),  # the user, open conflicts, then 4 per system
        ("/integrations/runs/", 3),
        ("/integrations/conflicts/", 3),
        (f"/integrations/runs/{runs[0].pk}/", 2),
    ]:
        with django_assert_max_num_queries(statements):
            assert operator_client.get(path).status_code == 200
