"""Address vector tiles: /tiles/addresses/{z}/{x}/{y}.pbf, points from zoom 14, cells below."""

import math
import re
import shutil
import subprocess
from collections import defaultdict

import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from accounts.roles import Role, TokenScope
from accounts.services import api_token_create
from gis_core.lifecycle import AddressStatus, PremisesType
from gis_core.models import Address, AddressCellCount
from gis_core.services import (
    address_activate,
    address_await_deployment,
    address_connect,
    address_start_deployment,
    address_update,
)
from gis_core.tiles import address_cells_rebuild
from tests.accounts.factories import UserFactory
from tests.areas.factories import AreaFactory, square
from tests.conftest import DEMO_DATA
from tests.gis_core.factories import AddressFactory
from tests.vector_tiles import features, position_in_tile, tile_of, tile_url

pytestmark = pytest.mark.django_db

MVT = "application/vnd.mapbox-vector-tile"
HALF = 20037508.342789244
STATUSES = [status.value for status in AddressStatus]
# Müllerstraße, Berlin-Wedding
LON, LAT = 13.3412, 52.5533


@pytest.fixture
def staff(client, planner):
    client.force_login(planner)
    return client


def address_at(lon: float, lat: float, **fields) -> Address:
    return AddressFactory(location=Point(lon, lat, srid=4326), **fields)


def move_to(address: Address, status: str) -> Address:
    """Walk an address along its lifecycle through the services, as production does."""
    steps = [
        (AddressStatus.AWAITING_DEPLOYMENT, address_await_deployment),
        (AddressStatus.IN_DEPLOYMENT, address_start_deployment),
        (AddressStatus.CONNECTED, address_connect),
        (AddressStatus.ACTIVATED, address_activate),
    ]
    for reached, step in steps:
        if address.status == status:
            break
        address = step(address=address)
        assert address.status == reached
    return address


def get(client, z: int, x: int, y: int, **headers):
    return client.get(tile_url("addresses", z, x, y), headers=headers)


def tile_features(client, z: int, x: int, y: int) -> list[dict]:
    response = get(client, z, x, y)
    assert response.status_code in (200, 204)
    return features(response.content, "addresses")


def expected_cells(z: int, x: int, y: int) -> list[dict]:
    """Brute force: every stored address in tile z/x/y, grouped into 1/16-tile cells."""
    size = 2 * HALF / 2 ** (z + 4)
    cells: dict = defaultdict(list)
    for address in Address.objects.all():
        point = address.location_3857
        cell = (math.floor((point.x + HALF) / size), math.floor((HALF - point.y) / size))
        if (cell[0] >> 4, cell[1] >> 4) == (x, y):
            cells[cell].append(address)
    result = []
    for members in cells.values():
        by_status = {status: sum(a.status == status for a in members) for status in STATUSES}
        top = max(by_status.values())
        dominant = [status for status in STATUSES if by_status[status] == top][-1]
        mean_x = sum(a.location_3857.x for a in members) / len(members)
        mean_y = sum(a.location_3857.y for a in members) / len(members)
        tile = 2 * HALF / 2**z
        result.append(
            {
                "properties": {
                    "count": len(members),
                    "homes": sum(a.units for a in members),
                    **by_status,
                    "status": dominant,
                },
                "at": (
                    (mean_x + HALF - x * tile) / tile * 4096,
                    (HALF - mean_y - y * tile) / tile * 4096,
                ),
            }
        )
    return sorted(result, key=lambda cell: cell["at"])


def pyramid() -> dict:
    """The stored pyramid, each cell's rows summed: {(zoom, x, y): (counts…, sum_x, sum_y)}."""
    cells: dict = defaultdict(lambda: [0] * 9)
    for row in AddressCellCount.objects.all():
        values = [row.addresses, row.homes, *(getattr(row, s) for s in STATUSES)]
        sums = cells[row.zoom, row.cell_x, row.cell_y]
        for index, value in enumerate([*values, row.sum_x, row.sum_y]):
            sums[index] += value
    return {cell: tuple(values) for cell, values in cells.items() if values[0] != 0}


def recount() -> dict:
    """The pyramid as it should be, counted in Python from the stored addresses."""
    cells: dict = defaultdict(lambda: [0] * 9)
    for address in Address.objects.all():
        point = address.location_3857
        for zoom in range(14):
            size = 2 * HALF / 2 ** (zoom + 4)
            key = (zoom, math.floor((point.x + HALF) / size), math.floor((HALF - point.y) / size))
            sums = cells[key]
            sums[0] += 1
            sums[1] += address.units
            sums[2 + STATUSES.index(address.status)] += 1
            sums[7] += point.x
            sums[8] += point.y
    return {cell: tuple(values) for cell, values in cells.items()}


