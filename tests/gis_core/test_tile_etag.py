"""Tile cache validators over real HTTP, and GDAL's MVT driver reading the served tiles.

A live server (pytest-django's `live_server`) answers; the requests go through urllib
(the session cookie of a signed-in planner) and through GDAL itself (`ogrinfo` with an
API token in `GDAL_HTTP_HEADERS`), so what is checked is what a client really gets.
"""

import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.test import Client

from accounts.roles import TokenScope
from accounts.services import api_token_create
from areas.services import signup_record
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.services import address_await_deployment
from tests.accounts.factories import UserFactory
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory
from tests.vector_tiles import features, tile_of, tile_url

# the live server reads what the test wrote: it must be committed
pytestmark = pytest.mark.django_db(transaction=True)

MVT = "application/vnd.mapbox-vector-tile"
HALF = 20037508.342789244  # half the width of the Web Mercator square, in metres
# Müllerstraße, Berlin-Wedding
LON, LAT = 13.3412, 52.5533
ADDRESS_TILE = tile_of(LON, LAT, 16)
AREA_TILE = tile_of(LON + 0.002, LAT + 0.002, 14)

needs_gdal = pytest.mark.skipif(
    shutil.which("ogrinfo") is None, reason="GDAL's ogrinfo is not installed"
)


def address_at(lon: float, lat: float, **fields):
    return AddressFactory(location=Point(lon, lat, srid=4326), **fields)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def fetch(url: str, method: str = "GET", **headers) -> tuple[int, dict, bytes]:
    """One HTTP request: (status, headers, body), 3xx/4xx included."""
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def ogrinfo(source: str, *args: str, header: str | None = None) -> dict:
    """What `ogrinfo -al` says about a tile (a file or a /vsicurl/ URL).

    {layer: {"count": n, "fields": {name: type}, "features": {mvt_id: {"properties", "geometry"}}}}
    GDAL numbers features itself and gives the MVT feature id as the field `mvt_id`. (GDAL
    3.6 has no `ogrinfo -json`: its text report is parsed.)
    """
    command = ["ogrinfo", "-ro", "-al", *args]
    if header is not None:
        command += ["--config", "GDAL_HTTP_HEADERS", header]
    result = subprocess.run(
        [*command, source], capture_output=True, text=True, check=True, timeout=60
    )
    layers: dict = {}
    layer = feature = None
    for line in result.stdout.splitlines():
        if match := re.fullmatch(r"Layer name: (\w+)", line):
            layer = layers.setdefault(match[1], {"fields": {}})
        elif match := re.fullmatch(r"Feature Count: (\d+)", line):
            layer["count"] = int(match[1])
        elif match := re.fullmatch(r"(\w+): ([\w()]+) \(.*\)", line):
            layer["fields"][match[1]] = match[2]
        elif match := re.fullmatch(r"OGRFeature\((\w+)\):(\d+)", line):
            feature = {"properties": {}}
            layers[match[1]].setdefault("listed", []).append(feature)
        elif match := re.fullmatch(r"  (\w+) \(([\w()]+)\) = (.*)", line):
            value, kind = match[3], match[2]
            typed = float(value) if kind == "Real" else int(value) if "Integer" in kind else value
            feature["properties"][match[1]] = typed
        elif feature is not None and re.fullmatch(r"  [A-Z]+ .*", line):
            feature["geometry"] = line.strip()
    for found in layers.values():
        listed = found.pop("listed", [])
        found["features"] = {f["properties"].pop("mvt_id", None): f for f in listed}
    return layers


# ---------------------------------------------------------------- validators over HTTP


