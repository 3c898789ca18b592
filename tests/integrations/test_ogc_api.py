"""OGC API – Features at /ogc/ through Django's test client: Part 1 Core, Part 2 CRS, access."""

from urllib.parse import urlsplit

import pytest

from accounts.roles import OrganisationKind, Role
from accounts.services import api_token_create, organisation_create, user_create
from tests.integrations.ogc_town import ADDRESSES, EAST_COLUMN, LONELY, NORTH_ROW, build_town

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"


@pytest.fixture
def town(owner):
    return build_town(owner)


@pytest.fixture
def get(client, town):
    """GET as the planner's read token; returns the response."""

    def _get(path, scope="read", **params):
        return client.get(path, params, headers=town.auth(scope))

    return _get


def link(document, rel, type_=None):
    found = [
        item for item in document["links"] if item["rel"] == rel and type_ in (None, item["type"])
    ]
    return found[0]["href"] if found else None


def path_of(href):
    parts = urlsplit(href)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# --- Part 1: landing, conformance, OpenAPI, collections ---------------------------------


def test_landing_page_links_the_api_conformance_and_data(get):
    response = get("/ogc/")
    assert response.status_code == 200
    landing = response.json()
    assert path_of(link(landing, "service-desc")) == "/ogc/api"
    assert path_of(link(landing, "conformance")) == "/ogc/conformance"
    assert path_of(link(landing, "data")) == "/ogc/collections"
    assert link(landing, "service-doc") and link(landing, "self")


