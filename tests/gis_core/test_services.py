"""Writes of gis_core: creating and changing addresses, with their events and area link."""

import pytest
from django.contrib.gis.geos import Point

from common.errors import Conflict, DomainError, InvalidGeometry
from common.models import DomainEvent, OutboxMessage
from gis_core.events import ADDRESS_CREATED, ADDRESS_MOVED
from gis_core.lifecycle import AddressStatus, PremisesType
from gis_core.models import Address, ExternalReference
from gis_core.services import address_create, address_update
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory

UTM_EAST, UTM_NORTH = 388124.06, 5823492.67  # lon 13.35, lat 52.55 in EPSG:25833
CM = 1e-6


def _events(topic: str) -> list[dict]:
    return list(DomainEvent.objects.filter(topic=topic).values_list("payload", flat=True))


def _stored() -> tuple[int, int, int, int]:
    """How many addresses, external references, events and outbox rows there are."""
    return (
        Address.objects.count(),
        ExternalReference.objects.count(),
        DomainEvent.objects.count(),
        OutboxMessage.objects.count(),
    )


def test_address_create_stores_it_planned_with_a_label_and_publishes_it(db):
    address = address_create(
        location={"type": "Point", "coordinates": [13.3412, 52.5489]},
        street=" Müllerstraße ",
        house_number="12 A",
        unit="WE 3",
        postcode="13353",
        city="Berlin",
        country="de",
        premises_type=PremisesType.MDU_FLAT,
        units=1,
        attributes={"floor": 2},
    )

    stored = Address.objects.get(pk=address.pk)
    assert (stored.street, stored.house_number, stored.house_number_normalised, stored.unit) == (
        "Müllerstraße",
        "12 A",
        "12a",
        "WE 3",
    )
    assert stored.label == "Müllerstraße 12 A, WE 3, 13353 Berlin"
    assert address.label == stored.label
    assert (stored.country, stored.premises_type, stored.units, stored.attributes) == (
        "DE",
        PremisesType.MDU_FLAT,
        1,
        {"floor": 2},
    )
    assert (stored.location.x, stored.location.y, stored.location.srid) == (13.3412, 52.5489, 4326)
    assert (stored.status, stored.status_changed_at, stored.area) == (
        AddressStatus.PLANNED,
        None,
        None,
    )
    assert _events(ADDRESS_CREATED) == [{"address_id": address.pk}]


@pytest.mark.parametrize(
    ("house_number", "normalised", "label"),
    [
        ("12a", "12a", "Seestraße 12a, 13353 Berlin"),
        ("1 B", "1b", "Seestraße 1 B, 13353 Berlin"),
        ("1-15", "1-15", "Seestraße 1-15, 13353 Berlin"),
        ("7  C", "7c", "Seestraße 7  C, 13353 Berlin"),
        ("", "", "Seestraße, 13353 Berlin"),
    ],
)
def test_house_numbers_are_kept_as_given_and_normalised_for_matching(
    db, house_number, normalised, label
):
    address = AddressFactory(street="Seestraße", house_number=house_number)

    assert (address.house_number, address.house_number_normalised, address.label) == (
        house_number,
        normalised,
        label,
    )


def test_the_label_leaves_out_what_is_missing(db):
    address = AddressFactory(street="Antonstraße", house_number="3", postcode="", city="")
    assert address.label == "Antonstraße 3"


def test_address_create_stores_external_references(db):
    address = AddressFactory(external_refs={"osm": "node/123", "iqgeo": "A-9"})

    assert sorted(address.external_refs.values_list("system", "external_id")) == [
        ("iqgeo", "A-9"),
        ("osm", "node/123"),
    ]