def assert_pyramid_is_right() -> None:
    stored, expected = pyramid(), recount()
    assert {cell: values[:7] for cell, values in stored.items()} == {
        cell: values[:7] for cell, values in expected.items()
    }
    for cell, values in expected.items():
        assert stored[cell][7:] == pytest.approx(values[7:], abs=1e-3)


# ---------------------------------------------------------------- points from zoom 14


@pytest.mark.parametrize("z", [15, 16, 22])
def test_from_zoom_15_an_address_is_a_point_with_its_properties_and_label(staff, z):
    area = AreaFactory(boundary=square(13.34, 52.55, 0.01))
    address = address_at(LON, LAT, house_number="12a", premises_type=PremisesType.MDU_FLAT, units=6)

    [feature] = tile_features(staff, *tile_of(LON, LAT, z))

    assert feature["id"] == address.pk  # the MVT feature id, not a property
    assert feature["properties"] == {
        "status": "planned",
        "premises_type": "mdu_flat",
        "units": 6,
        "area_id": area.pk,
        "label": "Müllerstraße 12a, 13353 Berlin",
    }
    x, y = position_in_tile(LON, LAT, *tile_of(LON, LAT, z))
    assert feature["geometry"]["type"] == "Point"
    assert feature["geometry"]["coordinates"] == pytest.approx([x, y], abs=1)


def test_at_zoom_14_an_address_point_has_no_label(staff):
    # a dense town's zoom-14 tile holds thousands of addresses: labels would double it
    area = AreaFactory(boundary=square(13.34, 52.55, 0.01))
    address = address_at(LON, LAT)

    [feature] = tile_features(staff, *tile_of(LON, LAT, 14))

    assert feature["id"] == address.pk
    assert feature["properties"] == {
        "status": "planned",
        "premises_type": "single_family",
        "units": 1,
        "area_id": area.pk,
    }


def test_an_address_outside_every_area_has_no_area_id(staff):
    address_at(LON, LAT)

    [feature] = tile_features(staff, *tile_of(LON, LAT, 15))

    assert "area_id" not in feature["properties"]


def test_a_point_tile_holds_exactly_the_addresses_inside_it(staff):
    z, x, y = tile_of(LON, LAT, 16)
    inside = [address_at(LON + i * 0.0001, LAT) for i in range(3)]
    address_at(LON + 0.02, LAT)  # four z16 tiles to the east
    address_at(LON, LAT + 0.02)  # north

    found = tile_features(staff, z, x, y)

    assert sorted(feature["id"] for feature in found) == [a.pk for a in inside]


def test_a_tile_without_addresses_is_204_no_content(staff):
    address_at(LON, LAT)
    z, x, y = tile_of(LON, LAT, 16)

    response = get(staff, z, x + 2, y)

    assert response.status_code == 204
    assert response.content == b""
    assert response["Cache-Control"] == "private, max-age=60"
    assert response["ETag"].startswith('"')


# ---------------------------------------------------------------- cells below zoom 14


def test_below_zoom_14_cells_count_addresses_homes_and_statuses(staff):
    planned = [address_at(LON + i * 0.00005, LAT) for i in range(3)]
    waiting = [
        move_to(address_at(LON, LAT + 0.00005), AddressStatus.AWAITING_DEPLOYMENT),
        move_to(
            address_at(LON + 0.00005, LAT + 0.00005, premises_type="mdu_flat", units=4),
            AddressStatus.AWAITING_DEPLOYMENT,
        ),
    ]
    connected = move_to(address_at(LON, LAT - 0.00005), AddressStatus.CONNECTED)
    z, x, y = tile_of(LON, LAT, 12)

    [cell] = tile_features(staff, z, x, y)

    assert cell["properties"] == {
        "count": 6,
        "homes": 9,
        "planned": 3,
        "awaiting_deployment": 2,
        "in_deployment": 0,
        "connected": 1,
        "activated": 0,
        "status": "planned",
    }
    members = [*planned, *waiting, connected]
    mean_lon = sum(a.location.x for a in members) / 6
    mean_lat = sum(a.location.y for a in members) / 6
    assert cell["geometry"]["coordinates"] == pytest.approx(
        list(position_in_tile(mean_lon, mean_lat, z, x, y)), abs=1
    )


def test_a_cell_takes_the_status_most_of_its_addresses_have_ties_to_the_further_one(staff):
    address_at(LON, LAT)
    move_to(address_at(LON + 0.00005, LAT), AddressStatus.ACTIVATED)
    z, x, y = tile_of(LON, LAT, 10)

    [cell] = tile_features(staff, z, x, y)

    assert (cell["properties"]["planned"], cell["properties"]["activated"]) == (1, 1)
    assert cell["properties"]["status"] == "activated"


