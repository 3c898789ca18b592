"""Sync safety: retiring and reinstating addresses (left out of search, tiles and new
orders, never deleted), the per-system sync lock, the conflict log and field ownership,
and all of it applied to the IQGeo import over real HTTP from the simulator."""

import json
import threading
from io import StringIO

import pytest
from django.contrib.gis.geos import Point
from django.core.management import CommandError, call_command
from django.db import connection

from common.errors import DomainError
from common.models import DomainEvent
from gis_core.events import ADDRESSES_REINSTATED, ADDRESSES_RETIRED
from gis_core.models import Address, AddressCellCount
from gis_core.search import nearest_addresses, search_addresses
from gis_core.services import address_update, addresses_reinstate, addresses_retire
from integrations.iqgeo.importer import sync_iqgeo
from integrations.models import SyncConflict, SyncRun, SyncSeen, SyncState
from integrations.safety import (
    SyncAlreadyRunning,
    conflict_resolve,
    conflicts_record,
    features_retire_missing,
    owner,
    sync_is_running,
    sync_lock,
)
from tests.gis_core.factories import AddressFactory
from tests.integrations.iqgeo_fixtures import (
    iqgeo_server,  # noqa: F401  (the fixture "iqgeo")
    town_seed,
)
from tests.vector_tiles import features, tile_of, tile_url
from tests.wholesale.factories import OrderFactory

LON, LAT = 13.3412, 52.5533


def _address(n: int = 0, **fields) -> Address:
    return AddressFactory(
        location=Point(LON + n * 0.0001, LAT, srid=4326),
        street="Müllerstraße",
        house_number=str(n + 1),
        **fields,
    )


def _tile_ids(client, address: Address, z: int = 16) -> set[int]:
    z, x, y = tile_of(address.location.x, address.location.y, z)
    response = client.get(tile_url("addresses", z, x, y))
    assert response.status_code in (200, 204)
    return {feature["id"] for feature in features(response.content, "addresses")}


def _cell_count() -> int:
    """Addresses the pyramid's zoom-0 cells count."""
    return sum(AddressCellCount.objects.filter(zoom=0).values_list("addresses", flat=True))


# ------------------------------------------------------------------ retire and reinstate


def _events(topic: str) -> list[list[int]]:
    return [
        event.payload["address_ids"]
        for event in DomainEvent.objects.filter(topic=topic).order_by("occurred_at", "id")
    ]


@pytest.mark.django_db
def test_retire_is_set_based_idempotent_and_publishes_once():
    a, b, c = _address(0), _address(1), _address(2)
    assert addresses_retire(address_ids=[a.pk, b.pk], reason="gone from iqgeo") == 2
    assert addresses_retire(address_ids=[a.pk, b.pk, c.pk], reason="again") == 1
    a.refresh_from_db()
    assert a.retired_at is not None and a.retired_reason == "gone from iqgeo"
    assert _events(ADDRESSES_RETIRED) == [sorted([a.pk, b.pk]), [c.pk]]
    assert Address.objects.count() == 3  # nothing deleted

    assert addresses_reinstate(address_ids=[a.pk, b.pk]) == 2
    assert addresses_reinstate(address_ids=[a.pk]) == 0
    assert _events(ADDRESSES_REINSTATED) == [sorted([a.pk, b.pk])]
    a.refresh_from_db()
    assert a.retired_at is None and a.retired_reason == ""
    with pytest.raises(DomainError):
        addresses_retire(address_ids=[a.pk], reason=" ")


@pytest.mark.django_db
def test_a_retired_address_is_not_found_by_search_or_nearest():
    kept, gone = _address(0), _address(1)
    addresses_retire(address_ids=[gone.pk], reason="gone from iqgeo")

    found = {match.id for match in search_addresses("Müllerstraße", limit=25).matches}
    assert kept.pk in found and gone.pk not in found
    assert search_addresses("Müllerstraße 2").matches == [] or all(
        match.id != gone.pk for match in search_addresses("Müllerstraße 2").matches
    )
    near = nearest_addresses(lon=gone.location.x, lat=gone.location.y, limit=5)
    assert gone.pk not in {match.id for match in near} and kept.pk in {m.id for m in near}

    addresses_reinstate(address_ids=[gone.pk])
    assert gone.pk in {m.id for m in search_addresses("Müllerstraße", limit=25).matches}


