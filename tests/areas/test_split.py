"""Splitting an area: by a drawn line, in half, by a share of the orders; previews; refusals."""

from decimal import Decimal

import pytest
import shapely
from django.contrib.gis.geos import LineString, MultiPolygon, Point, Polygon
from django.db.models import Sum

from areas.events import AREA_CREATED, AREA_SPLIT
from areas.figures import refresh_figures
from areas.importing import import_areas
from areas.lifecycle import AreaPhase
from areas.models import Area, AreaFigures, AreaPhaseChange, AreaSplit
from areas.services import (
    area_split,
    area_split_preview,
    area_start_demand_aggregation,
    interest_register,
    signup_record,
)
from common.errors import Conflict, DomainError
from common.models import DomainEvent, OutboxMessage
from gis_core.importing import import_addresses
from gis_core.lifecycle import PremisesType
from gis_core.models import Address
from tests.areas.factories import AreaFactory, square
from tests.areas.test_assignment import POSTCODES, assert_links_match_brute_force
from tests.conftest import DEMO_DATA
from tests.gis_core.factories import AddressFactory

pytestmark = pytest.mark.django_db

# A square of 0.01° (about 680 × 1110 m) in Wedding: x 13.33…13.34, y 52.55…52.56.
SQUARE = square(13.33, 52.55, 0.01)
ACROSS = {"type": "LineString", "coordinates": [[13.336, 52.549], [13.336, 52.561]]}
FIGURES = (
    "addresses",
    "homes",
    "interests",
    "orders",
    "addresses_with_interest",
    "addresses_with_order",
)


def _state() -> dict:
    """Everything a split writes, to show that a refused one wrote nothing."""
    return {
        "areas": list(Area.objects.order_by("pk").values_list("pk", "code", "is_active")),
        "splits": AreaSplit.objects.count(),
        "history": AreaPhaseChange.objects.count(),
        "events": DomainEvent.objects.count(),
        "outbox": OutboxMessage.objects.count(),
        "links": dict(Address.objects.values_list("pk", "area_id")),
        "figures": list(AreaFigures.objects.order_by("pk").values_list("pk", "addresses")),
    }


def _figures(area: Area) -> dict:
    return AreaFigures.objects.filter(area=area).values(*FIGURES).get()


def _payloads(topic: str) -> list[dict]:
    return list(DomainEvent.objects.filter(topic=topic).values_list("payload", flat=True))


def _diagonal_orders(count: int = 8) -> list[Address]:
    """Addresses with one live order each on the square's diagonal, west-south to east-north."""
    addresses = [
        AddressFactory(location=Point(13.331 + i * 0.001, 52.551 + i * 0.001)) for i in range(count)
    ]
    for address in addresses:
        signup_record(address=address, order_key=f"order:{address.pk}")
    return addresses


# --- the three ways --------------------------------------------------------------------------


def test_a_drawn_line_splits_the_area_into_two_children_and_retires_it(db, planner):
    # given an area with addresses west and east of x = 13.336
    area = AreaFactory(code="13353", name="Leopoldplatz", boundary=SQUARE)
    west = AddressFactory(location=Point(13.332, 52.555))
    east = AddressFactory(location=Point(13.338, 52.555))

    # when a planner draws a north-south line across it at x = 13.336
    result = area_split(area=area, line=ACROSS, actor=planner, reason="build the west first")

    # then two children replace it: a (west of a line running north-south) and b
    first, second = result.children
    assert (first.code, first.name, second.code, second.name) == (
        "13353-a",
        "Leopoldplatz (part a)",
        "13353-b",
        "Leopoldplatz (part b)",
    )
    assert first.pk < second.pk
    assert (first.parent, second.parent) == (result.parent, result.parent)
    assert all(child.is_active for child in result.children)
    assert Area.objects.get(pk=area.pk).is_active is False
    # the parts tile the parent exactly
    assert first.boundary.union(second.boundary).equals(area.boundary)
    assert first.boundary.intersection(second.boundary).area == 0
    # every address is in the child that contains it
    assert Address.objects.get(pk=west.pk).area == first
    assert Address.objects.get(pk=east.pk).area == second
    assert first.boundary.extent == pytest.approx((13.33, 52.55, 13.336, 52.56), abs=1e-12)
    # the record
    record = AreaSplit.objects.get()
    assert (record.parent_id, record.first_child_id, record.second_child_id) == (
        area.pk,
        first.pk,
        second.pk,
    )
    assert (record.mode, record.actor, record.reason) == ("line", planner, "build the west first")
    assert record.line.equals(LineString(ACROSS["coordinates"], srid=4326))
    assert result.split == record


