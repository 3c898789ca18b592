"""Area and demand vector tiles: /tiles/areas/… and /tiles/demand/… (owner staff only)."""

import math
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point

from areas.lifecycle import AreaPhase
from areas.models import Area, AreaFigures, DemandCellCount, Interest, Signup
from areas.services import (
    area_split,
    interest_register,
    interest_withdraw,
    signup_record,
    signup_withdraw,
)
from areas.tiles import demand_cells_rebuild
from gis_core.models import Address
from gis_core.services import address_update
from tests.accounts.factories import UserFactory
from tests.areas.factories import AreaFactory, square
from tests.areas.town import build_town
from tests.gis_core.factories import AddressFactory
from tests.vector_tiles import features, position_in_tile, tile_of, tile_url

pytestmark = pytest.mark.django_db

MVT = "application/vnd.mapbox-vector-tile"
# the town of tests.areas.town lies at 13.30–13.33 E, 52.54 N: one zoom-12 tile
TOWN_TILE = tile_of(13.31, 52.542, 12)
LON, LAT = 13.3412, 52.5533


@pytest.fixture
def staff(client, planner):
    client.force_login(planner)
    return client


def get(client, kind: str, z: int, x: int, y: int, **params):
    return client.get(tile_url(kind, z, x, y), params)


def area_features(client, z: int, x: int, y: int) -> list[dict]:
    response = get(client, "areas", z, x, y)
    assert response.status_code in (200, 204)
    return features(response.content, "areas")


def demand_features(client, z: int, x: int, y: int, **params) -> list[dict]:
    response = get(client, "demand", z, x, y, **params)
    assert response.status_code in (200, 204)
    return features(response.content, "demand")


def address_at(lon: float, lat: float):
    return AddressFactory(location=Point(lon, lat, srid=4326))


HALF = 20037508.342789244


def demand_pyramid() -> dict:
    """The stored demand pyramid, each cell's rows summed: {(zoom, x, y): (i, o, sx, sy)}."""
    cells: dict = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for row in DemandCellCount.objects.all():
        sums = cells[row.zoom, row.cell_x, row.cell_y]
        for index, value in enumerate([row.interests, row.orders, row.sum_x, row.sum_y]):
            sums[index] += value
    return {cell: tuple(v) for cell, v in cells.items() if v[0] or v[1]}


def demand_recount() -> dict:
    """The demand pyramid as it should be, counted in Python from the live demand."""
    cells: dict = defaultdict(lambda: [0, 0, 0.0, 0.0])
    live = [
        *((0, i.address) for i in Interest.objects.filter(withdrawn_at=None)),
        *((1, s.address) for s in Signup.objects.filter(withdrawn_at=None)),
    ]
    for kind, address in live:
        point = Address.objects.get(pk=address.pk).location_3857
        for zoom in range(13):
            size = 2 * HALF / 2 ** (zoom + 4)
            key = (zoom, math.floor((point.x + HALF) / size), math.floor((HALF - point.y) / size))
            cells[key][kind] += 1
            cells[key][2] += point.x
            cells[key][3] += point.y
    return {cell: tuple(v) for cell, v in cells.items()}


def assert_demand_pyramid_is_right() -> None:
    stored, expected = demand_pyramid(), demand_recount()
    assert {c: v[:2] for c, v in stored.items()} == {c: v[:2] for c, v in expected.items()}
    for cell, values in expected.items():
        assert stored[cell][2:] == pytest.approx(values[2:], abs=1e-3)


# ---------------------------------------------------------------- areas


def test_each_area_is_drawn_with_its_phase_and_its_figures(staff):
    town = build_town()

    found = {f["id"]: f["properties"] for f in area_features(staff, *TOWN_TILE)}

    assert set(found) == {area.pk for area in town.values()}
    for area in town.values():
        figures = AreaFigures.objects.get(area=area)
        assert found[area.pk] == {
            "id": area.pk,
            "code": area.code,
            "name": area.name,
            "phase": area.phase,
            "homes": figures.homes,
            "interests": figures.interests,
            "orders": figures.orders,
            "take_rate": float(figures.take_rate),
            "interest_rate": float(figures.interest_rate),
            "target_take_rate": float(area.target_take_rate),
            "progress": float(figures.progress),
            "ready_to_build": figures.is_ready_to_build,
        }


def test_the_figures_say_which_areas_are_ready_to_build(staff):
    town = build_town()

    ready = {
        f["properties"]["code"]: f["properties"]["ready_to_build"]
        for f in area_features(staff, *TOWN_TILE)
    }

    assert ready == {"13347": False, "13349": True, "13351": False, "13353": True, "13405": True}
    assert town["13349"].phase == AreaPhase.DEMAND_AGGREGATION
    props = {f["properties"]["code"]: f["properties"] for f in area_features(staff, *TOWN_TILE)}
    assert (props["13349"]["orders"], props["13349"]["homes"], props["13349"]["take_rate"]) == (
        4,
        8,
        0.5,
    )


