"""Writes of the areas app: creating, reshaping and updating areas, and the address→area link."""

from decimal import Decimal

import pytest
from django.contrib.gis.geos import MultiPolygon, Point

from areas.events import AREA_CREATED, AREA_RESHAPED
from areas.lifecycle import AreaPhase
from areas.models import Area
from areas.services import area_create, area_reshape, area_update
from common.errors import Conflict, DomainError, InvalidGeometry
from common.models import DomainEvent, OutboxMessage
from gis_core.models import Address
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory

WEST = square(13.33, 52.55, 0.01)
EAST = square(13.34, 52.55, 0.01)


def _events(topic: str) -> list[dict]:
    return list(DomainEvent.objects.filter(topic=topic).values_list("payload", flat=True))


def _area_of(address: Address) -> Area | None:
    return Address.objects.get(pk=address.pk).area


def _counts() -> tuple[int, int, int]:
    """How many areas, events and outbox rows there are."""
    return Area.objects.count(), DomainEvent.objects.count(), OutboxMessage.objects.count()


def test_area_create_stores_it_in_planning_and_publishes_it(db):
    area = area_create(
        name=" Leopoldplatz ",
        code="13353-a",
        boundary=WEST,
        target_take_rate="0.35",
        attributes={"postcode": "13353"},
    )

    stored = Area.objects.get(pk=area.pk)
    assert (stored.name, stored.code, stored.phase, stored.is_active, stored.parent) == (
        "Leopoldplatz",
        "13353-a",
        AreaPhase.PLANNING,
        True,
        None,
    )
    assert stored.target_take_rate == Decimal("0.3500")
    assert stored.attributes == {"postcode": "13353"}
    assert isinstance(stored.boundary, MultiPolygon)
    assert stored.boundary.srid == 4326
    assert stored.boundary.equals(MultiPolygon(WEST))
    assert _events(AREA_CREATED) == [{"area_id": area.pk, "code": "13353-a"}]


def test_an_area_without_a_name_is_named_by_its_code(db):
    assert area_create(name="", code="13347", boundary=WEST).name == "13347"


def test_area_create_takes_in_the_addresses_inside_it_and_only_those(db):
    # given addresses in Wedding, one of them on the area's edge
    inside = AddressFactory(location=Point(13.335, 52.555))
    on_the_edge = AddressFactory(location=Point(13.33, 52.555))
    outside = AddressFactory(location=Point(13.345, 52.555))

    # when an area is drawn around the first two
    area = AreaFactory(boundary=WEST)

    # then they belong to it (boundary included) and the third stays unassigned
    assert _area_of(inside) == area
    assert _area_of(on_the_edge) == area
    assert _area_of(outside) is None


def test_area_create_honours_the_crs_of_its_boundary(db):
    # about 100 m squares in EPSG:25833 around lon 13.35, lat 52.55
    address = AddressFactory(location=Point(13.3507, 52.5504))

    area = AreaFactory(
        boundary=(
            "SRID=25833;POLYGON((388124 5823492, 388224 5823492, 388224 5823592,"
            " 388124 5823592, 388124 5823492))"
        )
    )

    assert area.boundary.srid == 4326
    south_west = area.boundary[0].exterior_ring[0]
    assert south_west[0] == pytest.approx(13.35, abs=1e-5)
    assert south_west[1] == pytest.approx(52.55, abs=1e-5)
    assert _area_of(address) == area


def test_area_create_refuses_a_duplicate_code_and_stores_nothing(db):
    AreaFactory(code="13353")
    counts = _counts()

    with pytest.raises(Conflict) as raised:
        AreaFactory(code="13353", boundary=EAST)

    assert raised.value.message == "an area with code '13353' already exists"
    assert raised.value.field == "code"
    assert _counts() == counts


def test_area_create_refuses_an_empty_code(db):
    with pytest.raises(DomainError) as raised:
        AreaFactory(code="  ")

    assert raised.value.message == "an area needs a code"
    assert _counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("1.5", "target take rate must be between 0 and 1 (e.g. 0.4 for 40%), not 1.5"),
        (Decimal("-0.1"), "target take rate must be between 0 and 1 (e.g. 0.4 for 40%), not -0.1"),
        ("abc", "target take rate 'abc' is not a number"),
        (None, "target take rate None is not a number"),
        ("NaN", "target take rate must be between 0 and 1 (e.g. 0.4 for 40%), not NaN"),
        (
            "Infinity",
            "target take rate must be between 0 and 1 (e.g. 0.4 for 40%), not Infinity",
        ),
    ],
)
def test_area_create_refuses_an_invalid_take_rate_and_stores_nothing(db, rate, message):
    address = AddressFactory(location=Point(13.335, 52.555))
    counts = _counts()

    with pytest.raises(DomainError) as raised:
        AreaFactory(boundary=WEST, target_take_rate=rate)

    assert (raised.value.message, raised.value.field) == (message, "target_take_rate")
    assert _counts() == counts
    assert _area_of(address) is None