def test_a_split_publishes_area_split_with_the_parent_and_children(db, planner):
    area = AreaFactory(code="13353", boundary=SQUARE)
    events_before = DomainEvent.objects.count()

    result = area_split(area=area, mode="half", axis="north-south", actor=planner)

    north, south = result.children
    assert _payloads(AREA_SPLIT) == [
        {
            "parent_id": area.pk,
            "child_ids": [north.pk, south.pk],
            "mode": "half",
            "parent_code": "13353",
            "child_codes": ["13353-n", "13353-s"],
            "split_id": result.split.pk,
            "actor_id": planner.pk,
        }
    ]
    assert _payloads(AREA_CREATED)[-2:] == [
        {"area_id": north.pk, "code": "13353-n"},
        {"area_id": south.pk, "code": "13353-s"},
    ]
    assert DomainEvent.objects.count() == events_before + 3


def test_half_north_south_cuts_through_the_centroid_into_north_and_south(db):
    area = AreaFactory(code="13353", name="Leopoldplatz", boundary=SQUARE)

    result = area_split(area=area, mode="half", axis="north-south")

    north, south = result.children
    assert (north.code, north.name, south.code, south.name) == (
        "13353-n",
        "Leopoldplatz (north)",
        "13353-s",
        "Leopoldplatz (south)",
    )
    assert north.boundary.extent == pytest.approx((13.33, 52.555, 13.34, 52.56), abs=1e-12)
    assert south.boundary.extent == pytest.approx((13.33, 52.55, 13.34, 52.555), abs=1e-12)
    # the stored line is horizontal through the centroid and extends past the area
    (x0, y0), (x1, y1) = result.split.line.coords
    assert (y0, y1) == pytest.approx((52.555, 52.555), abs=1e-12)
    assert x0 < 13.33 and x1 > 13.34


def test_half_east_west_cuts_through_the_centroid_into_west_and_east(db):
    area = AreaFactory(code="13353", name="Leopoldplatz", boundary=SQUARE)

    result = area_split(area=area, mode="half", axis="east-west")

    west, east = result.children
    assert (west.code, west.name, east.code, east.name) == (
        "13353-w",
        "Leopoldplatz (west)",
        "13353-e",
        "Leopoldplatz (east)",
    )
    assert west.boundary.extent == pytest.approx((13.33, 52.55, 13.335, 52.56), abs=1e-12)
    assert east.boundary.extent == pytest.approx((13.335, 52.55, 13.34, 52.56), abs=1e-12)


def test_half_of_a_concave_area_groups_the_pieces_by_side(db):
    # given a U open to the north: the line through its centroid cuts both arms
    u_shape = Polygon(
        (
            (13.33, 52.55),
            (13.34, 52.55),
            (13.34, 52.56),
            (13.338, 52.56),
            (13.338, 52.552),
            (13.332, 52.552),
            (13.332, 52.56),
            (13.33, 52.56),
            (13.33, 52.55),
        )
    )
    area = AreaFactory(code="u", boundary=u_shape)

    north, south = area_split(area=area, mode="half", axis="north-south").children

    # then the two arm tops make one northern part, the base and arm feet the southern one
    assert (len(north.boundary), len(south.boundary)) == (2, 1)
    assert north.boundary.area + south.boundary.area == pytest.approx(u_shape.area, rel=1e-9)


def test_half_of_a_multipolygon_area_puts_each_polygon_piece_on_its_side(db):
    # given an area of two separate squares, side by side
    area = AreaFactory(
        code="twin",
        boundary=MultiPolygon(square(13.33, 52.55, 0.004), square(13.336, 52.55, 0.004)),
    )

    west, east = area_split(area=area, mode="half", axis="east-west").children

    # then the centroid line runs through the gap: one square on each side
    assert west.boundary.equals(MultiPolygon(square(13.33, 52.55, 0.004)))
    assert east.boundary.equals(MultiPolygon(square(13.336, 52.55, 0.004)))


