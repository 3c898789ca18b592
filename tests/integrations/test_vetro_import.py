"""The VETRO pull over real HTTP from the simulator: full, incremental, idempotent,
resumable, every failure mode of the simulator (retried or resumed, nothing lost or
doubled), and the field's progress moving the address lifecycle."""

from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from gis_core.lifecycle import AddressStatus
from gis_core.models import Address, ExternalReference
from gis_core.services import address_await_deployment, address_start_deployment
from integrations.iqgeo.models import SyncRun
from integrations.vetro.importer import sync_vetro
from tests.integrations.vetro_fixtures import (
    town_seed,
    vetro_server,  # noqa: F401  (the fixture "vetro")
)

pytestmark = pytest.mark.django_db


def _references() -> list[str]:
    return sorted(
        ExternalReference.objects.filter(system="vetro").values_list("external_id", flat=True)
    )


def _address(vetro_id: str) -> Address:
    return Address.objects.get(external_refs__system="vetro", external_refs__external_id=vetro_id)


def test_full_import_of_the_demo_town_then_a_rerun_changes_nothing(vetro, settings):
    seed = town_seed()
    sim = vetro(seed)
    settings.VETRO_PAGE_SIZE = 500

    run = sync_vetro(full=True)

    assert run.status == "succeeded" and run.mode == "full" and run.system == "vetro"
    assert (run.fetched, run.created, run.updated, run.rejected) == (3006, 3006, 0, 0)
    assert Address.objects.count() == 3006 == len(_references())
    assert _references() == sorted(f["vetro_id"] for f in sim.features)
    first = _address(sim.features[0]["vetro_id"])
    assert (first.street, first.house_number, first.postcode, first.country) == (
        "Föhrer Straße",
        "10",
        "13353",
        "DE",
    )
    assert first.location.coords == pytest.approx(tuple(sim.features[0]["geometry"]["coordinates"]))
    assert ("GET", "/v2/layers", 200) in sim.log  # the layer found by its label

    again = sync_vetro(full=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3006)


def test_only_the_configured_plans_are_read(vetro, settings):
    sim = vetro(town_seed(40))
    settings.VETRO_PLAN_IDS = [1]
    settings.VETRO_LAYER_ID = "7"

    run = sync_vetro(full=True)

    west = sorted(f["vetro_id"] for f in sim.features if f["plan_id"] == 1)
    assert 0 < len(west) < 40 and _references() == west and run.created == len(west)
    assert not any(path == "/v2/layers" for _, path, _ in sim.log)  # the layer id is set


def test_incremental_run_fetches_only_the_changed_service_locations(vetro, settings):
    sim = vetro(town_seed(25))
    settings.VETRO_EXTRA_PROPERTIES = ["Drop Type"]
    sync_vetro(full=True)
    ids = [f["vetro_id"] for f in sim.features]
    kept = _address(ids[1])
    Address.objects.filter(pk=kept.pk).update(premises_type="mdu_flat", units=6)
    for vetro_id in ids[1:4]:
        sim.update(vetro_id, Street="Umbenannte Straße")
    sim.update(ids[4], Drop_Type="Aerial")
    new_id = sim.add(
        {"type": "Point", "coordinates": [13.34, 52.55]}, {"Street": "Neu", "House Number": "1"}
    )

    run = sync_vetro()

    assert run.mode == "incremental" and run.changed_since
    assert (run.created, run.updated) == (1, 4)
    assert run.fetched <= 6  # the 5 changed (and one at the previous high-water mark)
    kept.refresh_from_db()
    assert kept.street == "Umbenannte Straße"  # VETRO wins for address fields
    assert (kept.premises_type, kept.units) == ("mdu_flat", 6)  # oanm keeps its own
    assert _address(ids[4]).attributes == {"Drop Type": "Aerial"}
    assert new_id in _references() and len(_references()) == 26
    assert sync_vetro().updated == 0  # nothing changed since: nothing written


@pytest.mark.parametrize(
    ("mode", "count"), [("error", 3), ("throttle", 2), ("timeout", 1), ("malformed", 2)]
)
def test_transient_failures_are_retried_and_nothing_is_lost_or_doubled(vetro, mode, count):
    sim = vetro(town_seed(25))
    sim.fail(mode, count, after=2)  # the layers and the first page go through

    run = sync_vetro(full=True)

    assert run.status == "succeeded", run.errors
    assert (run.fetched, run.created) == (25, 25)
    assert _references() == sorted(f["vetro_id"] for f in sim.features)
    assert Address.objects.count() == 25