@pytest.mark.django_db
def test_a_retired_address_leaves_the_tiles_points_and_cells_and_comes_back(client, planner):
    client.force_login(planner)
    kept, gone = _address(0), _address(1)
    assert _tile_ids(client, gone) == {kept.pk, gone.pk} and _cell_count() == 2

    addresses_retire(address_ids=[gone.pk], reason="gone from iqgeo")
    assert _tile_ids(client, gone) == {kept.pk}
    assert _cell_count() == 1

    addresses_reinstate(address_ids=[gone.pk])
    assert _tile_ids(client, gone) == {kept.pk, gone.pk} and _cell_count() == 2
    with connection.cursor() as cursor:  # the triggers agree with a full recount
        cursor.execute("SELECT gis_core_address_cells_rebuild()")
    assert _cell_count() == 2


@pytest.mark.django_db
def test_a_retired_address_takes_no_new_order_but_keeps_its_orders():
    order = OrderFactory()
    address = order.address
    addresses_retire(address_ids=[address.pk], reason="gone from iqgeo")
    with pytest.raises(DomainError) as refused:
        OrderFactory(address=Address.objects.get(pk=address.pk))
    assert refused.value.code == "address_retired"
    assert "no new orders" in refused.value.message and "gone from iqgeo" in refused.value.message
    assert Address.objects.filter(pk=address.pk).exists() and address.orders.count() == 1


@pytest.mark.django_db
def test_features_retire_missing_takes_a_list_a_queryset_or_a_table():
    addresses = [_address(n, external_refs={"iqgeo": str(n)}) for n in range(6)]
    other = _address(9, external_refs={"vetro": "0"})
    assert features_retire_missing(system="iqgeo", seen=["0", "1", "2", "3"]) == 2
    assert set(Address.objects.exclude(retired_at=None).values_list("pk", flat=True)) == {
        addresses[4].pk,
        addresses[5].pk,
    }
    assert Address.objects.get(pk=addresses[5].pk).retired_reason == "gone from iqgeo"
    # Again: nothing more (idempotent); a queryset and a temp table name work too.
    seen = Address.objects.filter(pk__in=[a.pk for a in addresses[:3]]).values_list(
        "external_refs__external_id", flat=True
    )
    assert features_retire_missing(system="iqgeo", seen=seen) == 1  # "3"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE seen_ids (external_id text)")
        cursor.execute("INSERT INTO seen_ids VALUES ('0')")
    assert features_retire_missing(system="iqgeo", seen="seen_ids") == 2
    assert Address.objects.get(pk=other.pk).retired_at is None  # another system's
    with pytest.raises(DomainError):
        features_retire_missing(system="iqgeo", seen="seen_ids; DROP TABLE x")


@pytest.mark.django_db
def test_features_retire_missing_handles_a_large_seen_set_in_one_statement(
    django_assert_max_num_queries,
):
    _address(0, external_refs={"iqgeo": "kept"})
    gone = _address(1, external_refs={"iqgeo": "gone"})
    seen = ["kept", *(f"f{n}" for n in range(100_000))]
    with django_assert_max_num_queries(10):  # a constant: not one per id
        assert features_retire_missing(system="iqgeo", seen=seen) == 1
    assert Address.objects.get(pk=gone.pk).retired_at is not None


# ------------------------------------------------------------------ lock and conflict log


@pytest.mark.django_db(transaction=True)
def test_the_sync_lock_refuses_a_second_run_of_the_same_system_only():
    with sync_lock("iqgeo"):
        assert sync_is_running("iqgeo")
        with pytest.raises(SyncAlreadyRunning, match="already running"), sync_lock("iqgeo"):
            pass
        errors = []

        def other_thread():
            try:
                with sync_lock("iqgeo"):
                    pass
            except SyncAlreadyRunning as exc:
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert len(errors) == 1
        with sync_lock("vetro"):  # another system runs alongside
            pass
    assert not sync_is_running("iqgeo")
    with sync_lock("iqgeo"):  # released
        pass


@pytest.mark.django_db
def test_conflicts_are_recorded_in_bulk_and_resolved(admin_user):
    address = _address(0)
    rows = [
        {
            "external_id": "7",
            "address_id": address.pk,
            "field": "street",
            "oanm_value": "Local",
            "remote_value": "Remote",
        },
        {"external_id": "7", "field": "status", "oanm_value": "activated", "remote_value": None},
    ]
    assert conflicts_record(system="iqgeo", rows=rows) == 2
    street, status = (
        SyncConflict.objects.order_by("field")[1],
        SyncConflict.objects.get(field="status"),
    )
    assert (street.winner, status.winner, status.remote_value) == ("remote", "oanm", "")
    assert owner("street") == owner("location") == "remote" and owner("status") == "oanm"
    conflict_resolve(conflict=street, actor=admin_user, note="checked with the planner")
    street.refresh_from_db()
    assert street.resolved_by == admin_user and street.resolved_at is not None
    with pytest.raises(DomainError):
        conflict_resolve(conflict=street, actor=admin_user)
    with pytest.raises(DomainError):
        conflicts_record(system="iqgeo", rows=[{"external_id": "1", "field": "x", "bad": 1}])


