"""/api/sync/: the change feed (pages, cursor, queries per page) and the address upsert
(created once, idempotent, refused with a reason), behind sync-scoped owner tokens."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import OrganisationKind, Role, TokenScope
from accounts.services import api_token_create, organisation_create, user_create
from areas.services import area_create
from gis_core.models import Address, ExternalReference
from gis_core.services import address_create
from integrations.sync.models import Change
from tests.gis_core.factories import AddressFactory

# The feed serves only committed transactions older than the reader's: real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

CHANGES = "/api/sync/changes"
POINT = {"type": "Point", "coordinates": [13.3501, 52.5502]}


def token_client(user, scopes) -> APIClient:
    _, key = api_token_create(user=user, name="gis", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def sync_client(planner):
    return token_client(planner, [TokenScope.SYNC])


def upsert_url(system="vetro", external_id="sl-1") -> str:
    return f"/api/sync/addresses/{system}/{external_id}"


def read_all(client, since="0", limit=100) -> tuple[list[dict], str]:
    changes = []
    while True:
        page = client.get(CHANGES, {"since": since, "limit": limit}).json()
        changes += page["changes"]
        since = page["next_cursor"]
        if not page["has_more"]:
            return changes, since


def test_the_feed_pages_every_change_in_order_with_the_current_state(sync_client):
    first = address_create(location=Point(13.35, 52.55), street="Seestraße", house_number="3")
    area = area_create(
        name="Wedding",
        code="w1",
        boundary=MultiPolygon(Polygon.from_bbox((13.3, 52.5, 13.4, 52.6)), srid=4326),
    )
    second = address_create(location=Point(13.36, 52.56), street="Seestraße", house_number="5")
    Address.objects.filter(pk=second.pk).delete()

    page = sync_client.get(CHANGES, {"since": "0", "limit": 2}).json()
    assert page["has_more"] is True and len(page["changes"]) == 2
    changes, cursor = read_all(sync_client, limit=2)
    keys = [(c["entity"], c["id"], c["op"]) for c in changes]
    assert keys[0] == ("address", first.pk, "insert")
    # The area's insert, then (same transaction) the first address joining it.
    assert keys[1:3] == [("area", area.pk, "insert"), ("address", first.pk, "update")]
    assert keys[3:] == [
        ("address", second.pk, "insert"),
        ("address", second.pk, "update"),  # it joined the area as it was created
        ("address", second.pk, "delete"),
    ]
    assert [c["cursor"] for c in changes] == sorted(
        (c["cursor"] for c in changes), key=lambda text: tuple(map(int, text.split(".")))
    )
    address = changes[0]["feature"]
    assert address["geometry"] == {"type": "Point", "coordinates": [13.35, 52.55]}
    assert address["properties"]["label"] == "Seestraße 3"
    assert address["properties"]["area_id"] == area.pk  # its current state: now in the area
    area_change = next(c for c in changes if c["entity"] == "area" and c["op"] == "insert")
    assert area_change["feature"]["geometry"]["type"] == "MultiPolygon"
    assert changes[-1]["feature"] is None  # a delete: just the id
    assert changes[-2]["feature"] is None  # gone since
    assert changes[-3]["feature"] is None
    # Nothing new: the same cursor comes back, and nothing is served twice.
    page = sync_client.get(CHANGES, {"since": cursor}).json()
    assert page == {"changes": [], "next_cursor": cursor, "has_more": False}
    address_create(location=Point(13.37, 52.57), street="Seestraße", house_number="7")
    page = sync_client.get(CHANGES, {"since": cursor}).json()
    assert [c["op"] for c in page["changes"]] == ["insert", "update"]  # into the area


def test_a_page_costs_the_same_queries_whatever_it_holds(sync_client):
    area_create(
        name="Wedding",
        code="w1",
        boundary=MultiPolygon(Polygon.from_bbox((13.3, 52.5, 13.4, 52.6)), srid=4326),
    )
    for i in range(30):
        address_create(
            location=Point(13.35 + i / 1000, 52.55),
            street="Seestraße",
            house_number=str(i),
            external_refs={"vetro": f"sl-{i}"},
        )
    sync_client.get(CHANGES, {"limit": 1})  # token's last use recorded: not in the count
    with CaptureQueriesContext(connection) as small:
        assert len(sync_client.get(CHANGES, {"limit": 2}).json()["changes"]) == 2
    with CaptureQueriesContext(connection) as large:
        page = sync_client.get(CHANGES, {"limit": 500}).json()
    assert len(page["changes"]) == Change.objects.count() == 61  # each address joined the area
    # auth (token, membership), the changes, the addresses, their references, the areas
    assert len(large.captured_queries) == len(small.captured_queries) <= 7


@pytest.mark.parametrize(
    ("params", "field"),
    [({"since": "yesterday"}, "since"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit")],
)
def test_a_bad_cursor_or_limit_is_a_400_naming_it(sync_client, params, field):
    response = sync_client.get(CHANGES, params)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_the_upsert_creates_once_and_a_retry_changes_nothing(sync_client):
    body = {"geometry": POINT, "street": "Müllerstraße", "house_number": "12", "city": "Berlin"}
    response = sync_client.put(upsert_url(), body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["created"] is True
    address_id = created["feature"]["id"]
    assert created["feature"]["properties"]["external_refs"] == {"vetro": "sl-1"}
    _, cursor = read_all(sync_client)

    again = sync_client.put(upsert_url(), body, format="json")
    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert Address.objects.count() == 1
    assert sync_client.get(CHANGES, {"since": cursor}).json()["changes"] == []  # a no-op

    moved = sync_client.put(
        upsert_url(),
        {**body, "geometry": {"type": "Point", "coordinates": [13.36, 52.55]}, "unit": "WE 3"},
        format="json",
    )
    assert moved.status_code == 200 and moved.json()["changed"] is True
    address = Address.objects.get()
    assert address.pk == address_id and address.unit == "WE 3"
    assert address.location.coords == (13.36, 52.55)
    changes = sync_client.get(CHANGES, {"since": cursor}).json()["changes"]
    assert [(c["id"], c["op"]) for c in changes] == [(address_id, "update")]


def test_the_upsert_links_an_existing_address_once(sync_client):
    address = address_create(location=Point(13.35, 52.55), street="Seestraße")
    other = address_create(location=Point(13.36, 52.55), street="Seestraße")
    body = {"geometry": POINT, "street": "Seestraße", "address_id": address.pk}
    linked = sync_client.put(upsert_url("iqgeo", "f-1"), body, format="json")
    assert linked.status_code == 200 and linked.json()["feature"]["id"] == address.pk
    assert ExternalReference.objects.get(system="iqgeo").address_id == address.pk

    elsewhere = sync_client.put(
        upsert_url("iqgeo", "f-1"), {**body, "address_id": other.pk}, format="json"
    )
    assert elsewhere.status_code == 409
    assert "already names address" in elsewhere.json()["detail"]
    second_id = sync_client.put(upsert_url("iqgeo", "f-2"), body, format="json")
    assert second_id.status_code == 409
    assert "is already iqgeo:f-1" in second_id.json()["detail"]
    assert ExternalReference.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"geometry": {"type": "Point", "coordinates": [391000, 5822000]}}, "geometry"),
        ({"geometry": {"type": "LineString", "coordinates": [[13, 52], [13.1, 52]]}}, "geometry"),
        ({"geometry": "not wkt"}, "geometry"),
        ({"street": " "}, "street"),
        ({"country": "DEU"}, "country"),
        ({"premises_type": "castle"}, "premises_type"),
        ({"premises_type": "single_family", "units": 4}, "units"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_upsert_is_a_400_naming_the_field(sync_client, body, field):
    response = sync_client.put(
        upsert_url(), {"geometry": POINT, "street": "Seestraße", **body}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert not Address.objects.exists()


def test_a_projected_point_with_its_crs_is_stored_in_4326(sync_client):
    body = {
        "geometry": {"type": "Point", "coordinates": [390000, 5822000]},
        "crs": "EPSG:25833",
        "street": "Seestraße",
    }
    assert sync_client.put(upsert_url(), body, format="json").status_code == 201
    lon, lat = Address.objects.get().location.coords
    assert 13.3 < lon < 13.5 and 52.5 < lat < 52.6


def test_a_bad_system_is_a_400(sync_client):
    response = sync_client.put(
        upsert_url("no.dots", "1"), {"geometry": POINT, "street": "S"}, format="json"
    )
    assert response.status_code in (400, 404)  # not a slug: not even routed


# --- who may -----------------------------------------------------------------------------


@pytest.fixture
def isp_user(db):
    isp = organisation_create(name="Spree Net", kind=OrganisationKind.ISP)
    return user_create(username="isp", organisation=isp, role=Role.ISP_USER, password="x-pass-123")


def test_only_owner_tokens_with_the_sync_scope_may_read_and_write(planner, isp_user):
    body = {"geometry": POINT, "street": "Seestraße"}
    allowed = token_client(planner, [TokenScope.SYNC])
    assert allowed.get(CHANGES).status_code == 200
    assert allowed.put(upsert_url(), body, format="json").status_code == 201
    for client in (
        token_client(planner, [TokenScope.READ, TokenScope.WRITE]),
        token_client(isp_user, [TokenScope.SYNC]),
        token_client(isp_user, [TokenScope.READ, TokenScope.ORDERS]),
    ):
        assert client.get(CHANGES).status_code == 403
        assert client.put(upsert_url(), body, format="json").status_code == 403
    anonymous = APIClient()
    assert anonymous.get(CHANGES).status_code in (401, 403)
    assert anonymous.put(upsert_url(), body, format="json").status_code in (401, 403)
    bad_key = APIClient()
    bad_key.credentials(HTTP_AUTHORIZATION="Bearer oanm_nope")
    assert bad_key.get(CHANGES).status_code == 401


def test_owner_staff_signed_in_may_read_but_not_write(client, planner, isp_user):
    client.force_login(planner)
    assert client.get(CHANGES).status_code == 200
    response = client.put(
        upsert_url(), {"geometry": POINT, "street": "S"}, content_type="application/json"
    )
    assert response.status_code == 403
    client.force_login(isp_user)
    assert client.get(CHANGES).status_code == 403


def test_racing_retries_of_one_upsert_make_one_address():
    """Two requests for a new reference at once (a client retrying before the first answer):
    the advisory lock per reference makes the second one find the first one's address."""
    import threading

    from integrations.sync.services import address_upsert_by_reference

    barrier = threading.Barrier(2, timeout=20)
    results, errors = [], []

    def upsert():
        try:
            barrier.wait()
            result = address_upsert_by_reference(
                system="vetro", external_id="sl-9", geometry=POINT, street="Seestraße"
            )
            results.append(result.created)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upsert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(results) == [False, True]
    assert Address.objects.count() == ExternalReference.objects.count() == 1