def test_share_north_south_puts_that_share_of_the_orders_on_the_north_side(db):
    # given 8 orders on the diagonal and 3 homes without one
    area = AreaFactory(code="13353", boundary=SQUARE)
    _diagonal_orders(8)
    for x in (13.3315, 13.3355, 13.3395):
        AddressFactory(location=Point(x, 52.5505))

    # when the split puts a quarter of the orders on the north side
    result = area_split(area=area, mode="share", share=0.25, axis="north-south")

    # then exactly 2 of the 8 are north, 6 south; the homes follow their location
    north, south = result.children
    assert (_figures(north)["orders"], _figures(south)["orders"]) == (2, 6)
    assert (_figures(north)["addresses"], _figures(south)["addresses"]) == (2, 9)
    assert result.note == "the line puts 25% of the 8 live orders of area 13353 on the north side"


def test_share_east_west_puts_that_share_of_the_orders_on_the_west_side(db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    _diagonal_orders(8)

    west, east = area_split(area=area, mode="share", share=0.75, axis="east-west").children

    assert (_figures(west)["orders"], _figures(east)["orders"]) == (6, 2)


def test_share_counts_orders_not_addresses(db):
    # given 4 addresses on the diagonal, the northernmost with 3 orders (6 orders in all)
    area = AreaFactory(code="13353", boundary=SQUARE)
    addresses = _diagonal_orders(4)
    for n in (1, 2):
        signup_record(address=addresses[-1], order_key=f"order:extra-{n}")

    # when half of the orders are to go north
    north, south = area_split(area=area, mode="share", share=0.5).children

    # then the northern part is the one address holding 3 of the 6
    assert (_figures(north)["orders"], _figures(south)["orders"]) == (3, 3)
    assert (_figures(north)["addresses"], _figures(south)["addresses"]) == (1, 3)


def test_share_without_orders_shares_the_homes_and_says_so(db):
    # given no orders: one MDU of 6 flats in the north, 2 houses in the south
    area = AreaFactory(code="13353", boundary=SQUARE)
    AddressFactory(location=Point(13.335, 52.558), premises_type=PremisesType.MDU_FLAT, units=6)
    AddressFactory(location=Point(13.334, 52.552))
    AddressFactory(location=Point(13.336, 52.551))

    preview = area_split_preview(area=area, mode="share", share=0.25, axis="north-south")

    # then the homes decide (the MDU holds 6 of 8 homes, so the line passes south of it)
    assert preview.plan.basis == "homes"
    assert preview.plan.note == (
        "area 13353 has no live orders yet, so the line puts 25% of its 8 homes on the"
        " north side instead"
    )
    assert [figures.homes for figures in preview.figures] == [6, 2]


def test_a_drawn_line_may_come_in_another_crs(db):
    # given the line across the square at x = 13.336 in EPSG:25833 (UTM 33N)
    area = AreaFactory(code="13353", boundary=SQUARE)
    line = LineString((13.336, 52.549), (13.336, 52.561), srid=4326)
    line.transform(25833)
    geojson = {
        "type": "LineString",
        "coordinates": [list(point) for point in line.coords],
        "crs": {"type": "name", "properties": {"name": "EPSG:25833"}},
    }

    result = area_split(area=area, line=geojson)

    # then it was transformed to 4326 before cutting
    assert result.split.line.srid == 4326
    assert result.split.line.coords[0] == pytest.approx((13.336, 52.549), abs=1e-8)
    west = min(result.children, key=lambda child: child.boundary.extent[0])
    assert west.boundary.extent[2] == pytest.approx(13.336, abs=1e-8)


# --- what the children inherit, and where the addresses and figures go -----------------


def test_children_inherit_phase_target_opt_in_and_attributes(db, planner):
    area = AreaFactory(code="13353", boundary=SQUARE, target_take_rate="0.35")
    Area.objects.filter(pk=area.pk).update(deploys_at_target=True, attributes={"district": "M"})
    area = area_start_demand_aggregation(area=area, actor=planner)

    result = area_split(area=area, mode="half", actor=planner, reason="north first")

    for child in result.children:
        assert child.phase == AreaPhase.DEMAND_AGGREGATION
        assert child.phase_changed_at == area.phase_changed_at
        assert child.target_take_rate == Decimal("0.3500")
        assert child.deploys_at_target is True
        assert child.attributes == {"district": "M"}
        # the inherited phase is written down in the child's history (not a transition)
        assert list(
            AreaPhaseChange.objects.filter(area=child).values_list(
                "from_phase", "to_phase", "actor", "reason"
            )
        ) == [
            (
                AreaPhase.DEMAND_AGGREGATION,
                AreaPhase.DEMAND_AGGREGATION,
                planner.pk,
                "split from 13353: inherits its phase (north first)",
            )
        ]
    # the parent keeps its phase and its history; the split is on record for it
    parent = Area.objects.get(pk=area.pk)
    assert (parent.phase, parent.is_active) == (AreaPhase.DEMAND_AGGREGATION, False)
    assert AreaPhaseChange.objects.filter(area=parent).count() == 1
    assert parent.split_record == result.split


def test_the_parents_addresses_interests_and_orders_are_shared_out_exactly(db):
    # given an area with homes, interests and orders north and south, an MDU among them
    area = AreaFactory(code="13353", boundary=SQUARE)
    north = [AddressFactory(location=Point(13.331 + i * 0.001, 52.558)) for i in range(5)]
    south = [AddressFactory(location=Point(13.331 + i * 0.001, 52.552)) for i in range(3)]
    flats = AddressFactory(
        location=Point(13.335, 52.553), premises_type=PremisesType.MDU_FLAT, units=4
    )
    for address in (*north[:3], south[0], flats):
        signup_record(address=address, order_key=f"order:{address.pk}")
    signup_record(address=flats, order_key="order:flats-2")
    for address in (north[0], north[4], south[1]):
        interest_register(address=address)
    before = _figures(area)

    north_child, south_child = area_split(area=area, mode="half").children

    # then the children's figures add up to the parent's before the split
    after = [_figures(north_child), _figures(south_child)]
    assert {key: after[0][key] + after[1][key] for key in FIGURES} == before
    assert after[0] == {
        "addresses": 5,
        "homes": 5,
        "interests": 2,
        "orders": 3,
        "addresses_with_interest": 2,
        "addresses_with_order": 3,
    }
    # the parent's figures go to zero: active areas never count an address twice
    assert _figures(area) == dict.fromkeys(FIGURES, 0)
    active = AreaFigures.objects.filter(area__is_active=True).aggregate(
        homes=Sum("homes"), orders=Sum("orders")
    )
    assert active == {"homes": before["homes"], "orders": before["orders"]}
    # and a brute-force recount agrees with what the split left
    stored = {pk: _figures(Area(pk=pk)) for pk in (area.pk, north_child.pk, south_child.pk)}
    refresh_figures(stored)
    assert {pk: _figures(Area(pk=pk)) for pk in stored} == stored


def test_an_address_on_the_line_goes_to_the_first_child(db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    on_the_line = AddressFactory(location=Point(13.335, 52.555))

    north, south = area_split(area=area, mode="half").children

    assert Address.objects.get(pk=on_the_line.pk).area == north
    assert north.pk < south.pk


def test_addresses_of_a_split_demo_area_go_to_the_child_containing_them(db):
    # given the demo town: 8 postcode areas, 3,006 addresses
    import_areas(DEMO_DATA / "areas.geojson", where=POSTCODES)
    import_addresses(DEMO_DATA / "addresses.geojson")
    area = Area.objects.get(code="13353")
    homes_before = area.figures.homes

    # when 13353 is split by a drawn line, then its southern part in half east-west
    line = {"type": "LineString", "coordinates": [[13.30, 52.545], [13.40, 52.547]]}
    south = area_split(area=area, line=line).children[1]
    area_split(area=south, mode="half", axis="east-west")

    # then every address matches shapely's brute-force answer, and none was lost
    assert assert_links_match_brute_force() == 3006
    children = Area.objects.filter(parent__code__in=["13353", "13353-b"], is_active=True)
    assert sorted(children.values_list("code", flat=True)) == ["13353-a", "13353-b-e", "13353-b-w"]
    assert sum(child.figures.homes for child in children) == homes_before
    # shapely agrees that the parts tile the parent
    parts = [shapely.from_wkb(bytes(child.boundary.wkb)) for child in children]
    parent = shapely.from_wkb(bytes(area.boundary.wkb))
    assert shapely.union_all(parts).symmetric_difference(parent).area < parent.area * 1e-9


def test_a_child_that_reaches_the_target_deploys_when_the_area_is_opted_in(db, planner):
    # given an area gathering demand toward 50%, opted in, with its orders all in the north
    area = AreaFactory(code="13353", boundary=SQUARE, target_take_rate="0.5")
    Area.objects.filter(pk=area.pk).update(deploys_at_target=True)
    north = [AddressFactory(location=Point(13.331 + i * 0.002, 52.558)) for i in range(4)]
    [AddressFactory(location=Point(13.331 + i * 0.002, 52.552)) for i in range(4)]
    area = area_start_demand_aggregation(area=area, actor=planner)
    for address in north[:3]:
        signup_record(address=address, order_key=f"order:{address.pk}")
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.DEMAND_AGGREGATION  # 3/8 < 50%

    # when it is split in half north-south
    north_child, south_child = area_split(area=area, mode="half", actor=planner).children

    # then the north (3/4 = 75%) goes into deployment on its own; the south keeps gathering
    assert (north_child.phase, south_child.phase) == (
        AreaPhase.IN_DEPLOYMENT,
        AreaPhase.DEMAND_AGGREGATION,
    )


def test_child_codes_get_a_counter_when_taken(db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    AreaFactory(code="13353-n", boundary=square(13.5, 52.5, 0.001))

    north, south = area_split(area=area, mode="half").children

    assert (north.code, south.code) == ("13353-n2", "13353-s")


def test_a_child_can_be_split_again(db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    north, _ = area_split(area=area, mode="half").children

    west, east = area_split(area=north, mode="half", axis="east-west").children

    assert (west.code, east.code, west.parent, east.parent) == (
        "13353-n-w",
        "13353-n-e",
        north,
        north,
    )
    assert west.boundary.extent == pytest.approx((13.33, 52.555, 13.335, 52.56), abs=1e-12)


# --- the preview ----------------------------------------------------------------------------


def test_the_preview_shows_both_parts_and_writes_nothing(db):
    area = AreaFactory(code="13353", name="Leopoldplatz", boundary=SQUARE)
    _diagonal_orders(8)
    interest_register(address=AddressFactory(location=Point(13.332, 52.558)))
    state = _state()

    preview = area_split_preview(area=area, mode="half", axis="north-south")

    assert _state() == state
    north, south = preview.plan.parts
    assert (north.side, north.code, north.name, south.side, south.code, south.name) == (
        "north",
        "13353-n",
        "Leopoldplatz (north)",
        "south",
        "13353-s",
        "Leopoldplatz (south)",
    )
    # on the ground, the northern half of a lon/lat square is a little smaller
    assert (north.share_of_surface, south.share_of_surface) == pytest.approx(
        (0.499972, 0.500028), abs=1e-6
    )
    assert [(f.addresses, f.homes, f.interests, f.orders) for f in preview.figures] == [
        (5, 5, 1, 4),
        (4, 4, 0, 4),
    ]
    assert [f.take_rate for f in preview.figures] == [Decimal("0.8000"), Decimal("1.0000")]
    assert [f.progress for f in preview.figures] == [Decimal("2.0000"), Decimal("2.5000")]


def test_the_split_gives_what_the_preview_showed(db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    _diagonal_orders(8)
    [AddressFactory(location=Point(13.3305 + i * 0.0007, 52.5595 - i * 0.0006)) for i in range(12)]
    line = {"type": "LineString", "coordinates": [[13.329, 52.552], [13.341, 52.5575]]}

    preview = area_split_preview(area=area, line=line)
    result = area_split(area=area, line=line)

    for part, figures, child in zip(
        preview.plan.parts, preview.figures, result.children, strict=True
    ):
        assert (child.code, child.name) == (part.code, part.name)
        assert child.boundary.equals(part.boundary)
        assert _figures(child) == {key: getattr(figures, key) for key in FIGURES}


# --- refusals: a clear message, and nothing changes ----------------------------------------

LINE_REFUSALS = [
    (
        {
            "type": "Polygon",
            "coordinates": [[[13.3, 52.5], [13.4, 52.5], [13.4, 52.6], [13.3, 52.5]]],
        },
        "the split line must be one LineString, not a Polygon",
    ),
    (
        {"type": "MultiLineString", "coordinates": [[[13.336, 52.549], [13.336, 52.561]]]},
        "the split line must be one LineString, not a MultiLineString",
    ),
    (
        {
            "type": "LineString",
            "coordinates": [[13.329, 52.552], [13.341, 52.558], [13.341, 52.552], [13.329, 52.558]],
        },
        "the split line crosses itself; draw a line without loops",
    ),
    (
        {"type": "LineString", "coordinates": [[13.2, 52.4], [13.21, 52.41]]},
        "the line does not cross area 13353: it lies entirely outside it",
    ),
    (
        {"type": "LineString", "coordinates": [[13.332, 52.552], [13.338, 52.558]]},
        "the line does not cross area 13353: both its ends lie inside it;"
        " draw it from outside the area to outside",
    ),
    (
        {"type": "LineString", "coordinates": [[13.329, 52.555], [13.335, 52.555]]},
        "the line does not cross area 13353: it must enter the area on one side and leave it"
        " on the other",
    ),
    (
        {
            "type": "LineString",
            "coordinates": [[13.332, 52.549], [13.334, 52.561], [13.336, 52.549]],
        },
        "the line splits the area into 3 parts; draw a line that crosses it once",
    ),
    (
        {"type": "LineString", "coordinates": [[13.33005, 52.549], [13.33005, 52.561]]},
        "the split leaves a sliver: the a part would hold only 0.5% of area 13353's surface"
        " (at least 1% each); move the line",
    ),
    (
        {"type": "LineString", "coordinates": [[13.336, 52.549], [13.336, 52.549]]},
        "the split line is unusable: invalid geometry: Too few points in geometry component"
        "[13.336 52.549]",
    ),
    (
        {"type": "LineString", "coordinates": [[52.549, 13.336], [252.561, 13.336]]},
        "the split line is unusable: coordinates out of range for EPSG:4326 (lon 52.549..252.561,"
        " lat 13.336..13.336): lon must be within -180..180 and lat within -90..90; give the CRS"
        " if it is projected",
    ),
]


@pytest.mark.parametrize(("line", "message"), LINE_REFUSALS)
def test_a_bad_line_is_refused_with_its_reason_and_nothing_changes(db, line, message):
    area = AreaFactory(code="13353", boundary=SQUARE)
    AddressFactory(location=Point(13.335, 52.555))
    state = _state()

    with pytest.raises(DomainError) as raised:
        area_split(area=area, line=line)

    assert raised.value.message == message
    assert raised.value.status_code == 400
    assert _state() == state
    with pytest.raises(DomainError) as previewed:
        area_split_preview(area=area, line=line)
    assert previewed.value.message == message


@pytest.mark.parametrize(
    "line",
    [
        {"type": "LineString", "coordinates": [[13.336, 52.549]]},
        {"type": "LineString", "coordinates": "nonsense"},
        {"type": "LineString"},
        "LINESTRING (13.336 52.549,",
        42,
    ],
)
def test_an_unreadable_line_is_refused_with_the_parsers_reason(db, line):
    area = AreaFactory(code="13353", boundary=SQUARE)
    state = _state()

    with pytest.raises(DomainError) as raised:
        area_split(area=area, line=line)

    assert raised.value.message.startswith("the split line is unusable: ")
    assert (raised.value.code, raised.value.field) == ("invalid_geometry", "line")
    assert _state() == state


def test_a_drawn_line_across_a_multipolygon_area_is_refused_with_a_hint(db):
    area = AreaFactory(
        code="twin",
        boundary=MultiPolygon(square(13.33, 52.55, 0.004), square(13.336, 52.55, 0.004)),
    )
    state = _state()

    with pytest.raises(DomainError) as raised:
        area_split(
            area=area,
            line={"type": "LineString", "coordinates": [[13.332, 52.549], [13.332, 52.555]]},
        )

    assert raised.value.message == (
        "the line splits the area into 3 parts; draw a line that crosses it once"
        " (area twin is made of 2 separate polygons: split it in half or by share instead)"
    )
    assert _state() == state


REQUEST_REFUSALS = [
    ({"mode": "share", "share": 0}, "share", "share must lie strictly between 0 and 1"),
    ({"mode": "share", "share": 1}, "share", "share must lie strictly between 0 and 1"),
    ({"mode": "share", "share": 1.5}, "share", "share must lie strictly between 0 and 1"),
    ({"mode": "share", "share": -0.2}, "share", "share must lie strictly between 0 and 1"),
    ({"mode": "share", "share": float("nan")}, "share", "share must lie strictly between"),
    ({"mode": "share", "share": "half"}, "share", "share must be a number between 0 and 1"),
    ({"mode": "share"}, "share", "mode share needs a share between 0 and 1"),
    ({"mode": "half", "share": 0.5}, "share", "share is only used with mode share"),
    ({"mode": "half", "line": ACROSS}, "line", "a drawn line is only used with mode line"),
    ({"mode": "line"}, "line", "draw a line across area 13353, or ask for mode half or share"),
    ({"mode": None}, "line", "draw a line across area 13353, or ask for mode half or share"),
    ({"mode": "thirds"}, "mode", "unknown split mode 'thirds'"),
    ({"mode": "half", "axis": "diagonal"}, "axis", "unknown axis 'diagonal'"),
]


@pytest.mark.parametrize(("request_", "field", "message"), REQUEST_REFUSALS)
def test_a_bad_split_request_is_refused_and_nothing_changes(db, request_, field, message):
    area = AreaFactory(code="13353", boundary=SQUARE)
    _diagonal_orders(2)
    state = _state()

    with pytest.raises(DomainError) as raised:
        area_split(area=area, **request_)

    assert raised.value.message.startswith(message)
    assert raised.value.field == field
    assert _state() == state


def test_a_share_line_that_leaves_a_sliver_is_refused(db):
    # given all orders squeezed against the western edge
    area = AreaFactory(code="13353", boundary=SQUARE)
    for i, x in enumerate((13.33002, 13.33003, 13.33003, 13.33004)):
        address = AddressFactory(location=Point(x, 52.555 + i * 0.001))
        signup_record(address=address, order_key=f"order:{i}")
    state = _state()

    with pytest.raises(DomainError) as raised:
        area_split(area=area, mode="share", share=0.5, axis="east-west")

    assert raised.value.message == (
        "the split leaves a sliver: the west part would hold only 0.3% of area 13353's surface"
        " (at least 1% each); move the line"
    )
    assert raised.value.code == "sliver"
    assert _state() == state


def test_an_empty_area_cannot_be_split_by_share(db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    state = _state()

    with pytest.raises(DomainError) as raised:
        area_split(area=area, mode="share", share=0.5)

    assert raised.value.message == (
        "area 13353 has no orders and no homes to share out; draw a line or split it in half"
    )
    assert _state() == state


def test_an_area_already_split_cannot_be_split_again(db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    area_split(area=area, mode="half")
    state = _state()

    with pytest.raises(Conflict) as raised:
        area_split(area=area, mode="half", axis="east-west")

    assert raised.value.message == (
        "area 13353 was already split (into 13353-n, 13353-s); split one of its parts"
    )
    assert (raised.value.code, raised.value.status_code) == ("area_retired", 409)
    assert _state() == state
    with pytest.raises(Conflict):
        area_split_preview(area=area, mode="half")


def test_the_parents_addresses_follow_the_assignment_rule_with_neighbours(db):
    # given the parent, then a neighbour sharing its eastern edge and an area overlapping
    # its north-western corner (both younger than the parent, older than its children)
    area = AreaFactory(code="13353", boundary=SQUARE)
    on_the_edge = AddressFactory(location=Point(13.34, 52.555))
    in_the_overlap = AddressFactory(location=Point(13.331, 52.559))
    elsewhere = AddressFactory(location=Point(13.335, 52.552))
    neighbour = AreaFactory(code="13355", boundary=square(13.34, 52.55, 0.01))
    overlapping = AreaFactory(code="corner", boundary=square(13.329, 52.558, 0.003))
    assert {Address.objects.get(pk=a.pk).area for a in (on_the_edge, in_the_overlap)} == {area}

    # when the parent is split
    west, east = area_split(area=area, mode="half", axis="east-west").children

    # then, as the assignment rule says, each goes to the oldest active area containing it
    assert Address.objects.get(pk=on_the_edge.pk).area == neighbour
    assert Address.objects.get(pk=in_the_overlap.pk).area == overlapping
    assert Address.objects.get(pk=elsewhere.pk).area == west
    assert assert_links_match_brute_force() == 3
    # and the figures of everyone touched follow
    assert [_figures(a)["addresses"] for a in (neighbour, overlapping, west, east, area)] == [
        1,
        1,
        1,
        0,
        0,
    ]