def test_an_external_reference_names_one_address_per_system(db):
    # given an address known to OSM as node/123
    AddressFactory(external_refs={"osm": "node/123"})
    events = DomainEvent.objects.count()

    # when another address claims the same OSM id, then it is refused and nothing is stored
    with pytest.raises(Conflict) as raised:
        AddressFactory(external_refs={"osm": "node/123"})
    assert raised.value.message == "osm:node/123 already names another address"
    assert raised.value.field == "external_refs"
    assert Address.objects.count() == 1
    assert ExternalReference.objects.count() == 1
    assert DomainEvent.objects.count() == events

    # but the same id in another system is another thing
    AddressFactory(external_refs={"vetro": "node/123"})
    assert ExternalReference.objects.count() == 2


def test_a_point_in_utm_33n_as_ewkt_lands_at_the_right_lon_lat(db):
    address = AddressFactory(location=f"SRID=25833;POINT({UTM_EAST} {UTM_NORTH})")

    stored = Address.objects.get(pk=address.pk)
    assert stored.location.srid == 4326
    assert stored.location.x == pytest.approx(13.35, abs=CM)
    assert stored.location.y == pytest.approx(52.55, abs=CM)


def test_a_point_in_utm_33n_as_geojson_with_crs_lands_at_the_right_lon_lat(db):
    address = AddressFactory(
        location={
            "type": "Point",
            "coordinates": [UTM_EAST, UTM_NORTH],
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25833"}},
        }
    )

    stored = Address.objects.get(pk=address.pk)
    assert stored.location.x == pytest.approx(13.35, abs=CM)
    assert stored.location.y == pytest.approx(52.55, abs=CM)


def test_a_point_with_the_crs_given_separately_lands_at_the_right_lon_lat(db):
    address = AddressFactory(location=f"POINT({UTM_EAST} {UTM_NORTH})", crs="EPSG:25833")

    assert address.location.x == pytest.approx(13.35, abs=CM)
    assert address.location.y == pytest.approx(52.55, abs=CM)


@pytest.mark.parametrize(
    ("fields", "message", "field"),
    [
        ({"street": "   "}, "an address needs a street", "street"),
        ({"street": ""}, "an address needs a street", "street"),
        (
            {"premises_type": "castle"},
            "unknown premises type 'castle' (one of single_family, mdu_flat, business)",
            "premises_type",
        ),
        (
            {"premises_type": PremisesType.MDU_FLAT, "units": 0},
            "an address has at least one unit",
            "units",
        ),
        ({"units": 4}, "a single-family home has exactly one unit", "units"),
        ({"country": "DEU"}, "country must be a two-letter ISO code, not 'DEU'", "country"),
    ],
)
def test_address_create_refuses_bad_fields_and_stores_nothing(db, fields, message, field):
    with pytest.raises(DomainError) as raised:
        AddressFactory(**fields)

    assert (raised.value.message, raised.value.field) == (message, field)
    assert _stored() == (0, 0, 0, 0)


def test_a_whole_mdu_holds_many_units(db):
    address = AddressFactory(premises_type=PremisesType.MDU_FLAT, units=24)
    assert (address.premises_type, address.units) == (PremisesType.MDU_FLAT, 24)


def test_address_create_refuses_out_of_range_coordinates_naming_the_range(db):
    with pytest.raises(InvalidGeometry) as raised:
        AddressFactory(location=f"POINT({UTM_EAST} {UTM_NORTH})")

    assert raised.value.message == (
        "coordinates out of range for EPSG:4326 (lon 388124..388124, lat 5.82349e+06..5.82349e+06):"
        " lon must be within -180..180 and lat within -90..90; give the CRS if it is projected"
    )
    assert _stored() == (0, 0, 0, 0)


def test_address_create_refuses_a_polygon_for_a_location(db):
    with pytest.raises(InvalidGeometry) as raised:
        AddressFactory(location=square(13.33, 52.55, 0.001))

    assert raised.value.message == "expected a Point, got a Polygon"
    assert _stored() == (0, 0, 0, 0)


def test_a_new_address_joins_the_area_that_contains_it(db):
    # given an area around part of Wedding
    area = AreaFactory(boundary=square(13.33, 52.55, 0.01))

    # when addresses are created inside and outside it
    inside = AddressFactory(location=Point(13.335, 52.555))
    outside = AddressFactory(location=Point(13.35, 52.555))

    # then only the one inside belongs to it
    assert Address.objects.get(pk=inside.pk).area == area
    assert Address.objects.get(pk=outside.pk).area is None


