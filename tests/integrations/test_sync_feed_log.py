"""The change log behind /api/sync/changes: written by database triggers for every writer,
one row per changed address or area, nothing for a write that changes nothing."""

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import connection

from areas.models import Area
from areas.services import area_create, area_split, area_update
from gis_core.importing import import_addresses
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.services import address_create, address_update, addresses_move
from integrations.sync.models import Change
from tests.gis_core.test_import_addresses import demo_features, write_geojson

pytestmark = pytest.mark.django_db


def logged(entity: str | None = None) -> list[tuple[str, int, str]]:
    rows = Change.objects.order_by("xid", "id")
    if entity:
        rows = rows.filter(entity=entity)
    return [(c.entity, c.entity_id, c.op) for c in rows]


def square(x: float, y: float, size: float = 0.01) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((x, y, x + size, y + size)), srid=4326)


def test_address_create_update_and_delete_are_logged_once_each():
    address = address_create(location=Point(13.35, 52.55), street="Müllerstraße", house_number="1")
    address_update(address=address, house_number="1a")
    address_update(address=address, house_number="1a")  # the same again: no change
    Address.objects.filter(pk=address.pk).delete()
    assert logged() == [
        ("address", address.pk, "insert"),
        ("address", address.pk, "update"),
        ("address", address.pk, "delete"),
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        (own_xid,) = cursor.fetchone()
    assert set(Change.objects.values_list("xid", flat=True)) == {own_xid}


def test_a_set_based_move_logs_every_moved_row_and_nothing_else():
    addresses = [
        address_create(location=Point(13.35 + i / 1000, 52.55), street="Seestraße")
        for i in range(3)
    ]
    Change.objects.all().delete()
    moved = addresses_move(
        address_ids=[a.pk for a in addresses[:2]],
        from_status=AddressStatus.PLANNED,
        to_status=AddressStatus.AWAITING_DEPLOYMENT,
    )
    assert sorted(logged()) == [("address", pk, "update") for pk in sorted(moved)]


def test_a_bulk_import_logs_its_rows_and_a_rerun_logs_nothing(tmp_path):
    path = write_geojson(tmp_path / "a.geojson", demo_features(25))
    report = import_addresses(path)
    assert report.created == 25
    inserted = logged("address")
    assert len(inserted) == 25 and {op for _, _, op in inserted} == {"insert"}
    import_addresses(path)
    assert logged("address") == inserted


def test_an_area_is_logged_and_a_split_retires_its_parent():
    area = area_create(name="Wedding", code="w1", boundary=square(13.30, 52.50, 0.1))
    area_update(area=area, name="Wedding Nord")
    result = area_split(area=area, mode="half")
    assert ("area", area.pk, "insert") in logged("area")
    assert ("area", area.pk, "update") in logged("area")
    assert ("area", area.pk, "retire") in logged("area")
    for child in result.children:
        assert ("area", child.pk, "insert") in logged("area")
    assert not Area.objects.get(pk=area.pk).is_active


def test_retiring_an_address_and_deleting_an_area_are_logged_as_retire():
    from areas.services import area_delete
    from gis_core.services import addresses_reinstate, addresses_retire

    address = address_create(location=Point(13.35, 52.55), street="Müllerstraße", house_number="1")
    addresses_retire(address_ids=[address.pk], reason="gone from iqgeo")
    addresses_retire(address_ids=[address.pk], reason="gone from iqgeo")  # no change: no row
    addresses_reinstate(address_ids=[address.pk])
    assert logged("address") == [
        ("address", address.pk, "insert"),
        ("address", address.pk, "retire"),
        ("address", address.pk, "update"),
    ]
    area = area_create(name="Feld", code="f1", boundary=square(13.0, 52.0))
    area_delete(area=area)
    assert logged("area") == [("area", area.pk, "insert"), ("area", area.pk, "retire")]