@pytest.mark.django_db
def test_the_admin_lists_conflicts_and_marks_them_resolved(client, admin_user):
    conflicts_record(
        system="iqgeo",
        rows=[{"external_id": "7", "field": "street", "oanm_value": "A", "remote_value": "B"}],
    )
    conflict = SyncConflict.objects.get()
    client.force_login(admin_user)
    listing = client.get("/admin/integrations/syncconflict/")
    assert listing.status_code == 200 and b"street" in listing.content
    response = client.post(
        "/admin/integrations/syncconflict/",
        {"action": "mark_resolved", "_selected_action": [conflict.pk]},
    )
    assert response.status_code == 302
    conflict.refresh_from_db()
    assert conflict.resolved_by == admin_user


@pytest.mark.django_db
def test_importing_a_retired_addresses_reference_again_reinstates_it(tmp_path):
    from gis_core.importing import import_addresses

    address = _address(0, external_refs={"osm": "n1"})
    addresses_retire(address_ids=[address.pk], reason="gone from osm")
    path = tmp_path / "again.geojson"
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [address.location.x, address.location.y]},
        "properties": {"external_id": "n1", "street": "Müllerstraße", "house_number": "1"},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))

    report = import_addresses(path, system="osm")

    address.refresh_from_db()
    assert address.retired_at is None and address.retired_reason == ""
    assert report.created == 0 and Address.objects.count() == 1
    assert _events(ADDRESSES_REINSTATED) == [[address.pk]]


# ------------------------------------------------------------------ the IQGeo import


def _by_feature(feature_id: int) -> Address:
    return Address.objects.get(
        external_refs__system="iqgeo", external_refs__external_id=str(feature_id)
    )


def _remove(sim, *feature_ids: int) -> list[dict]:
    """Delete features in the simulator (IQGeo's set loses them); returns them."""
    with sim.lock:
        gone = [f for f in sim.features if f["id"] in feature_ids]
        sim.features = [f for f in sim.features if f["id"] not in feature_ids]
    return gone


def _put_back(sim, features: list[dict]) -> None:
    """The same features (same ids) appear again, with a fresh change time."""
    with sim.lock:
        sim.features.extend(features)
    for feature in features:
        sim.update(feature["id"])


@pytest.mark.django_db
def test_a_full_run_retires_what_disappeared_and_a_comeback_reinstates_it(iqgeo):
    sim = iqgeo(town_seed(12))
    assert sync_iqgeo(full=True).created == 12
    ordered = OrderFactory(address=_by_feature(3))
    gone = _remove(sim, 3, 4)

    incremental = sync_iqgeo()  # an incremental run cannot see deletions: nothing retired
    assert incremental.mode == "incremental" and incremental.retired == 0

    run = sync_iqgeo(full=True)

    assert run.status == "succeeded" and run.retired == 2, run.errors
    assert Address.objects.count() == 12  # nothing deleted
    retired = Address.objects.exclude(retired_at=None)
    assert {a.pk for a in retired} == {_by_feature(3).pk, _by_feature(4).pk}
    assert {a.retired_reason for a in retired} == {"gone from iqgeo"}
    assert ordered.address.orders.count() == 1  # the address with an order is kept, retired
    assert not SyncSeen.objects.exists()  # the run's seen ids are gone with it
    label = _by_feature(3).label
    assert _by_feature(3).pk not in {m.id for m in search_addresses(label).matches}
    with pytest.raises(DomainError, match="no new orders"):
        OrderFactory(address=_by_feature(4))
    assert sync_iqgeo(full=True).retired == 0  # again: nothing more to retire

    _put_back(sim, gone)
    back = sync_iqgeo()

    assert back.created == 0 and Address.objects.count() == 12
    assert not Address.objects.exclude(retired_at=None).exists()
    assert _by_feature(3).pk in {m.id for m in search_addresses(label).matches}


@pytest.mark.django_db
def test_a_resumed_full_run_still_knows_what_it_saw_before_the_kill(iqgeo):
    sim = iqgeo(town_seed(25))
    sync_iqgeo(full=True)
    _remove(sim, 24)  # past the point where the next run is killed
    sim.fail("error", 100, after=3)  # login, pages 0 and 10; then IQGeo is down

    failed = sync_iqgeo(full=True)
    assert failed.status == "failed" and failed.next_offset == 20
    assert SyncSeen.objects.filter(run=failed).count() == 20
    assert not Address.objects.exclude(retired_at=None).exists()
    sim.clear_failures()

    resumed = sync_iqgeo(full=True)

    assert resumed.pk == failed.pk and resumed.status == "succeeded"
    assert resumed.retired == 1  # only the feature really gone, none seen before the kill
    assert list(Address.objects.exclude(retired_at=None)) == [_by_feature(24)]