def test_address_update_changes_fields_and_the_label_follows(db):
    address = AddressFactory(street="Müllerstraße", house_number="12", unit="")
    events = DomainEvent.objects.count()

    updated = address_update(address=address, house_number="12 B", unit="VH 1", country="de")

    assert (updated.house_number, updated.house_number_normalised, updated.country) == (
        "12 B",
        "12b",
        "DE",
    )
    assert updated.label == "Müllerstraße 12 B, VH 1, 13353 Berlin"
    assert DomainEvent.objects.count() == events  # not a move: nothing to tell


def test_address_update_moving_it_publishes_the_move_and_changes_its_area(db):
    # given two neighbouring areas and an address in the first
    west = AreaFactory(boundary=square(13.33, 52.55, 0.01))
    east = AreaFactory(boundary=square(13.34, 52.55, 0.01))
    address = AddressFactory(location=Point(13.335, 52.555))
    assert address.area == west

    # when it is moved into the second
    moved = address_update(address=address, location=Point(13.345, 52.555))

    # then it is there, in that area, and the move was published
    stored = Address.objects.get(pk=address.pk)
    assert (stored.location.x, stored.location.y) == (13.345, 52.555)
    assert moved.area == stored.area == east
    assert _events(ADDRESS_MOVED) == [
        {
            "address_id": address.pk,
            "old_location": [13.335, 52.555],
            "new_location": [13.345, 52.555],
        }
    ]


def test_moving_an_address_out_of_every_area_unlinks_it(db):
    AreaFactory(boundary=square(13.33, 52.55, 0.01))
    address = AddressFactory(location=Point(13.335, 52.555))

    moved = address_update(address=address, location=Point(13.5, 52.5))

    assert moved.area is None


def test_address_update_honours_the_crs_of_a_new_location(db):
    address = AddressFactory()

    moved = address_update(
        address=address, location=f"POINT({UTM_EAST} {UTM_NORTH})", crs="EPSG:25833"
    )

    assert moved.location.x == pytest.approx(13.35, abs=CM)
    assert moved.location.y == pytest.approx(52.55, abs=CM)
    assert len(_events(ADDRESS_MOVED)) == 1


def test_address_update_with_the_same_location_publishes_nothing(db):
    address = AddressFactory(location=Point(13.335, 52.555))
    events = DomainEvent.objects.count()

    address_update(address=address, location={"type": "Point", "coordinates": [13.335, 52.555]})

    assert DomainEvent.objects.count() == events


def test_address_update_refuses_fields_it_does_not_own_and_changes_nothing(db):
    address = AddressFactory()

    with pytest.raises(DomainError) as raised:
        address_update(address=address, status=AddressStatus.ACTIVATED, area=None)

    assert raised.value.message == "cannot change area, status of an address"
    assert Address.objects.get(pk=address.pk).status == AddressStatus.PLANNED


def test_address_update_refuses_bad_fields_and_keeps_the_old_ones(db):
    address = AddressFactory(street="Müllerstraße", house_number="12")
    events = DomainEvent.objects.count()

    with pytest.raises(DomainError) as raised:
        address_update(address=address, street=" ", location=Point(13.4, 52.5))

    assert raised.value.message == "an address needs a street"
    stored = Address.objects.get(pk=address.pk)
    assert (stored.street, stored.location.x, stored.location.y) == (
        "Müllerstraße",
        address.location.x,
        address.location.y,
    )
    assert DomainEvent.objects.count() == events


def test_address_update_refuses_an_invalid_location_and_keeps_the_old_one(db):
    address = AddressFactory()

    with pytest.raises(InvalidGeometry):
        address_update(address=address, location="POINT(200 95)")

    assert Address.objects.get(pk=address.pk).location.equals(address.location)
    assert _events(ADDRESS_MOVED) == []