def test_a_client_revalidates_a_tile_cheaply_until_an_address_changes(live_server, planner):
    address = address_at(LON, LAT)
    url = live_server.url + tile_url("addresses", *ADDRESS_TILE)
    cookie = session_cookie(planner)

    status, headers, _ = fetch(url, Cookie=cookie)
    assert (status, headers["Content-Type"]) == (200, MVT)
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong
    assert headers["Cache-Control"] == "private, max-age=60"
    assert {"Authorization", "Cookie"} <= {v.strip() for v in headers["Vary"].split(",")}

    status, headers, again = fetch(url, Cookie=cookie, **{"If-None-Match": etag})
    assert (status, again) == (304, b"")
    assert headers["ETag"] == etag
    assert headers["Cache-Control"] == "private, max-age=60"
    # a cache would copy a 304's Content-Type onto the tile it keeps
    assert "Content-Type" not in headers

    address_await_deployment(address=address)

    status, headers, changed = fetch(url, Cookie=cookie, **{"If-None-Match": etag})
    assert status == 200
    assert headers["ETag"] != etag
    [feature] = features(changed, "addresses")
    assert feature["properties"]["status"] == AddressStatus.AWAITING_DEPLOYMENT


def test_an_area_tile_revalidates_until_its_demand_changes(live_server, planner):
    AreaFactory(boundary=square(LON, LAT, 0.004))
    address = address_at(LON + 0.001, LAT + 0.001)
    url = live_server.url + tile_url("areas", *AREA_TILE)
    cookie = session_cookie(planner)
    status, headers, _ = fetch(url, Cookie=cookie)
    etag = headers["ETag"]

    assert fetch(url, Cookie=cookie, **{"If-None-Match": etag})[0] == 304

    signup_record(address=address, order_key="order:1")

    status, headers, changed = fetch(url, Cookie=cookie, **{"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    assert features(changed, "areas")[0]["properties"]["orders"] == 1


def test_head_answers_like_get_without_the_body(live_server, planner):
    address_at(LON, LAT)
    url = live_server.url + tile_url("addresses", *ADDRESS_TILE)
    cookie = session_cookie(planner)
    etag = fetch(url, Cookie=cookie)[1]["ETag"]

    status, headers, body = fetch(url, "HEAD", Cookie=cookie)
    assert (status, headers["ETag"], body) == (200, etag, b"")
    assert fetch(url, "HEAD", Cookie=cookie, **{"If-None-Match": etag})[0] == 304


@pytest.mark.parametrize("if_none_match", ['"0123"', 'W/"0123"', '"0123", "4567"', "bogus"])
def test_another_or_unparseable_etag_gets_the_whole_tile(live_server, planner, if_none_match):
    address_at(LON, LAT)
    url = live_server.url + tile_url("addresses", *ADDRESS_TILE)

    status, headers, body = fetch(
        url, Cookie=session_cookie(planner), **{"If-None-Match": if_none_match}
    )

    assert status == 200 and body and headers["ETag"]


def test_an_empty_tile_is_204_with_an_etag_and_revalidates(live_server, planner):
    z, x, y = ADDRESS_TILE
    url = live_server.url + tile_url("addresses", z, x + 2, y)
    cookie = session_cookie(planner)

    status, headers, body = fetch(url, Cookie=cookie)
    assert (status, body) == (204, b"")
    etag = headers["ETag"]

    for if_none_match in (etag, "*"):
        assert fetch(url, Cookie=cookie, **{"If-None-Match": if_none_match})[:3:2] == (304, b"")


def test_the_permission_is_checked_before_the_etag(live_server, planner):
    """A 304 would tell an outsider the tile is what they guessed: they get 401/403 instead."""
    address_at(LON, LAT)
    url = live_server.url + tile_url("addresses", *ADDRESS_TILE)
    etag = fetch(url, Cookie=session_cookie(planner))[1]["ETag"]
    isp = session_cookie(UserFactory(isp=True))

    for header in (etag, "*"):
        anonymous = fetch(url, **{"If-None-Match": header})
        outsider = fetch(url, Cookie=isp, **{"If-None-Match": header})
        assert anonymous[0] == 401 and "ETag" not in anonymous[1]
        assert outsider[0] == 403 and "ETag" not in outsider[1]


# ---------------------------------------------------------------- GDAL reads the tiles


@needs_gdal
@pytest.mark.parametrize("auth", ["token", "session"])
def test_gdal_reads_an_address_tile_straight_from_the_server(live_server, planner, auth):
    addresses = [
        address_at(LON + n * 0.0001, LAT, premises_type="mdu_flat", units=n + 2) for n in range(3)
    ]
    address_await_deployment(address=addresses[0])
    if auth == "token":
        _, token = api_token_create(user=planner, name="gdal", scopes=[TokenScope.READ])
        header = f"Authorization: Bearer {token}"
    else:
        header = f"Cookie: {session_cookie(planner)}"
    url = live_server.url + tile_url("addresses", *ADDRESS_TILE)

    # the URL ends in {z}/{x}/{y}.pbf: GDAL takes the tile address from it
    layers = ogrinfo(f"MVT:/vsicurl/{url}", header=header)

    assert list(layers) == ["addresses"]
    layer = layers["addresses"]
    assert layer["count"] == 3
    assert layer["fields"]["status"] == "String" and layer["fields"]["units"] == "Integer"
    assert layer["fields"]["label"] == "String"
    found = layer["features"]
    assert set(found) == {a.pk for a in addresses}  # GDAL's mvt_id
    assert found[addresses[0].pk]["properties"]["status"] == "awaiting_deployment"
    assert found[addresses[1].pk]["properties"]["status"] == "planned"
    assert found[addresses[2].pk]["properties"]["units"] == 4
    assert found[addresses[1].pk]["properties"]["label"] == addresses[1].label
    # georeferenced in EPSG:3857, where the address is (a tile unit is 2.4 m at zoom 16)
    x, y = map(
        float,
        re.fullmatch(r"POINT \(([-\d.]+) ([-\d.]+)\)", found[addresses[1].pk]["geometry"]).groups(),
    )
    stored = Address.objects.get(pk=addresses[1].pk).location_3857
    assert (x, y) == (pytest.approx(stored.x, abs=3), pytest.approx(stored.y, abs=3))


@needs_gdal
def test_gdal_without_a_token_is_refused(live_server):
    address_at(LON, LAT)
    url = live_server.url + tile_url("addresses", *ADDRESS_TILE)

    with pytest.raises(subprocess.CalledProcessError):
        ogrinfo(f"MVT:/vsicurl/{url}")


@needs_gdal
def test_gdal_reads_an_area_tile_saved_from_a_session(live_server, planner, tmp_path):
    area = AreaFactory(boundary=square(LON, LAT, 0.004), name="Nordufer")
    signup_record(address=address_at(LON + 0.001, LAT + 0.001), order_key="order:1")
    z, x, y = AREA_TILE
    status, _, body = fetch(
        live_server.url + tile_url("areas", z, x, y), Cookie=session_cookie(planner)
    )
    assert status == 200
    path = tmp_path / "area.pbf"
    path.write_bytes(body)

    # a lone file carries no tile address: say which tile it is
    layers = ogrinfo(f"MVT:{path}", "-oo", f"Z={z}", "-oo", f"X={x}", "-oo", f"Y={y}")

    assert list(layers) == ["areas"]
    assert layers["areas"]["count"] == 1
    [(mvt_id, feature)] = layers["areas"]["features"].items()
    assert mvt_id == area.pk
    assert feature["geometry"].startswith(("POLYGON", "MULTIPOLYGON"))
    properties = feature["properties"]
    assert (properties["code"], properties["name"], properties["phase"]) == (
        area.code,
        "Nordufer",
        "planning",
    )
    assert (properties["homes"], properties["orders"], properties["take_rate"]) == (1, 1, 1.0)
    assert properties["ready_to_build"] == 1  # GDAL's Integer(Boolean)
    # in EPSG:3857: the polygon's first vertex lies within the tile's bounds
    first_x = float(re.search(r"\(\(+([-\d.]+) ", feature["geometry"])[1])
    size = 2 * HALF / 2**z
    assert -HALF + x * size - size / 8 <= first_x <= -HALF + (x + 1) * size + size / 8
