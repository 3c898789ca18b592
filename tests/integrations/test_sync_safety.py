"""Sync safety: retiring and reinstating addresses (left out of search, tiles and new
orders, never deleted), the per-system sync lock, the conflict log and field ownership,
and all of it applied to the IQGeo import over real HTTP from the simulator."""

import json
import threading

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from common.errors import DomainError
from common.models import DomainEvent
from gis_core.events import ADDRESSES_REINSTATED, ADDRESSES_RETIRED
from gis_core.models import Address, AddressCellCount
from gis_core.search import nearest_addresses, search_addresses
from gis_core.services import addresses_reinstate, addresses_retire
from integrations.models import SyncConflict
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