def test_pruning_forgets_old_changes_and_a_reader_behind_it_gets_a_410(sync_client):
    from integrations.sync.feed import changes_prune
    from integrations.sync.models import ChangePrune

    old = [AddressFactory() for _ in range(3)]
    _, cursor = read_all(sync_client)
    Change.objects.filter(entity_id__in=[a.pk for a in old]).update(
        changed_at=timezone.now() - timedelta(days=91)
    )
    recent = AddressFactory()
    assert changes_prune(keep_days=90) == 3
    assert changes_prune(keep_days=90) == 0  # nothing old is left
    through = ChangePrune.objects.get()
    # A reader that had read past the pruned changes reads on as before…
    changes, _ = read_all(sync_client, since=cursor)
    assert [c["id"] for c in changes] == [recent.pk]
    # …one from the start, or from before the pruning, is told to take a full copy first.
    response = sync_client.get(CHANGES, {"since": "0"})
    assert response.status_code == 410
    body = response.json()
    assert body["code"] == "cursor_expired" and body["field"] == "since"
    assert f"since={through.through_xid}.{through.through_id}" in body["detail"]
    response = sync_client.get(CHANGES, {"since": f"{through.through_xid}.{through.through_id}"})
    assert [c["id"] for c in response.json()["changes"]] == [recent.pk]
