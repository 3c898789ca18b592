"""The IQGeo import over real HTTP from the simulator: full, incremental, idempotent,
resumable, and every failure mode of the simulator (retried, nothing lost or doubled)."""

from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from gis_core.models import Address, ExternalReference
from integrations.iqgeo.importer import sync_iqgeo
from integrations.iqgeo.models import SyncRun
from tests.integrations.iqgeo_fixtures import (
    iqgeo_server,  # noqa: F401  (the fixture "iqgeo")
    town_seed,
)

pytestmark = pytest.mark.django_db


def _references() -> list[str]:
    return sorted(
        ExternalReference.objects.filter(system="iqgeo").values_list("external_id", flat=True)
    )


def test_full_import_of_the_demo_town_then_a_rerun_changes_nothing(iqgeo, settings):
    seed = town_seed()
    sim = iqgeo(seed)
    settings.IQGEO_PAGE_SIZE = 500
    valid = sum(
        1 for f in seed if f["geometry"]["type"] == "Point" and f["properties"]["streetName"]
    )

    run = sync_iqgeo(full=True)

    assert run.status == "succeeded" and run.mode == "full"
    assert (run.fetched, run.created, run.updated, run.rejected) == (len(seed), valid, 0, 0)
    assert Address.objects.count() == valid == len(_references()) == 3006
    first = Address.objects.get(external_refs__system="iqgeo", external_refs__external_id="1")
    assert (first.street, first.house_number, first.postcode) == ("Föhrer Straße", "10", "13353")
    assert first.location.coords == pytest.approx(tuple(sim.features[0]["geometry"]["coordinates"]))

    again = sync_iqgeo(full=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, valid)


def test_incremental_run_fetches_only_the_changed_features(iqgeo):
    sim = iqgeo(town_seed(25))
    sync_iqgeo(full=True)
    kept = Address.objects.get(external_refs__external_id="2")
    Address.objects.filter(pk=kept.pk).update(premises_type="mdu_flat", units=6)
    for feature_id in (2, 5, 9):
        sim.update(feature_id, streetName="Umbenannte Straße")
    new_id = sim.add(
        {"type": "Point", "coordinates": [13.34, 52.55]}, {"streetName": "Neu", "streetNr": "1"}
    )

    run = sync_iqgeo()

    assert run.mode == "incremental" and run.changed_since
    assert (run.created, run.updated) == (1, 3)
    assert run.fetched <= 5  # the 4 changed (and the last one at the previous high-water mark)
    kept.refresh_from_db()
    assert kept.street == "Umbenannte Straße"  # IQGeo wins for address fields
    assert (kept.premises_type, kept.units) == ("mdu_flat", 6)  # oanm keeps its own
    assert str(new_id) in _references() and len(_references()) == 26
    assert sync_iqgeo().updated == 0  # nothing changed since: nothing written


@pytest.mark.parametrize(
    ("mode", "count"), [("error", 3), ("timeout", 1), ("malformed", 2), ("expire", 1)]
)
def test_each_failure_mode_is_retried_and_nothing_is_lost_or_doubled(iqgeo, mode, count):
    sim = iqgeo(town_seed(25))
    sim.fail(mode, count, after=2)  # the login and the first page go through

    run = sync_iqgeo(full=True)

    assert run.status == "succeeded", run.errors
    assert (run.fetched, run.created) == (25, 25)
    assert _references() == sorted(str(n) for n in range(1, 26))
    statuses = [status for _, _, status in sim.log]
    if mode == "expire":
        assert statuses.count(401) == 1 and [p for _, p, _ in sim.log].count("/auth") == 2


def test_a_page_that_shifts_mid_paging_is_scanned_again_and_nothing_is_missed(iqgeo):
    sim = iqgeo(town_seed(25))
    sim.fail("shift", 1, after=2)  # a feature appears at the front before page 2

    run = sync_iqgeo(full=True)

    assert run.status == "succeeded" and run.errors == []
    assert run.created == 26 and len(_references()) == 26
    assert run.fetched == 26  # the rescan skipped every feature already seen


def test_a_run_killed_mid_paging_resumes_from_its_offset(iqgeo):
    sim = iqgeo(town_seed(25))
    sim.fail("error", 100, after=3)  # login, pages 0 and 10; then IQGeo is down

    failed = sync_iqgeo(full=True)

    assert failed.status == "failed" and "failed 4 times" in failed.errors[-1]
    assert (failed.next_offset, failed.created) == (20, 20)
    sim.clear_failures()
    sim.log.clear()

    resumed = sync_iqgeo(full=True)

    assert resumed.pk == failed.pk and resumed.resumed == 1
    assert resumed.status == "succeeded" and (resumed.created, resumed.fetched) == (25, 25)
    assert ("GET", "/feature/address?limit=10&offset=20", 200) in sim.log
    assert not any("offset=0" in path for _, path, _ in sim.log)
    assert len(_references()) == 25 == Address.objects.count()


def test_projected_features_rejections_and_extra_properties(iqgeo, settings):
    seed = town_seed(6)
    seed[3]["geometry"] = {"type": "LineString", "coordinates": [[13.3, 52.5], [13.4, 52.6]]}
    seed[4]["properties"]["streetName"] = ""
    iqgeo(seed, crs=25833)
    settings.IQGEO_EXTRA_PROPERTIES = ["locality"]

    run = sync_iqgeo(full=True)

    assert (run.created, run.rejected) == (4, 2)
    assert run.rejections == [
        ["4", "not a point: expected a Point, got a LineString"],
        ["5", "missing street (streetName)"],
    ]
    first = Address.objects.get(external_refs__external_id="1")
    assert first.location.coords == pytest.approx(
        tuple(seed[0]["geometry"]["coordinates"]), abs=1e-6
    )
    assert first.attributes == {"locality": "Wedding"}


def test_the_command_prints_a_summary_and_fails_clearly(iqgeo, settings):
    iqgeo(town_seed(12))
    out, err = StringIO(), StringIO()
    call_command("sync", "iqgeo", "--full", stdout=out, stderr=err)
    assert "iqgeo: 100%" in err.getvalue() and "12/12" in err.getvalue()  # the progress bar
    assert "IQGeo full run" in out.getvalue()
    assert "fetched 12, created 12, updated 0, unchanged 0, rejected 0" in out.getvalue()

    settings.IQGEO_PASSWORD = "wrong"
    with pytest.raises(CommandError, match="refused the login of user 'oanm'"):
        call_command("sync", "iqgeo", "--full", "--no-progress", stdout=StringIO())
    assert SyncRun.objects.filter(status="failed").count() == 1

    settings.USE_IQGEO = False
    with pytest.raises(CommandError, match="IQGeo sync is off"):
        call_command("sync", "iqgeo", stdout=StringIO())


def test_failures_can_be_switched_on_over_http(iqgeo, settings):
    sim = iqgeo(town_seed(5))
    url = f"{settings.IQGEO_BASE_URL}/_sim/fail"
    assert requests.post(url, json={"mode": "sideways"}, timeout=2).status_code == 400
    assert requests.post(url, json={"mode": "error", "count": 2}, timeout=2).status_code == 200

    run = sync_iqgeo(full=True)

    assert run.status == "succeeded" and run.created == 5
    assert [status for _, _, status in sim.log if status == 500] == [500, 500]