def test_conformance_lists_core_geojson_html_oas30_and_crs(get):
    conforms = get("/ogc/conformance").json()["conformsTo"]
    for cls in ("core", "geojson", "html", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{cls}" in conforms
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conforms
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update" in conforms
    assert "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete" in (
        conforms
    )


def test_openapi_document_describes_every_path(get):
    response = get("/ogc/api")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    document = response.json()
    assert document["openapi"].startswith("3.0")
    assert set(document["paths"]) == {
        "/",
        "/conformance",
        "/api",
        "/collections",
        "/collections/{collectionId}",
        "/collections/{collectionId}/queryables",
        "/collections/{collectionId}/items",
        "/collections/{collectionId}/items/{featureId}",
    }
    names = {
        p["name"]
        for p in document["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
    }
    assert {"limit", "bbox", "bbox-crs", "crs", "datetime", "status", "phase"} <= names
    assert get("/ogc/api", f="html").status_code == 200


def test_collections_have_extent_from_the_data_and_their_crs(get):
    document = get("/ogc/collections").json()
    assert [c["id"] for c in document["collections"]] == ["addresses", "areas"]
    addresses = get("/ogc/collections/addresses").json()
    (bbox,) = addresses["extent"]["spatial"]["bbox"]
    assert bbox == pytest.approx([NORTH_ROW[0][0], NORTH_ROW[0][1], LONELY[0], LONELY[1]])
    assert addresses["extent"]["temporal"]["interval"][0][0] is not None
    assert addresses["storageCrs"] == CRS84
    assert set(addresses["crs"]) == {CRS84, EPSG4326, EPSG3857}
    assert link(addresses, "items", "application/geo+json")
    areas = get("/ogc/collections/areas").json()
    assert areas["extent"]["spatial"]["bbox"][0] == pytest.approx([13.33, 52.55, 13.341, 52.561])


def test_queryables_name_the_property_filters(get):
    response = get("/ogc/collections/addresses/queryables")
    assert response["Content-Type"] == "application/schema+json"
    properties = response.json()["properties"]
    assert "activated" in properties["status"]["enum"]
    assert {"area_code", "premises_type"} <= set(properties)


# --- Part 1: items ----------------------------------------------------------------------


def test_items_are_geojson_with_counts_links_and_serviceability(get, town):
    response = get("/ogc/collections/addresses/items")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert response["Content-Crs"] == f"<{CRS84}>"
    page = response.json()
    assert page["type"] == "FeatureCollection"
    assert page["numberMatched"] == ADDRESSES
    assert page["numberReturned"] == 10  # the default limit
    assert page["timeStamp"].endswith("Z")
    assert link(page, "self", "application/geo+json")
    assert link(page, "alternate", "text/html")
    first = page["features"][0]
    assert first["id"] == town.addresses[0].pk
    assert first["geometry"] == {"type": "Point", "coordinates": list(NORTH_ROW[0])}
    assert first["properties"]["status"] == "planned"
    assert first["properties"]["area_code"] == "north"
    assert first["properties"]["premises_type"] == "single_family"
    assert first["properties"]["label"].startswith("Müllerstraße 1")


def test_next_links_page_through_every_feature_exactly_once(get, town):
    seen, href, pages = [], "/ogc/collections/addresses/items?limit=4", []
    while href:
        page = get(path_of(href)).json()
        assert page["numberMatched"] == ADDRESSES
        seen += [feature["id"] for feature in page["features"]]
        pages.append(page)
        href = link(page, "next")
        assert bool(link(page, "prev")) == (len(pages) > 1)
    assert len(pages) == 4  # 4 + 4 + 4 + 4
    assert seen == sorted(address.pk for address in town.addresses)
    # ... and the prev links lead back page by page to the first.
    back, page = [], pages[-1]
    while link(page, "prev"):
        page = get(path_of(link(page, "prev"))).json()
        back.append([f["id"] for f in page["features"]])
    assert back == [[f["id"] for f in p["features"]] for p in reversed(pages[:-1])]
    assert link(page, "next") == link(pages[0], "next")


def test_next_links_keep_the_filters(get):
    page = get("/ogc/collections/addresses/items", limit=5, area_code="north").json()
    ids = [f["id"] for f in page["features"]]
    second = get(path_of(link(page, "next"))).json()
    assert second["numberMatched"] == 12 and second["numberReturned"] == 5
    assert all(f["properties"]["area_code"] == "north" for f in second["features"])
    assert second["features"][0]["id"] > ids[-1]
    last = get(path_of(link(second, "next"))).json()
    assert last["numberReturned"] == 2 and link(last, "next") is None


def test_bbox_selects_the_features_inside(get):
    # The first five of the north row: lon 13.3301 … 13.3303.
    page = get("/ogc/collections/addresses/items", bbox="13.33009,52.55,13.33031,52.551").json()
    assert page["numberMatched"] == 5
    assert [f["geometry"]["coordinates"] for f in page["features"]] == [
        list(point) for point in NORTH_ROW[:5]
    ]
    # A 6-number (3D) box is read by its horizontal corners.
    assert (
        get("/ogc/collections/addresses/items", bbox="13.34,52.56,0,13.341,52.561,100").json()[
            "numberMatched"
        ]
        == 3
    )
    areas = get("/ogc/collections/areas/items", bbox="13.3395,52.5595,13.3399,52.5599").json()
    assert areas["numberMatched"] == 0
    areas = get("/ogc/collections/areas/items", bbox="13.3395,52.5595,13.3401,52.5601").json()
    assert [f["properties"]["code"] for f in areas["features"]] == ["east"]


def test_property_filters(get):
    def matched(collection, **params):
        return get(f"/ogc/collections/{collection}/items", **params).json()["numberMatched"]

    assert matched("addresses", area_code="north") == 12
    assert matched("addresses", area_code="east", status="planned") == 3
    assert matched("addresses", status="activated") == 0
    assert matched("addresses", premises_type="business") == 2
    assert matched("areas", phase="planning") == 2
    assert matched("areas", is_active="true", code="east") == 1
    assert matched("areas", is_active="false") == 0


def test_datetime_filters_on_the_last_change(get, town):
    from django.utils import timezone

    stamp = town.addresses[0].updated_at
    later = (timezone.now() + timezone.timedelta(days=1)).isoformat()
    assert (
        get("/ogc/collections/addresses/items", datetime=f"../{later}").json()["numberMatched"]
        == ADDRESSES
    )
    assert (
        get("/ogc/collections/addresses/items", datetime=f"{later}/..").json()["numberMatched"] == 0
    )
    exact = get("/ogc/collections/addresses/items", datetime=stamp.isoformat()).json()
    assert town.addresses[0].pk in [f["id"] for f in exact["features"]]
    day = stamp.date().isoformat()
    assert get("/ogc/collections/addresses/items", datetime=day).json()["numberMatched"] >= 1


def test_single_feature_and_its_links(get, town):
    area = town.east
    response = get(f"/ogc/collections/areas/items/{area.pk}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == area.pk
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["code"] == "east"
    assert feature["properties"]["addresses"] == 3
    assert path_of(link(feature, "collection")) == "/ogc/collections/areas"


def test_html_encodings_are_readable_pages(get, client, town):
    page = get("/ogc/collections/addresses/items", f="html", limit=3)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "<table" in html and "Müllerstraße 1" in html and "leaflet.js" in html
    assert "ogc-features" in html  # the map's data
    client.force_login(town.planner)
    browser = client.get("/ogc/collections", headers={"Accept": "text/html,*/*;q=0.8"})
    assert browser["Content-Type"].startswith("text/html")
    assert "Planning areas" in browser.content.decode()
    assert get(f"/ogc/collections/areas/items/{town.north.pk}", f="html").status_code == 200
    assert get("/ogc/", f="html").status_code == 200
    assert get("/ogc/conformance", f="html").status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/ogc/collections/addresses/items", {"bbox": "13.3,52.5,13.4"}, 400, "bbox"),
        ("/ogc/collections/addresses/items", {"bbox": "a,b,c,d"}, 400, "bbox"),
        ("/ogc/collections/addresses/items", {"bbox": "13.4,52.5,13.3,52.6"}, 400, "bbox"),
        ("/ogc/collections/addresses/items", {"limit": "0"}, 400, "limit"),
        ("/ogc/collections/addresses/items", {"limit": "10001"}, 400, "limit"),
        ("/ogc/collections/addresses/items", {"limit": "ten"}, 400, "limit"),
        ("/ogc/collections/addresses/items", {"after": "-1"}, 400, "after"),
        ("/ogc/collections/addresses/items", {"offset": "10"}, 400, "offset"),
        ("/ogc/collections/addresses/items", {"after": "1", "before": "9"}, 400, "after"),
        ("/ogc/collections/addresses/items", {"datetime": "yesterday"}, 400, "datetime"),
        ("/ogc/collections/addresses/items", {"datetime": "../.."}, 400, "datetime"),
        (
            "/ogc/collections/addresses/items",
            {"datetime": "2026-02-01/2026-01-01"},
            400,
            "datetime",
        ),
        ("/ogc/collections/addresses/items", {"status": "lost"}, 400, "status"),
        ("/ogc/collections/addresses/items", {"phase": "live"}, 400, "phase"),
        ("/ogc/collections/areas/items", {"is_active": "yes"}, 400, "is_active"),
        ("/ogc/collections/addresses/items", {"f": "xml"}, 400, "f="),
        ("/ogc/collections/addresses/items", {"bbox-crs": EPSG3857}, 400, "bbox"),
        ("/ogc/collections/roads", {}, 404, "roads"),
        ("/ogc/collections/roads/items", {}, 404, "roads"),
        ("/ogc/collections/addresses/items/999999999", {}, 404, "999999999"),
        ("/ogc/collections/addresses/items/abc", {}, 404, "abc"),
        ("/ogc/collections/addresses/items", {"crs": "EPSG:25833"}, 400, "crs"),
        (
            "/ogc/collections/addresses/items",
            {"bbox": "1,2,3,4", "bbox-crs": "EPSG:2"},
            400,
            "bbox-crs",
        ),
    ],
)
def test_bad_requests_get_an_ogc_exception(get, path, params, status, words):
    response = get(path, **params)
    assert response.status_code == status
    body = response.json()
    assert body["code"] in ("InvalidParameterValue", "NotFound")
    assert words in body["description"]


def test_addresses_are_read_only(client, town):
    headers = town.auth("write")
    response = client.post(
        "/ogc/collections/addresses/items", {}, content_type="application/json", headers=headers
    )
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    address = town.addresses[0].pk
    response = client.delete(f"/ogc/collections/addresses/items/{address}", headers=headers)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    options = client.options(f"/ogc/collections/areas/items/{town.north.pk}")
    assert options["Allow"] == "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"


def test_options_tell_clients_what_they_may_do(client, town):
    # QGIS asks OPTIONS of a collection's items before it offers editing.
    response = client.options("/ogc/collections/areas/items")
    assert response.status_code == 204
    assert response["Allow"] == "GET, HEAD, POST, OPTIONS"
    assert client.options("/ogc/collections/addresses/items")["Allow"] == "GET, HEAD, OPTIONS"
    item = client.options(f"/ogc/collections/areas/items/{town.east.pk}")
    assert item["Allow"] == "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"


# --- Part 2: CRS ------------------------------------------------------------------------


def test_crs_4326_answers_in_lat_lon_order_and_3857_in_metres(get, town):
    first = town.addresses[0].pk
    lon, lat = NORTH_ROW[0]
    response = get(f"/ogc/collections/addresses/items/{first}", crs=EPSG4326)
    assert response["Content-Crs"] == f"<{EPSG4326}>"
    assert response.json()["geometry"]["coordinates"] == [lat, lon]
    response = get(f"/ogc/collections/addresses/items/{first}", crs=CRS84)
    assert response.json()["geometry"]["coordinates"] == [lon, lat]
    response = get("/ogc/collections/addresses/items", crs=EPSG3857, limit=1)
    assert response["Content-Crs"] == f"<{EPSG3857}>"
    x, y = response.json()["features"][0]["geometry"]["coordinates"]
    assert x == pytest.approx(1483899.94, abs=0.02)  # 13.3301 E
    assert y == pytest.approx(6900281.58, abs=0.02)  # 52.5505 N


def test_bbox_crs_4326_and_3857_select_the_same_features(get):
    lon, lat = EAST_COLUMN[1]
    plain = get(
        "/ogc/collections/addresses/items",
        bbox=f"{lon - 1e-5},{lat - 1e-5},{lon + 1e-5},{lat + 1e-5}",
    ).json()
    assert plain["numberMatched"] == 1
    swapped = get(
        "/ogc/collections/addresses/items",
        bbox=f"{lat - 1e-5},{lon - 1e-5},{lat + 1e-5},{lon + 1e-5}",
        **{"bbox-crs": EPSG4326},
    ).json()
    assert [f["id"] for f in swapped["features"]] == [f["id"] for f in plain["features"]]
    # 13.3405 E, 52.5604 N in Web Mercator, ± 1 m.
    x, y = 1485057.67, 6902094.20
    mercator = get(
        "/ogc/collections/addresses/items",
        bbox=f"{x - 1},{y - 1},{x + 1},{y + 1}",
        **{"bbox-crs": EPSG3857},
    ).json()
    assert [f["id"] for f in mercator["features"]] == [f["id"] for f in plain["features"]]
    assert link(mercator, "self").count("bbox-crs") == 1  # parameters kept in the links


# --- Access -----------------------------------------------------------------------------


def test_anonymous_clients_are_refused(client, town):
    for path in ("/ogc/", "/ogc/collections", "/ogc/collections/addresses/items"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["code"] == "Unauthorized"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_tokens_need_the_read_or_sync_scope(client, town):
    path = "/ogc/collections/addresses/items"
    assert client.get(path, headers=town.auth("read")).status_code == 200
    assert client.get(path, headers=town.auth("sync")).status_code == 200
    assert (
        client.get(path, headers={"Authorization": f"Token {town.tokens['sync']}"}).status_code
        == 200
    )
    assert client.get(path, headers=town.auth("orders")).status_code == 403
    assert client.get(path, headers={"Authorization": "Bearer oanm_nonsense"}).status_code == 401


def test_owner_staff_sessions_read_and_others_are_forbidden(client, town):
    client.force_login(town.planner)
    assert client.get("/ogc/collections/areas/items").status_code == 200
    isp = organisation_create(name="Some ISP", kind=OrganisationKind.ISP)
    isp_user = user_create(
        username="isp-user", organisation=isp, role=Role.ISP_USER, password="x-pass-123"
    )
    client.force_login(isp_user)
    assert client.get("/ogc/collections/areas/items").status_code == 403
    client.logout()
    _, key = api_token_create(user=isp_user, name="isp read", scopes=["read"])
    response = client.get(
        "/ogc/collections/areas/items", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "Forbidden"


def test_a_retired_address_is_gone_and_circuits_are_properties(get, town):
    from gis_core.models import Address
    from gis_core.services import addresses_retire

    first, second = town.addresses[0], town.addresses[1]
    Address.objects.filter(pk=second.pk).update(circuit_ref="C-17", circuit_name="OLT1/3/17")
    addresses_retire(address_ids=[first.pk], reason="gone from iqgeo")
    assert get(f"/ogc/collections/addresses/items/{first.pk}").status_code == 404
    page = get("/ogc/collections/addresses/items", limit=1000).json()
    assert page["numberMatched"] == ADDRESSES - 1
    feature = get(f"/ogc/collections/addresses/items/{second.pk}").json()
    assert feature["properties"]["circuit_ref"] == "C-17"
    assert feature["properties"]["circuit_name"] == "OLT1/3/17"