def test_an_unsuccessful_answer_fails_the_run_clearly_and_the_next_run_resumes(vetro):
    sim = vetro(town_seed(25))
    sim.fail("unsuccessful", 1, after=2)

    failed = sync_vetro(full=True)

    assert failed.status == "failed"
    assert failed.errors == [
        "VETRO answered success=false to GET /v2/features/7: simulated refusal"
    ]
    assert (failed.next_offset, failed.created) == (10, 10)

    resumed = sync_vetro(full=True)

    assert resumed.pk == failed.pk and resumed.status == "succeeded"
    assert (resumed.fetched, resumed.created, resumed.resumed) == (25, 25, 1)
    assert len(_references()) == 25 == Address.objects.count()


def test_an_expired_token_fails_the_run_and_a_renewed_one_resumes_it(vetro, settings):
    sim = vetro(town_seed(25))
    sim.fail("expire", 1, after=3)  # layers and two pages, then the token expires

    failed = sync_vetro(full=True)

    assert failed.status == "failed" and failed.next_offset == 20
    assert "VETRO refused the token (401: token expired)" in failed.errors[-1]
    assert "set a valid VETRO_TOKEN" in failed.errors[-1]
    assert sync_vetro(full=True).status == "failed"  # still expired: still refused

    requests.post(f"{settings.VETRO_BASE_URL}/_sim/renew", timeout=2)
    settings.VETRO_TOKEN = sim.token
    sim.log.clear()

    resumed = sync_vetro(full=True)

    assert resumed.pk == failed.pk and resumed.status == "succeeded" and resumed.resumed == 2
    assert (resumed.fetched, resumed.created) == (25, 25)
    assert ("GET", "/v2/features/7?limit=10&offset=20", 200) in sim.log
    assert not any("offset=0" in path for _, path, _ in sim.log)
    assert len(_references()) == 25 == Address.objects.count()


def test_a_page_that_shifts_mid_paging_is_scanned_again_and_nothing_is_missed(vetro):
    sim = vetro(town_seed(25))
    sim.fail("shift", 1, after=2)  # a service location appears at the front before page 2

    run = sync_vetro(full=True)

    assert run.status == "succeeded" and run.errors == []
    assert run.created == 26 and len(_references()) == 26
    assert run.fetched == 26  # the rescan skipped every feature already seen


def test_a_run_killed_mid_paging_resumes_from_its_offset(vetro):
    sim = vetro(town_seed(25))
    sim.fail("error", 100, after=3)  # layers, pages 0 and 10; then VETRO is down

    failed = sync_vetro(full=True)

    assert failed.status == "failed" and "failed 4 times" in failed.errors[-1]
    assert (failed.next_offset, failed.created) == (20, 20)
    sim.clear_failures()
    sim.log.clear()

    resumed = sync_vetro(full=True)

    assert resumed.pk == failed.pk and resumed.resumed == 1
    assert resumed.status == "succeeded" and (resumed.created, resumed.fetched) == (25, 25)
    assert not any("offset=0" in path for _, path, _ in sim.log)
    assert len(_references()) == 25 == Address.objects.count()


def test_drop_installed_in_vetro_connects_the_address_when_the_lifecycle_allows(vetro):
    sim = vetro(town_seed(6))
    sync_vetro(full=True)
    ids = [f["vetro_id"] for f in sim.features]
    building = _address(ids[0])
    address_start_deployment(address=address_await_deployment(address=building))
    queued = address_await_deployment(address=_address(ids[1]))
    for vetro_id in ids[:3]:  # in deployment, awaiting deployment, planned
        sim.update(vetro_id, Drop_Installed="Yes")
    sim.update(ids[3], ONT_Installed="Yes")  # planned too

    run = sync_vetro()

    assert run.status == "succeeded" and run.rejected == 0
    building.refresh_from_db()
    assert building.status == AddressStatus.CONNECTED
    change = building.status_history.order_by("-changed_at", "-id").first()
    assert change.reason == f"VETRO: drop installed ({ids[0]})" and change.actor is None
    assert _address(ids[1]).status == AddressStatus.AWAITING_DEPLOYMENT == queued.status
    assert _address(ids[2]).status == AddressStatus.PLANNED
    reasons = dict(run.rejections)
    assert {vetro_id: reason.split(",")[0] for vetro_id, reason in reasons.items()} == {
        ids[1]: "lifecycle: VETRO has the drop installed",
        ids[2]: "lifecycle: VETRO has the drop installed",
        ids[3]: "lifecycle: VETRO has the ONT installed",
    }
    assert "is awaiting_deployment in oanm" in reasons[ids[1]]
    assert "is planned in oanm (only an address in deployment can be connected)" in reasons[ids[2]]

    again = sync_vetro(full=True)  # already connected: nothing to do, nothing recorded for it
    assert again.status == "succeeded"
    assert ids[0] not in [vetro_id for vetro_id, _ in again.rejections]
    assert building.status_history.filter(to_status=AddressStatus.CONNECTED).count() == 1


