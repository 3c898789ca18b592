"""OGC API – Features Part 4 on areas: POST, PUT, PATCH through the areas services, with
ETag / If-Match optimistic locking, for operators (or a write token) only."""

import json

import pytest
from django.test import Client

from accounts.roles import Role
from accounts.services import api_token_create, user_create
from areas.models import Area
from gis_core.models import Address
from tests.integrations.ogc_town import NORTH_ROW, build_town

EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
# Around the lonely address (13.35, 52.57) only.
SQUARE = [
    [[13.349, 52.569], [13.351, 52.569], [13.351, 52.571], [13.349, 52.571], [13.349, 52.569]]
]


@pytest.fixture
def town(owner):
    return build_town(owner)


def feature(geometry=None, **properties):
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def send(client, method, path, body, headers):
    return getattr(client, method)(
        path, json.dumps(body), content_type="application/geo+json", headers=headers
    )


def test_post_creates_an_area_that_takes_in_its_addresses(client, town):
    body = feature({"type": "Polygon", "coordinates": SQUARE}, code="field", name="Feld")
    response = send(client, "post", "/ogc/collections/areas/items", body, town.auth("write"))
    assert response.status_code == 201, response.content
    area = Area.objects.get(code="field")
    assert response["Location"].endswith(f"/ogc/collections/areas/items/{area.pk}")
    assert response["ETag"]
    created = response.json()
    assert created["properties"]["name"] == "Feld"
    assert created["properties"]["addresses"] == 1  # the lonely address joined it
    assert Address.objects.get(street="Feldweg").area_id == area.pk
    read = client.get(response["Location"], headers=town.auth("read"))
    assert read["ETag"] == response["ETag"]


def test_post_reads_the_content_crs(client, town):
    lat_lon = [[[lat, lon] for lon, lat in ring] for ring in SQUARE]
    body = feature({"type": "Polygon", "coordinates": lat_lon}, code="swapped")
    headers = {**town.auth("write"), "Content-Crs": f"<{EPSG4326}>"}
    response = send(client, "post", "/ogc/collections/areas/items", body, headers)
    assert response.status_code == 201, response.content
    assert Area.objects.get(code="swapped").boundary.extent == pytest.approx(
        (13.349, 52.569, 13.351, 52.571)
    )
    mercator = [[[1484843.0, 6901000.0], [1484943.0, 6901000.0], [1484943.0, 6901100.0],
                 [1484843.0, 6901000.0]]]  # fmt: skip
    body = feature({"type": "Polygon", "coordinates": mercator}, code="metres")
    headers = {**town.auth("write"), "Content-Crs": f"<{EPSG3857}>"}
    assert send(client, "post", "/ogc/collections/areas/items", body, headers).status_code == 201
    xmin, _, _, _ = Area.objects.get(code="metres").boundary.extent
    assert xmin == pytest.approx(13.3386, abs=1e-4)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            feature(
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[13.0, 52.0], [13.1, 52.1], [13.1, 52.0], [13.0, 52.1], [13.0, 52.0]]
                    ],
                },
                code="bowtie",
            ),
            400,
            "Self-intersection",
        ),
        (feature(None, code="nogeom"), 400, "geometry"),
        (feature({"type": "Polygon", "coordinates": SQUARE}), 400, "code"),
        (feature({"type": "Polygon", "coordinates": SQUARE}, code="north"), 409, "north"),
        (feature({"type": "Point", "coordinates": [13.3, 52.5]}, code="dot"), 400, "Point"),
        (
            feature({"type": "Polygon", "coordinates": SQUARE}, code="x", colour="red"),
            400,
            "colour",
        ),
        ({"type": "Polygon", "coordinates": SQUARE}, 400, "Feature"),
    ],
)
def test_bad_features_are_refused_with_the_reason(client, town, body, status, words):
    response = send(client, "post", "/ogc/collections/areas/items", body, town.auth("write"))
    assert response.status_code == status
    assert words in response.json()["description"]
    assert not Area.objects.filter(code__in=["bowtie", "nogeom", "dot", "x"]).exists()


def test_put_and_patch_change_the_area_through_the_services(client, town):
    path = f"/ogc/collections/areas/items/{town.north.pk}"
    etag = client.get(path, headers=town.auth("read"))["ETag"]
    # Shrink the north area to its west end: the row east of lon 13.33027 leaves it.
    west = [
        [[13.33, 52.55], [13.33027, 52.55], [13.33027, 52.551], [13.33, 52.551], [13.33, 52.55]]
    ]
    headers = {**town.auth("write"), "If-Match": etag}
    body = feature({"type": "Polygon", "coordinates": west}, name="Nord-West", phase="planning")
    response = send(client, "put", path, body, headers)
    assert response.status_code == 200, response.content
    assert response.json()["properties"]["name"] == "Nord-West"
    inside = [lon for lon, _ in NORTH_ROW if lon < 13.33027]
    assert response.json()["properties"]["addresses"] == len(inside)
    new_etag = response["ETag"]
    assert new_etag != etag
    # The old ETag no longer matches: 412, and nothing changes.
    stale = send(client, "patch", path, feature(name="Stale"), headers)
    assert stale.status_code == 412
    assert stale.json()["code"] == "PreconditionFailed"
    assert Area.objects.get(pk=town.north.pk).name == "Nord-West"
    # PATCH with the current one changes only what it names.
    headers["If-Match"] = new_etag
    response = send(client, "patch", path, feature(target_take_rate=0.55), headers)
    assert response.status_code == 200, response.content
    area = Area.objects.get(pk=town.north.pk)
    assert str(area.target_take_rate) == "0.5500" and area.name == "Nord-West"
    # Without If-Match a change is taken as it comes.
    response = send(client, "patch", path, feature(name="Nord"), town.auth("write"))
    assert response.status_code == 200