@pytest.mark.parametrize("z", range(14))
def test_every_cell_zoom_matches_a_brute_force_count(staff, z):
    # a spread of addresses over a few kilometres, with every status and some MDUs
    statuses = STATUSES * 8
    for n, status in enumerate(statuses):
        lon = LON + (n % 7) * 0.004 - 0.012
        lat = LAT + (n // 7) * 0.003 - 0.009
        mdu = {"premises_type": "mdu_flat", "units": 8} if n % 5 == 0 else {}
        move_to(address_at(lon, lat, **mdu), status)
    x, y = tile_of(LON, LAT, z)[1:]

    found = sorted(
        (
            {"properties": f["properties"], "at": tuple(f["geometry"]["coordinates"])}
            for f in tile_features(staff, z, x, y)
        ),
        key=lambda cell: cell["at"],
    )

    expected = expected_cells(z, x, y)
    assert [cell["properties"] for cell in found] == [cell["properties"] for cell in expected]
    for cell, wanted in zip(found, expected, strict=True):
        assert cell["at"] == pytest.approx(wanted["at"], abs=1)
    if z <= 10:  # the whole spread lies in one tile
        assert sum(cell["properties"]["count"] for cell in found) == 40


def test_a_low_zoom_tile_counts_every_address_under_it(staff):
    for n in range(25):
        address_at(LON + n * 0.001, LAT + (n % 3) * 0.001)

    cells = tile_features(staff, *tile_of(LON, LAT, 8))

    assert sum(cell["properties"]["count"] for cell in cells) == 25
    assert sum(cell["properties"]["planned"] for cell in cells) == 25


# ---------------------------------------------------------------- the pyramid behind the cells


def test_the_pyramid_follows_creates_status_changes_moves_unit_changes_and_deletes(db):
    addresses = [address_at(LON + n * 0.002, LAT + n * 0.001) for n in range(6)]
    assert_pyramid_is_right()

    move_to(addresses[0], AddressStatus.CONNECTED)
    move_to(addresses[1], AddressStatus.AWAITING_DEPLOYMENT)
    assert_pyramid_is_right()

    address_update(address=addresses[2], location=Point(LON - 0.05, LAT + 0.04, srid=4326))
    address_update(address=addresses[3], premises_type="mdu_flat", units=12)
    assert_pyramid_is_right()

    Address.objects.filter(pk__in=[addresses[4].pk, addresses[5].pk]).delete()
    assert_pyramid_is_right()

    Address.objects.all().delete()
    assert pyramid() == {}


def test_the_pyramid_follows_a_bulk_import(db):
    from gis_core.importing import import_addresses

    import_addresses(DEMO_DATA / "addresses.geojson")

    assert_pyramid_is_right()
    assert pyramid()[0, 8, 5][0] == 3006  # the whole town in one zoom-0 cell


def test_each_cell_keeps_one_row_when_writes_come_one_after_another(db):
    for n in range(5):
        move_to(address_at(LON + n * 0.0001, LAT), STATUSES[n])

    rows = AddressCellCount.objects.values_list("zoom", "cell_x", "cell_y")
    assert len(rows) == len(set(rows)) == len(pyramid())


def test_the_area_assignment_leaves_the_pyramid_alone(db):
    for n in range(4):
        address_at(LON + n * 0.0001, LAT)
    before = set(AddressCellCount.objects.values_list("id", flat=True))

    area = AreaFactory(boundary=square(13.34, 52.55, 0.01))

    assert Address.objects.filter(area=area).count() == 4
    assert set(AddressCellCount.objects.values_list("id", flat=True)) == before


def test_the_pyramid_rebuild_recounts_it_from_the_addresses(db):
    for n in range(8):
        move_to(address_at(LON + n * 0.003, LAT), STATUSES[n % 5])
    before = pyramid()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM gis_core_addresscellcount WHERE zoom > 5")

    address_cells_rebuild()

    assert pyramid().keys() == before.keys()
    assert_pyramid_is_right()


# ---------------------------------------------------------------- HTTP


def test_a_tile_is_served_as_mvt_with_private_short_caching_and_an_etag(staff):
    address_at(LON, LAT)

    response = get(staff, *tile_of(LON, LAT, 16))

    assert response.status_code == 200
    assert response["Content-Type"] == MVT
    assert response["Cache-Control"] == "private, max-age=60"
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert {"Authorization", "Cookie"} <= {v.strip() for v in response["Vary"].split(",")}


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', "*"],
)
def test_a_client_holding_the_tile_gets_304_not_modified(staff, if_none_match):
    address_at(LON, LAT)
    tile = tile_of(LON, LAT, 16)
    etag = get(staff, *tile)["ETag"]

    response = get(staff, *tile, if_none_match=if_none_match.format(etag=etag))

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "private, max-age=60"