@pytest.mark.parametrize(("rate", "stored"), [(0, "0.0000"), (1, "1.0000"), (0.4, "0.4000")])
def test_take_rates_from_zero_to_one_are_accepted(db, rate, stored):
    assert AreaFactory(target_take_rate=rate).target_take_rate == Decimal(stored)


def test_area_create_refuses_an_invalid_boundary_with_the_reason(db):
    address = AddressFactory(location=Point(13.335, 52.555))

    with pytest.raises(InvalidGeometry) as raised:
        AreaFactory(
            boundary="POLYGON((13.33 52.55, 13.34 52.56, 13.34 52.55, 13.33 52.56, 13.33 52.55))"
        )

    assert raised.value.message.startswith("invalid geometry: Self-intersection[")
    assert _counts() == (0, 1, 0)  # only the address's own creation event
    assert _area_of(address) is None


def test_area_create_refuses_a_point_for_a_boundary(db):
    with pytest.raises(InvalidGeometry) as raised:
        AreaFactory(boundary=Point(13.335, 52.555))

    assert raised.value.message == "expected a Polygon or MultiPolygon, got a Point"
    assert _counts() == (0, 0, 0)


def test_area_reshape_relinks_the_addresses_and_publishes_how_many(db):
    # given an area over the west square and addresses on both sides
    area = AreaFactory(boundary=WEST)
    west = AddressFactory(location=Point(13.335, 52.555))
    east = AddressFactory(location=Point(13.345, 52.555))
    assert (_area_of(west), _area_of(east)) == (area, None)

    # when it is redrawn over the east square
    reshaped = area_reshape(area=area, boundary=EAST)

    # then the addresses follow the new boundary, and the event says two links changed
    assert Area.objects.get(pk=area.pk).boundary.equals(MultiPolygon(EAST))
    assert reshaped.boundary.equals(MultiPolygon(EAST))
    assert (_area_of(west), _area_of(east)) == (None, area)
    assert _events(AREA_RESHAPED) == [
        {"area_id": area.pk, "addresses_reassigned": 2, "areas_touched": [area.pk]}
    ]


def test_an_address_leaving_a_reshaped_area_falls_to_the_neighbour_that_contains_it(db):
    # given two overlapping areas; the address is in both and belongs to the older one
    older = AreaFactory(boundary=square(13.33, 52.55, 0.015))
    younger = AreaFactory(boundary=EAST)
    address = AddressFactory(location=Point(13.342, 52.555))
    assert _area_of(address) == older

    # when the older one shrinks away from it, then the younger one takes it
    area_reshape(area=older, boundary=square(13.33, 52.55, 0.005))

    assert _area_of(address) == younger


def test_area_reshape_refuses_an_invalid_boundary_and_changes_nothing(db):
    area = AreaFactory(boundary=WEST)
    address = AddressFactory(location=Point(13.335, 52.555))
    counts = _counts()

    with pytest.raises(InvalidGeometry):
        area_reshape(area=area, boundary="POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))")

    assert Area.objects.get(pk=area.pk).boundary.equals(MultiPolygon(WEST))
    assert _area_of(address) == area
    assert _counts() == counts


def test_a_retired_area_is_ignored_when_addresses_are_assigned(db):
    # given a retired area (split; the split service, a later issue, retires it this way)
    # and an active one over the same ground
    retired = AreaFactory(boundary=WEST)
    Area.objects.filter(pk=retired.pk).update(is_active=False)
    active = AreaFactory(boundary=square(13.335, 52.55, 0.01))

    # when addresses are created inside both, and inside only the retired one
    in_both = AddressFactory(location=Point(13.337, 52.555))
    only_retired = AddressFactory(location=Point(13.331, 52.555))

    # then they join the active area or none
    assert _area_of(in_both) == active
    assert _area_of(only_retired) is None


def test_area_update_renames_and_changes_the_take_rate(db):
    area = AreaFactory(name="Old name", target_take_rate="0.4")

    updated = area_update(area=area, name=" Sprengelkiez ", target_take_rate="0.55")

    stored = Area.objects.get(pk=area.pk)
    assert (updated.name, stored.name) == ("Sprengelkiez", "Sprengelkiez")
    assert stored.target_take_rate == Decimal("0.5500")


def test_area_update_refuses_an_empty_name_and_a_bad_take_rate(db):
    area = AreaFactory(name="Sprengelkiez", target_take_rate="0.4")

    with pytest.raises(DomainError) as raised:
        area_update(area=area, name=" ")
    assert raised.value.message == "an area needs a name"

    with pytest.raises(DomainError) as raised:
        area_update(area=area, target_take_rate="1.01")
    assert raised.value.field == "target_take_rate"

    stored = Area.objects.get(pk=area.pk)
    assert (stored.name, stored.target_take_rate) == ("Sprengelkiez", Decimal("0.4000"))
