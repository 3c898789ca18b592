"""The shared sync safety applied to VETRO, over real HTTP from the simulator: one run at a
time, addresses retired when their service location is gone (full runs only) and
reinstated when it comes back, and the conflict log under the ownership rules (VETRO owns
the address fields, oanm the commercial ones, which it pushes back)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from common.outbox import outbox_drain
from gis_core.models import Address
from gis_core.services import address_await_deployment, address_update
from integrations.models import SyncConflict, SyncSeen, SyncState
from integrations.safety import SyncAlreadyRunning, sync_lock
from integrations.tasks import sync_run_task
from integrations.vetro.importer import sync_vetro
from tests.integrations.vetro_fixtures import (
    town_seed,
    vetro_server,  # noqa: F401  (the fixture "vetro")
)

pytestmark = pytest.mark.django_db


def _address(vetro_id: str) -> Address:
    return Address.objects.get(external_refs__system="vetro", external_refs__external_id=vetro_id)


def test_one_run_at_a_time(vetro):
    vetro(town_seed(3))
    with sync_lock("vetro"):
        with pytest.raises(SyncAlreadyRunning):
            sync_vetro(full=True)
        with pytest.raises(CommandError, match="a sync of vetro is already running"):
            call_command("sync", "vetro", "--no-progress", stdout=StringIO())
        assert sync_run_task("vetro", full=True) is None  # the beat's next tick tries again
    assert sync_vetro(full=True).created == 3


def test_a_full_run_retires_what_is_gone_and_a_return_reinstates_it(vetro):
    sim = vetro(town_seed(12))
    sync_vetro(full=True)
    gone = sim.features.pop(4)

    incremental = sync_vetro()
    assert incremental.retired == 0  # only a full run can tell what is gone

    full = sync_vetro(full=True)
    assert (full.status, full.retired) == ("succeeded", 1)
    address = _address(gone["vetro_id"])
    assert address.retired_at is not None and address.retired_reason == "gone from vetro"
    assert Address.objects.filter(retired_at=None).count() == 11  # nothing deleted
    assert not SyncSeen.objects.filter(run=full).exists()

    sim.features.append(gone)
    sim.update(gone["vetro_id"], Street=gone["properties"]["Street"])  # modified again
    back = sync_vetro()
    address.refresh_from_db()
    assert back.retired == 0 and address.retired_at is None


def test_a_full_run_killed_mid_way_retires_only_after_it_has_seen_everything(vetro):
    sim = vetro(town_seed(25))
    sync_vetro(full=True)
    sim.features.pop(0)
    sim.fail("error", 100, after=2)  # layers and the first page, then VETRO is down

    failed = sync_vetro(full=True)
    assert failed.status == "failed" and failed.retired == 0
    assert Address.objects.filter(retired_at__isnull=False).count() == 0
    sim.clear_failures()

    resumed = sync_vetro(full=True)
    assert resumed.pk == failed.pk and resumed.retired == 1  # what the first pages saw counts
    assert Address.objects.filter(retired_at__isnull=False).count() == 1


def test_with_some_plans_configured_nothing_is_retired(vetro, settings):
    sim = vetro(town_seed(20))
    sync_vetro(full=True)
    settings.VETRO_PLAN_IDS = [1]

    run = sync_vetro(full=True)

    assert run.retired == 0 and run.fetched == sum(f["plan_id"] == 1 for f in sim.features)
    assert Address.objects.filter(retired_at__isnull=False).count() == 0


def test_both_sides_changing_an_address_field_is_logged_and_vetro_wins(vetro):
    sim = vetro(town_seed(5))
    sync_vetro(full=True)
    vetro_id = sim.features[2]["vetro_id"]
    address = _address(vetro_id)
    address_update(address=address, street="Von Hand Straße")  # oanm changed it …
    sim.update(vetro_id, Street="Amtliche Straße")  # … and VETRO too
    sim.update(sim.features[3]["vetro_id"], Street="Nur In VETRO")  # only VETRO: no conflict

    run = sync_vetro()

    assert run.conflicts == 1
    conflict = SyncConflict.objects.get()
    assert (conflict.system, conflict.external_id, conflict.address_id, conflict.field) == (
        "vetro",
        vetro_id,
        address.pk,
        "street",
    )
    assert (conflict.oanm_value, conflict.remote_value, conflict.winner) == (
        "Von Hand Straße",
        "Amtliche Straße",
        "remote",
    )
    assert conflict.run_id == run.pk
    address.refresh_from_db()
    assert address.street == "Amtliche Straße"
    assert SyncState.objects.get(external_id=vetro_id).pulled["street"] == "Amtliche Straße"
    assert sync_vetro().conflicts == 0  # logged once


def test_vetro_changing_a_field_oanm_owns_is_logged_and_oanm_pushes_its_value_back(vetro):
    sim = vetro(town_seed(3))
    sync_vetro(full=True)
    vetro_id = sim.features[0]["vetro_id"]
    address_await_deployment(address=_address(vetro_id))
    outbox_drain()
    assert SyncState.objects.get(external_id=vetro_id).pushed["Installation Status"] == "Ordered"

    sim.update(vetro_id, fields={"Installation Status": "Installed"})  # edited in VETRO
    run = sync_vetro()

    assert run.conflicts == 1
    conflict = SyncConflict.objects.get()
    assert (conflict.field, conflict.oanm_value, conflict.remote_value, conflict.winner) == (
        "installation_status",
        "Ordered",
        "Installed",
        "oanm",
    )
    outbox_drain()
    assert sim.get(vetro_id)["properties"]["Installation Status"] == "Ordered"
    assert sync_vetro().conflicts == 0


def test_both_sides_moving_a_location_is_logged_and_vetro_wins(vetro):
    sim = vetro(town_seed(3))
    sync_vetro(full=True)
    vetro_id = sim.features[1]["vetro_id"]
    address = _address(vetro_id)
    address_update(address=address, location={"type": "Point", "coordinates": [13.3401, 52.55]})
    sim.update(vetro_id, geometry={"type": "Point", "coordinates": [13.3402, 52.5501]})

    run = sync_vetro()

    conflict = SyncConflict.objects.get()
    assert (run.conflicts, conflict.field, conflict.winner) == (1, "location", "remote")
    assert (conflict.oanm_value, conflict.remote_value) == (
        "13.3401000 52.5500000",
        "13.3402000 52.5501000",
    )
    address.refresh_from_db()
    assert address.location.coords == pytest.approx((13.3402, 52.5501))


def test_a_full_run_on_a_set_that_keeps_moving_retires_nothing_and_says_so(vetro):
    sim = vetro(town_seed(12))
    sync_vetro(full=True)
    sim.features.pop(0)
    sim.fail("shift", 100)  # a new service location before every request

    run = sync_vetro(full=True)

    assert run.status == "succeeded" and run.retired == 0
    assert any("kept changing" in error for error in run.errors)
    assert any("nothing retired" in error for error in run.errors)
    assert Address.objects.filter(retired_at__isnull=False).count() == 0