def test_the_etag_changes_when_the_tile_does(staff):
    address = address_at(LON, LAT)
    tile = tile_of(LON, LAT, 16)
    etag = get(staff, *tile)["ETag"]

    move_to(address, AddressStatus.AWAITING_DEPLOYMENT)
    response = get(staff, *tile, if_none_match=etag)

    assert response.status_code == 200
    assert response["ETag"] != etag
    [feature] = features(response.content, "addresses")
    assert feature["properties"]["status"] == "awaiting_deployment"


@pytest.mark.parametrize(
    ("z", "x", "y", "detail"),
    [
        (23, 0, 0, "zoom 23 is outside 0–22"),
        (3, 8, 0, "x 8 is outside 0–7 at zoom 3"),
        (3, 0, 8, "y 8 is outside 0–7 at zoom 3"),
        (0, 1, 0, "x 1 is outside 0–0 at zoom 0"),
    ],
)
def test_a_tile_outside_the_pyramid_is_404_with_a_message(staff, z, x, y, detail):
    response = get(staff, z, x, y)

    assert response.status_code == 404
    assert response.json() == {"code": "tile_out_of_range", "detail": detail}


def test_a_negative_tile_number_is_not_a_tile_url(staff):
    assert staff.get("/tiles/addresses/3/-1/0.pbf").status_code == 404


def test_an_anonymous_caller_gets_401_not_a_login_redirect(client):
    address_at(LON, LAT)

    response = get(client, *tile_of(LON, LAT, 16))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["code"] == "not_authenticated"
    assert not response.has_header("Location")


@pytest.mark.parametrize("trait", ["isp", "contractor"])
def test_users_outside_the_owner_get_403(client, trait):
    address_at(LON, LAT)
    client.force_login(UserFactory(**{trait: True}))

    response = get(client, *tile_of(LON, LAT, 16))

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_every_owner_staff_role_may_read_tiles(client, owner):
    address_at(LON, LAT)
    client.force_login(UserFactory(organisation=owner, role=Role.FINANCE))

    assert get(client, *tile_of(LON, LAT, 16)).status_code == 200


def test_an_owner_staff_api_token_reads_tiles_and_an_isp_token_does_not(client, planner):
    address_at(LON, LAT)
    tile = tile_of(LON, LAT, 16)
    _, staff_key = api_token_create(user=planner, name="qgis", scopes=[TokenScope.READ])
    _, isp_key = api_token_create(user=UserFactory(isp=True), name="isp", scopes=[TokenScope.READ])

    assert get(client, *tile, authorization=f"Bearer {staff_key}").status_code == 200
    assert get(client, *tile, authorization=f"Bearer {isp_key}").status_code == 403
    assert get(client, *tile, authorization="Bearer oanm_wrong").status_code == 401


def test_a_tile_costs_two_queries_whatever_it_holds(staff, django_assert_num_queries):
    for n in range(30):
        address_at(LON + n * 0.00002, LAT)

    # the session comes from the cache; the user with their membership and organisation in
    # one query (accounts.backends); then the tile itself
    for z in (8, 16):
        with django_assert_num_queries(2):
            assert get(staff, *tile_of(LON, LAT, z)).status_code == 200


def test_the_tiles_are_in_the_openapi_schema(staff):
    paths = staff.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert "/tiles/addresses/{z}/{x}/{y}.pbf" in paths
    responses = paths["/tiles/addresses/{z}/{x}/{y}.pbf"]["get"]["responses"]
    assert MVT in responses["200"]["content"]


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed")
@pytest.mark.parametrize("z", [12, 16])
def test_gdal_reads_our_tile_as_a_gis_client_would(staff, tmp_path, z):
    addresses = [address_at(LON + n * 0.0001, LAT) for n in range(3)]
    z, x, y = tile_of(LON, LAT, z)
    response = get(staff, z, x, y)
    assert response.status_code == 200
    path = tmp_path / f"{z}.pbf"
    path.write_bytes(response.content)

    result = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}", path],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert "Layer name: addresses" in result.stdout
    assert "Geometry: Point" in result.stdout
    assert ("Feature Count: 3" if z == 16 else "Feature Count: 1") in result.stdout
    assert ("label: String" if z == 16 else "count: Integer") in result.stdout
    if z == 16:
        # in EPSG:3857, where the addresses are (to a tile unit: 2.4 m at zoom 16)
        extent = re.search(
            r"Extent: \(([-\d.]+), ([-\d.]+)\) - \(([-\d.]+), ([-\d.]+)\)", result.stdout
        )
        west, south, east, north = (float(value) for value in extent.groups())
        stored = [Address.objects.get(pk=a.pk).location_3857 for a in addresses]
        assert west == pytest.approx(min(p.x for p in stored), abs=3)
        assert east == pytest.approx(max(p.x for p in stored), abs=3)
        assert south == pytest.approx(stored[0].y, abs=3)
        assert north == pytest.approx(stored[0].y, abs=3)