def test_an_area_without_figures_yet_shows_zeros(staff):
    area = AreaFactory(boundary=square(LON, LAT, 0.004), target_take_rate=Decimal("0.35"))
    AreaFigures.objects.filter(area=area).delete()

    [feature] = area_features(staff, *tile_of(LON + 0.002, LAT + 0.002, 14))

    assert feature["properties"] == {
        "id": area.pk,
        "code": area.code,
        "name": area.name,
        "phase": "planning",
        "homes": 0,
        "interests": 0,
        "orders": 0,
        "take_rate": 0.0,
        "interest_rate": 0.0,
        "target_take_rate": 0.35,
        "progress": 0.0,
        "ready_to_build": False,
    }


def test_an_area_is_drawn_where_it_is(staff):
    area = AreaFactory(boundary=square(LON, LAT, 0.004))
    z, x, y = tile_of(LON + 0.002, LAT + 0.002, 13)

    [feature] = area_features(staff, z, x, y)

    assert feature["id"] == area.pk
    assert feature["geometry"]["type"] == "Polygon"
    ring = feature["geometry"]["coordinates"][0]
    west, north = position_in_tile(LON, LAT + 0.004, z, x, y)
    east, south = position_in_tile(LON + 0.004, LAT, z, x, y)
    assert min(p[0] for p in ring) == pytest.approx(west, abs=1)
    assert max(p[0] for p in ring) == pytest.approx(east, abs=1)
    assert min(p[1] for p in ring) == pytest.approx(north, abs=1)
    assert max(p[1] for p in ring) == pytest.approx(south, abs=1)


def test_simplifying_at_a_low_zoom_does_not_drop_a_small_area(staff):
    # about 35 × 55 m: smaller than the zoom-10 simplification tolerance doubled
    area = AreaFactory(boundary=square(LON, LAT, 0.0005))

    [feature] = area_features(staff, *tile_of(LON, LAT, 10))

    assert feature["id"] == area.pk


def test_a_split_area_is_history_its_two_children_are_drawn(staff):
    parent = AreaFactory(boundary=square(LON, LAT, 0.004))
    for n in range(4):
        address_at(LON + 0.0005 + n * 0.0008, LAT + 0.0005 + n * 0.0008)

    result = area_split(area=parent, mode="half", axis="north-south", reason="test")

    found = {f["id"] for f in area_features(staff, *tile_of(LON + 0.002, LAT + 0.002, 13))}
    assert found == {child.pk for child in result.children}
    assert Area.objects.get(pk=parent.pk).is_active is False


def test_an_area_tile_follows_new_demand(staff):
    area = AreaFactory(boundary=square(LON, LAT, 0.004))
    address = address_at(LON + 0.001, LAT + 0.001)
    tile = tile_of(LON + 0.002, LAT + 0.002, 14)
    before = get(staff, "areas", *tile)

    signup_record(address=address, order_key="order:1")

    response = staff.get(tile_url("areas", *tile), headers={"if-none-match": before["ETag"]})
    assert response.status_code == 200
    [feature] = features(response.content, "areas")
    assert (feature["id"], feature["properties"]["orders"]) == (area.pk, 1)
    assert feature["properties"]["take_rate"] == 1.0


def test_an_area_tile_is_mvt_with_an_etag_and_304_when_unchanged(staff):
    AreaFactory(boundary=square(LON, LAT, 0.004))
    tile = tile_of(LON + 0.002, LAT + 0.002, 14)

    first = get(staff, "areas", *tile)
    again = staff.get(tile_url("areas", *tile), headers={"if-none-match": first["ETag"]})

    assert (first.status_code, first["Content-Type"]) == (200, MVT)
    assert first["Cache-Control"] == "private, max-age=60"
    assert (again.status_code, again.content) == (304, b"")


def test_a_tile_without_areas_is_204(staff):
    AreaFactory(boundary=square(LON, LAT, 0.004))
    z, x, y = tile_of(LON, LAT, 14)

    assert get(staff, "areas", z, x + 3, y).status_code == 204


# ---------------------------------------------------------------- demand