def test_put_needs_geometry_and_name_and_codes_stay(client, town):
    path = f"/ogc/collections/areas/items/{town.east.pk}"
    headers = town.auth("write")
    assert send(client, "put", path, feature(name="Ost"), headers).status_code == 400
    body = feature({"type": "Polygon", "coordinates": SQUARE}, name="Ost", code="renamed")
    response = send(client, "put", path, body, headers)
    assert response.status_code == 400 and "code" in response.json()["description"]
    assert (
        send(
            client, "patch", "/ogc/collections/areas/items/999999", feature(name="x"), headers
        ).status_code
        == 404
    )


def test_only_operators_and_write_tokens_may_change(client, town, owner):
    path = f"/ogc/collections/areas/items/{town.east.pk}"
    body = feature(name="Ost 2")
    assert send(client, "patch", path, body, {}).status_code == 401
    assert send(client, "patch", path, body, town.auth("read")).status_code == 403
    assert send(client, "patch", path, body, town.auth("sync")).status_code == 403
    finance = user_create(
        username="fin", organisation=owner, role=Role.FINANCE, password="x-pass-123"
    )
    _, key = api_token_create(user=finance, name="fin write", scopes=["write"])
    response = send(client, "patch", path, body, {"Authorization": f"Bearer {key}"})
    assert response.status_code == 403 and "operator" in response.json()["description"]
    client.force_login(finance)
    assert send(client, "patch", path, body, {}).status_code == 403
    assert Area.objects.get(pk=town.east.pk).name == "Ost"
    # An operator's session must pass the CSRF check like any other form of the site.
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(town.planner)
    assert send(guarded, "patch", path, body, {}).status_code == 403
    client.force_login(town.planner)
    assert send(client, "patch", path, body, {}).status_code == 200
    assert Area.objects.get(pk=town.east.pk).name == "Ost 2"


def test_delete_retires_a_planning_area_and_its_addresses_leave_it(client, town):
    path = f"/ogc/collections/areas/items/{town.north.pk}"
    etag = client.get(path, headers=town.auth("read"))["ETag"]
    stale = {**town.auth("write"), "If-Match": '"1-1"'}
    assert client.delete(path, headers=stale).status_code == 412
    assert client.delete(path, headers=town.auth("read")).status_code == 403
    response = client.delete(path, headers={**town.auth("write"), "If-Match": etag})
    assert response.status_code == 204, response.content
    # Gone for OGC clients: the item, the list and a second DELETE…
    assert client.get(path, headers=town.auth("read")).status_code == 404
    codes = [
        f["properties"]["code"]
        for f in client.get("/ogc/collections/areas/items", headers=town.auth("read")).json()[
            "features"
        ]
    ]
    assert codes == ["east"]
    assert client.delete(path, headers=town.auth("write")).status_code == 404
    # …kept in oanm's history, its addresses in no area now.
    area = Area.objects.get(pk=town.north.pk)
    assert not area.is_active and area.deleted_at is not None
    assert not Address.objects.filter(area=area).exists()
    assert Address.objects.filter(street="Müllerstraße", area__isnull=True).count() == len(
        NORTH_ROW
    )


def test_delete_is_refused_past_planning_and_with_standing_signups(client, town):
    from areas.models import Signup
    from areas.services import area_start_demand_aggregation

    headers = town.auth("write")
    north = f"/ogc/collections/areas/items/{town.north.pk}"
    Signup.objects.create(address=town.addresses[0], order_key="order:test-1")
    response = client.delete(north, headers=headers)
    assert response.status_code == 409
    assert "1 standing signup" in response.json()["description"]
    east = Area.objects.get(pk=town.east.pk)
    area_start_demand_aggregation(area=east)
    response = client.delete(f"/ogc/collections/areas/items/{east.pk}", headers=headers)
    assert response.status_code == 409
    assert "only an area still in planning" in response.json()["description"]
    assert Area.objects.filter(is_active=True, deleted_at__isnull=True).count() == 2


def test_the_areas_api_deletes_the_same_way(client, town):
    client.force_login(town.planner)
    response = client.delete(f"/api/areas/{town.east.pk}/")
    assert response.status_code == 204, response.content
    assert Area.objects.get(pk=town.east.pk).deleted_at is not None
    response = client.delete(f"/api/areas/{town.east.pk}/")
    assert response.status_code == 404
    assert "deleted already" in response.json()["detail"]