@pytest.mark.django_db
def test_a_resumed_run_whose_set_shifted_while_stopped_retires_nothing(iqgeo):
    sim = iqgeo(town_seed(25))
    sync_iqgeo(full=True)
    sim.fail("error", 100, after=3)
    sync_iqgeo(full=True)
    sim.clear_failures()
    _remove(sim, 5)  # seen before the kill: feature 21 moves before the resume offset

    resumed = sync_iqgeo(full=True)

    assert resumed.status == "succeeded" and resumed.retired == 0
    assert any("nothing retired" in error for error in resumed.errors)
    assert not Address.objects.exclude(retired_at=None).exists()
    assert sync_iqgeo(full=True).retired == 1  # the next full run does it
    assert list(Address.objects.exclude(retired_at=None)) == [_by_feature(5)]


@pytest.mark.django_db
def test_both_sides_changed_a_field_iqgeo_wins_and_the_conflict_is_logged(iqgeo):
    sim = iqgeo(town_seed(6))
    sync_iqgeo(full=True)
    assert SyncState.objects.filter(system="iqgeo").count() == 6
    both, local_only, moved = (_by_feature(n) for n in (2, 4, 5))
    address_update(address=both, street="Lokale Straße")
    address_update(address=local_only, city="Berlin-Mitte")
    address_update(address=moved, location=Point(13.35, 52.56, srid=4326))
    sim.update(2, streetName="Neue Straße")
    sim.update(3, streetName="Nur-IQGeo-Straße")
    sim.update(5, geometry={"type": "Point", "coordinates": [13.36, 52.57]})
    sim.update(4)  # touched in IQGeo, no field changed there

    run = sync_iqgeo()

    assert run.status == "succeeded" and run.conflicts == 2, run.errors
    location, street = SyncConflict.objects.order_by("field")
    assert (street.field, street.external_id, street.address_id) == ("street", "2", both.pk)
    assert (street.oanm_value, street.remote_value, street.winner) == (
        "Lokale Straße",
        "Neue Straße",
        "remote",
    )
    assert street.run == run and street.resolved_at is None
    assert (location.field, location.external_id) == ("location", "5")
    assert (location.oanm_value, location.remote_value) == (
        "13.3500000 52.5600000",
        "13.3600000 52.5700000",
    )
    assert _by_feature(2).street == "Neue Straße"  # IQGeo wins
    assert _by_feature(5).location.coords == pytest.approx((13.36, 52.57))
    assert _by_feature(3).street == "Nur-IQGeo-Straße"  # one side only: no conflict
    # oanm alone changed feature 4's city, and IQGeo changed nothing of it: no conflict
    # (IQGeo owns the field: the import writes its value back)
    assert not SyncConflict.objects.filter(external_id__in=["3", "4"]).exists()
    assert SyncState.objects.get(external_id="2").pulled["street"] == "Neue Straße"

    assert sync_iqgeo(full=True).conflicts == 0  # nothing new: nothing logged again
    assert SyncConflict.objects.count() == 2


@pytest.mark.django_db
def test_conflicts_are_found_per_page_in_a_constant_number_of_queries(
    iqgeo, django_assert_max_num_queries, settings
):
    sim = iqgeo(town_seed(40))
    settings.IQGEO_PAGE_SIZE = 40
    sync_iqgeo(full=True)
    for n in range(1, 41):
        Address.objects.filter(pk=_by_feature(n).pk).update(unit=f"local {n}")
        sim.update(n, unit=f"remote {n}")
    with django_assert_max_num_queries(60):  # one page: not one query per feature
        run = sync_iqgeo()
    assert run.conflicts == 40


@pytest.mark.django_db(transaction=True)
def test_a_second_concurrent_run_is_refused_and_the_first_finishes(iqgeo):
    iqgeo(town_seed(30))
    paused, release = threading.Event(), threading.Event()
    outcome = {}

    def first_run():
        def progress(done, total):
            paused.set()
            release.wait(timeout=30)

        try:
            outcome["run"] = sync_iqgeo(full=True, progress=progress)
        finally:
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert paused.wait(timeout=30)  # the first run has committed a page, holds the lock
        with pytest.raises(SyncAlreadyRunning, match="already running"):
            sync_iqgeo(full=True)
        with pytest.raises(CommandError, match="already running"):
            call_command("sync", "iqgeo", "--no-progress", stdout=StringIO())
        assert SyncRun.objects.count() == 1  # the refused ones made no run
    finally:
        release.set()
        thread.join(timeout=60)
    run = outcome["run"]
    assert run.status == "succeeded" and run.created == 30 and run.resumed == 0
    assert Address.objects.count() == 30 and SyncRun.objects.count() == 1