def test_from_zoom_13_each_live_interest_and_order_is_a_point(staff):
    area = AreaFactory(boundary=square(LON, LAT, 0.004))
    home = address_at(LON + 0.001, LAT + 0.001)
    outside = address_at(LON - 0.001, LAT + 0.001)
    interest = interest_register(address=home, at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    signup_record(address=home, order_key="order:7", at=datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    interest_register(address=outside, at=datetime(2026, 2, 1, 12, 0, tzinfo=UTC))
    z, x, y = tile_of(LON + 0.001, LAT + 0.001, 16)

    found = demand_features(staff, z, x, y)

    assert sorted((f["properties"] for f in found), key=lambda p: p["at"]) == [
        {"kind": "interest", "address_id": outside.pk, "at": "2026-02-01"},
        # 23:30 UTC is already the next day in Berlin
        {"kind": "interest", "address_id": home.pk, "area_id": area.pk, "at": "2026-03-02"},
        {"kind": "order", "address_id": home.pk, "area_id": area.pk, "at": "2026-03-05"},
    ]
    at_home = [f for f in found if f["properties"]["address_id"] == home.pk]
    expected = position_in_tile(LON + 0.001, LAT + 0.001, z, x, y)
    for feature in at_home:
        assert feature["geometry"]["coordinates"] == pytest.approx(list(expected), abs=1)
    assert Interest.objects.get(pk=interest.pk).is_live


def test_withdrawn_interests_and_cancelled_orders_are_not_demand(staff):
    home = address_at(LON + 0.001, LAT + 0.001)
    interest = interest_register(address=home)
    signup_record(address=home, order_key="order:8")
    signup_record(address=home, order_key="order:9")
    interest_withdraw(interest=interest)
    signup_withdraw(order_key="order:8")
    tile = tile_of(LON + 0.001, LAT + 0.001, 15)

    found = demand_features(staff, *tile)

    assert [f["properties"]["kind"] for f in found] == ["order"]
    signup_withdraw(order_key="order:9")
    assert get(staff, "demand", *tile).status_code == 204


def test_below_zoom_13_demand_is_counted_in_cells(staff):
    near = [address_at(LON + n * 0.00005, LAT) for n in range(3)]
    far = address_at(LON + 0.01, LAT + 0.005)
    for address in near:
        interest_register(address=address)
    signup_record(address=near[0], order_key="order:1")
    signup_record(address=near[1], order_key="order:2")
    signup_record(address=far, order_key="order:3")
    interest_withdraw(interest=interest_register(address=far))
    z, x, y = tile_of(LON, LAT, 12)
    assert tile_of(LON + 0.01, LAT + 0.005, 12) == (z, x, y)

    cells = demand_features(staff, z, x, y)

    assert sorted(tuple(sorted(c["properties"].items())) for c in cells) == [
        (("count", 1), ("interests", 0), ("orders", 1)),
        (("count", 5), ("interests", 3), ("orders", 2)),
    ]
    [near_cell] = [c for c in cells if c["properties"]["count"] == 5]
    points = [*near, near[0], near[1]]
    mean = (
        sum(a.location.x for a in points) / 5,
        sum(a.location.y for a in points) / 5,
    )
    assert near_cell["geometry"]["coordinates"] == pytest.approx(
        list(position_in_tile(*mean, z, x, y)), abs=1
    )


def test_a_low_zoom_demand_tile_counts_all_demand_under_it(staff):
    for n in range(12):
        address = address_at(LON + n * 0.002, LAT + (n % 4) * 0.002)
        interest_register(address=address)
        if n % 3 == 0:
            signup_record(address=address, order_key=f"order:{n}")

    cells = demand_features(staff, *tile_of(LON, LAT, 8))

    assert sum(c["properties"]["interests"] for c in cells) == 12
    assert sum(c["properties"]["orders"] for c in cells) == 4
    assert sum(c["properties"]["count"] for c in cells) == 16


@pytest.mark.parametrize("z", [10, 16])
def test_the_area_filter_keeps_only_that_areas_demand(staff, z):
    west = AreaFactory(boundary=square(LON, LAT, 0.002))
    AreaFactory(boundary=square(LON + 0.002, LAT, 0.002))
    in_west = address_at(LON + 0.0019, LAT + 0.001)
    in_east = address_at(LON + 0.0021, LAT + 0.001)
    signup_record(address=in_west, order_key="order:w")
    signup_record(address=in_east, order_key="order:e")
    interest_register(address=in_east)
    tile = tile_of(LON + 0.002, LAT + 0.001, z)

    everything = demand_features(staff, *tile)
    only_west = demand_features(staff, *tile, area=west.pk)

    if z >= 13:
        assert len(everything) == 3
        assert [(f["properties"]["kind"], f["properties"]["address_id"]) for f in only_west] == [
            ("order", in_west.pk)
        ]
    else:
        assert sum(c["properties"]["count"] for c in everything) == 3
        assert [c["properties"] for c in only_west] == [{"count": 1, "interests": 0, "orders": 1}]


def test_an_area_without_demand_gives_an_empty_demand_tile(staff):
    area = AreaFactory(boundary=square(LON, LAT, 0.004))
    signup_record(address=address_at(LON - 0.001, LAT), order_key="order:x")

    response = get(staff, "demand", *tile_of(LON, LAT, 14), area=area.pk)

    assert response.status_code == 204


@pytest.mark.parametrize(
    ("value", "status", "body"),
    [
        (
            "north",
            400,
            {
                "code": "domain_error",
                "detail": "area must be an area id (a number), not 'north'",
                "field": "area",
            },
        ),
        (
            "999999",
            404,
            {"code": "not_found", "detail": "there is no area 999999", "field": "area"},
        ),
    ],
)
def test_a_bad_area_filter_is_refused_with_a_message(staff, value, status, body):
    response = get(staff, "demand", *tile_of(LON, LAT, 14), area=value)

    assert response.status_code == status
    assert response.json() == body


def test_a_demand_tile_has_the_tile_headers(staff):
    signup_record(address=address_at(LON, LAT), order_key="order:h")
    tile = tile_of(LON, LAT, 14)

    response = get(staff, "demand", *tile)
    again = staff.get(tile_url("demand", *tile), headers={"if-none-match": response["ETag"]})

    assert (response.status_code, response["Content-Type"]) == (200, MVT)
    assert response["Cache-Control"] == "private, max-age=60"
    assert again.status_code == 304


def test_every_demand_row_keeps_its_address_location(db):
    home = address_at(LON, LAT)
    interest = interest_register(address=home)
    signup = signup_record(address=home, order_key="order:k")

    stored = Address.objects.get(pk=home.pk).location_3857
    assert Interest.objects.get(pk=interest.pk).location_3857 == stored
    assert Signup.objects.get(pk=signup.pk).location_3857 == stored


def test_demand_moves_with_its_address(staff):
    home = address_at(LON, LAT)
    interest_register(address=home)
    signup_record(address=home, order_key="order:m")
    old_tile = tile_of(LON, LAT, 16)

    address_update(address=home, location=Point(LON + 0.01, LAT + 0.01, srid=4326))

    assert get(staff, "demand", *old_tile).status_code == 204
    moved = demand_features(staff, *tile_of(LON + 0.01, LAT + 0.01, 16))
    assert sorted(f["properties"]["kind"] for f in moved) == ["interest", "order"]
    assert Interest.objects.get().location_3857 == Address.objects.get().location_3857
    assert_demand_pyramid_is_right()


def test_the_demand_pyramid_follows_every_change_of_the_demand_book(db):
    homes = [address_at(LON + n * 0.003, LAT + n * 0.002) for n in range(5)]
    interests = [interest_register(address=home) for home in homes]
    for n, home in enumerate(homes[:3]):
        signup_record(address=home, order_key=f"order:{n}")
    assert_demand_pyramid_is_right()

    interest_withdraw(interest=interests[0])
    signup_withdraw(order_key="order:1")
    assert_demand_pyramid_is_right()

    Interest.objects.bulk_create(
        [Interest(address=home, source="survey import") for home in homes[2:]]
    )
    assert_demand_pyramid_is_right()

    address_update(address=homes[2], location=Point(LON - 0.04, LAT + 0.03, srid=4326))
    assert_demand_pyramid_is_right()

    Address.objects.filter(pk=homes[4].pk).delete()  # its interests go with it
    assert_demand_pyramid_is_right()

    Interest.objects.all().delete()
    Signup.objects.all().delete()
    assert demand_pyramid() == {}


def test_the_demand_pyramid_rebuild_recounts_it(db):
    for n in range(6):
        interest_register(address=address_at(LON + n * 0.004, LAT))
    before = demand_pyramid()
    DemandCellCount.objects.filter(zoom__gt=4).delete()

    demand_cells_rebuild()

    assert demand_pyramid().keys() == before.keys()
    assert_demand_pyramid_is_right()


# ---------------------------------------------------------------- who may read them


@pytest.mark.parametrize("kind", ["areas", "demand"])
def test_anonymous_callers_get_401_not_a_login_redirect(client, kind):
    response = get(client, kind, *tile_of(LON, LAT, 14))

    assert response.status_code == 401
    assert not response.has_header("Location")


@pytest.mark.parametrize("kind", ["areas", "demand"])
def test_isp_users_get_403(client, kind):
    AreaFactory(boundary=square(LON, LAT, 0.004))
    client.force_login(UserFactory(isp=True))

    response = get(client, kind, *tile_of(LON, LAT, 14))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("kind", ["areas", "demand"])
def test_out_of_range_tiles_are_404(staff, kind):
    response = get(staff, kind, 5, 32, 0)

    assert response.status_code == 404
    assert response.json() == {
        "code": "tile_out_of_range",
        "detail": "x 32 is outside 0–31 at zoom 5",
    }


def test_area_and_demand_tiles_are_in_the_openapi_schema(staff):
    paths = staff.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert "/tiles/areas/{z}/{x}/{y}.pbf" in paths
    demand = paths["/tiles/demand/{z}/{x}/{y}.pbf"]["get"]
    assert "area" in [parameter["name"] for parameter in demand["parameters"]]