def test_the_command_prints_a_summary_and_fails_clearly(vetro, settings):
    vetro(town_seed(12))
    out, err = StringIO(), StringIO()
    call_command("sync", "vetro", "--full", stdout=out, stderr=err)
    assert "vetro: 100%" in err.getvalue() and "12/12" in err.getvalue()  # the progress bar
    assert "VETRO full run" in out.getvalue()
    assert "fetched 12, created 12, updated 0, unchanged 0, rejected 0" in out.getvalue()

    settings.VETRO_TOKEN = "wrong"
    with pytest.raises(CommandError, match="VETRO refused the token"):
        call_command("sync", "vetro", "--full", "--no-progress", stdout=StringIO())
    assert SyncRun.objects.filter(system="vetro", status="failed").count() == 1

    settings.VETRO_LAYER_LABEL = "Drops"
    settings.VETRO_TOKEN = "vetro-test-token"
    with pytest.raises(CommandError, match="no layer labelled 'Drops'"):
        call_command("sync", "vetro", "--full", "--no-progress", stdout=StringIO())

    settings.USE_VETRO = False
    with pytest.raises(CommandError, match="VETRO sync is off"):
        call_command("sync", "vetro", stdout=StringIO())


def test_failures_can_be_switched_on_over_http(vetro, settings):
    sim = vetro(town_seed(5))
    url = f"{settings.VETRO_BASE_URL}/_sim/fail"
    assert requests.post(url, json={"mode": "sideways"}, timeout=2).status_code == 400
    assert requests.post(url, json={"mode": "error", "count": 2}, timeout=2).status_code == 200

    run = sync_vetro(full=True)

    assert run.status == "succeeded" and run.created == 5
    assert [status for _, _, status in sim.log if status == 500] == [500, 500]


def test_the_simulator_speaks_vetros_shape(vetro, settings):
    sim = vetro(town_seed(3))
    base, token = settings.VETRO_BASE_URL, {"token": sim.token}
    assert requests.get(f"{base}/v2/plans", timeout=2).json() == {
        "success": False,
        "message": "invalid or missing token",
    }
    plans = requests.get(f"{base}/v2/plans", headers=token, timeout=2).json()
    assert plans["success"] is True and [p["id"] for p in plans["result"]] == [1, 2]
    export = requests.get(f"{base}/v2/export/plan/1/geojson", headers=token, timeout=2).json()
    assert all(f["x-vetro"]["plan_id"] == 1 for f in export["result"]["features"])
    created = requests.post(
        f"{base}/v2/features",
        headers=token,
        json=[
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [13.35, 52.55]},
                "properties": {"Street": "Seestraße"},
                "x-vetro": {"layer_id": 7, "plan_id": 2},
            }
        ],
        timeout=2,
    ).json()
    assert created["success"] and len(sim.features) == 4
    refused = requests.patch(
        f"{base}/v2/features", headers=token, json=[{"x-vetro": {"vetro_id": "nope"}}], timeout=2
    )
    assert refused.status_code == 404 and refused.json()["success"] is False


def test_the_beat_pulls_vetro_incrementally_and_in_full(vetro, settings):
    from django.conf import settings as conf

    from integrations.tasks import sync_run_task

    vetro(town_seed(4))
    schedule = conf.CELERY_BEAT_SCHEDULE
    pull, full = schedule["vetro-sync-incremental"], schedule["vetro-sync-full"]
    assert pull["task"] == full["task"] == sync_run_task.name
    assert (pull["args"], pull["kwargs"], full["args"], full["kwargs"]) == (
        ("vetro",),
        {"full": False},
        ("vetro",),
        {"full": True},
    )

    run = SyncRun.objects.get(pk=sync_run_task(*full["args"], **full["kwargs"]))
    assert (run.system, run.mode, run.created) == ("vetro", "full", 4)
    incremental = sync_run_task(*pull["args"], **pull["kwargs"])
    assert SyncRun.objects.get(pk=incremental).mode == "incremental"

    settings.USE_VETRO = False
    assert sync_run_task("vetro") is None


def test_the_integrations_registry_describes_vetros_schedule():
    from integrations.registry import sync_system

    vetro = sync_system("vetro")
    assert vetro.load() is sync_vetro
    assert vetro.schedule_text == (
        "an incremental pull every 5 minutes and a full reconciliation daily at 4:40 (beat)"
    )
