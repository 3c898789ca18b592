"""The areas API: GeoJSON of areas with figures, one area's story, split, phase and settings."""

import json
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role, TokenScope
from accounts.services import api_token_create, user_create
from areas.api.serializers import AreaFeatureSerializer
from areas.figures import refresh_figures
from areas.lifecycle import AreaPhase
from areas.models import Area, AreaPhaseChange, AreaSplit
from areas.selectors import areas_with_figures
from areas.services import area_split, area_start_demand_aggregation, signup_record
from common.models import DomainEvent
from gis_core.models import Address
from tests.accounts.factories import UserFactory
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory

pytestmark = pytest.mark.django_db

SQUARE = square(13.33, 52.55, 0.01)
ACROSS = {"type": "LineString", "coordinates": [[13.336, 52.549], [13.336, 52.561]]}


@pytest.fixture
def finance(owner):
    return user_create(username="finance", organisation=owner, role=Role.FINANCE)


@pytest.fixture
def dispatcher(owner):
    return user_create(username="dispatcher", organisation=owner, role=Role.DISPATCHER)


@pytest.fixture
def isp_user(db):
    return UserFactory(isp=True)


@pytest.fixture
def contractor(db):
    return UserFactory(contractor=True)


@pytest.fixture
def api(client, planner):
    client.force_login(planner)
    return client


def _post(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def _patch(client, url, body, **extra):
    return client.patch(url, json.dumps(body), content_type="application/json", **extra)


def _codes(response) -> list[str]:
    return [feature["properties"]["code"] for feature in response.json()["features"]]


def _state() -> tuple:
    return (
        list(Area.objects.order_by("pk").values_list("pk", "code", "phase", "is_active", "name")),
        AreaSplit.objects.count(),
        AreaPhaseChange.objects.count(),
        DomainEvent.objects.count(),
        dict(Address.objects.values_list("pk", "area_id")),
    )


def _area_with_demand(code: str, *, homes: int, orders: int, lon: float, target="0.4") -> Area:
    """A small square area at `lon` with `homes` houses, the first `orders` of them ordered."""
    area = AreaFactory(code=code, name=f"Area {code}", boundary=square(lon, 52.55, 0.002))
    addresses = [
        AddressFactory(location=Point(lon + 0.0001 + i * 0.0001, 52.551)) for i in range(homes)
    ]
    for address in addresses[:orders]:
        signup_record(address=address, order_key=f"order:{address.pk}")
    Area.objects.filter(pk=area.pk).update(target_take_rate=Decimal(target))
    refresh_figures([area.pk])
    return Area.objects.get(pk=area.pk)


@pytest.fixture
def three_areas(db):
    """low: 1/10 (target 0.4), mid: 3/6, high: 4/5 (target 0.5, ready); mid gathers demand."""
    low = _area_with_demand("low", homes=10, orders=1, lon=13.30)
    mid = _area_with_demand("mid", homes=6, orders=3, lon=13.31)
    high = _area_with_demand("high", homes=5, orders=4, lon=13.32, target="0.5")
    area_start_demand_aggregation(area=mid)
    return low, mid, high


# --- the list -------------------------------------------------------------------------------


def test_the_list_is_a_geojson_feature_collection_with_the_figures(api, three_areas):
    low, _, _ = three_areas

    response = api.get("/api/areas/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    data = response.json()
    assert data["type"] == "FeatureCollection"
    assert _codes(response) == ["high", "low", "mid"]
    feature = next(f for f in data["features"] if f["properties"]["code"] == "low")
    assert feature["type"] == "Feature"
    assert feature["id"] == low.pk
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["geometry"]["coordinates"] == [
        [[[13.3, 52.55], [13.3, 52.552], [13.302, 52.552], [13.302, 52.55], [13.3, 52.55]]]
    ]
    assert feature["properties"] == {
        "id": low.pk,
        "code": "low",
        "name": "Area low",
        "phase": "planning",
        "parent": None,
        "is_active": True,
        "target_take_rate": 0.4,
        "deploys_at_target": False,
        "homes": 10,
        "addresses": 10,
        "interests": 0,
        "orders": 1,
        "take_rate": 0.1,
        "interest_rate": 0.0,
        "progress": 0.25,
        "ready_to_build": False,
        "phase_changed_at": None,
    }


def test_the_sql_features_say_what_the_documented_serializer_says(api, three_areas):
    # the list is built in SQL for speed; the schema documents AreaFeatureSerializer
    _, mid, _ = three_areas

    feature = next(f for f in api.get("/api/areas/").json()["features"] if f["id"] == mid.pk)

    documented = AreaFeatureSerializer(areas_with_figures().get(pk=mid.pk)).data
    assert documented["type"] == "Feature"
    assert set(feature["properties"]) == set(documented["properties"])
    expected = json.loads(json.dumps(documented["properties"], default=float))
    assert feature["properties"] == expected
    assert feature["properties"]["phase_changed_at"].endswith("Z")


def test_names_with_quotes_and_other_characters_come_back_intact(api, db):
    name = 'Müller "Kiez" \\ Nord\n\t<b>&</b> 🏠'
    AreaFactory(code="kiez", name=name, boundary=SQUARE)

    feature = api.get("/api/areas/").json()["features"][0]

    assert feature["properties"]["name"] == name


@pytest.mark.parametrize(
    ("ordering", "codes"),
    [
        ("code", ["high", "low", "mid"]),
        ("-code", ["mid", "low", "high"]),
        ("name", ["high", "low", "mid"]),
        ("homes", ["high", "mid", "low"]),
        ("-homes", ["low", "mid", "high"]),
        ("addresses", ["high", "mid", "low"]),
        ("orders", ["low", "mid", "high"]),
        ("-orders", ["high", "mid", "low"]),
        ("take_rate", ["low", "mid", "high"]),
        ("-take_rate", ["high", "mid", "low"]),
        ("-progress", ["high", "mid", "low"]),
        ("-target_take_rate", ["high", "low", "mid"]),
        ("interests", ["high", "low", "mid"]),
        ("interest_rate", ["high", "low", "mid"]),
        ("phase", ["high", "low", "mid"]),
        ("-phase", ["mid", "high", "low"]),
        ("-phase_changed_at", ["mid", "high", "low"]),
        ("-id", ["high", "mid", "low"]),
    ],
)
def test_the_list_sorts_by_any_column(api, three_areas, ordering, codes):
    response = api.get("/api/areas/", {"ordering": ordering})

    assert response.status_code == 200
    assert _codes(response) == codes


@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({"phase": "planning"}, ["high", "low"]),
        ({"phase": ["planning", "demand_aggregation"]}, ["high", "low", "mid"]),
        ({"phase": "demand_aggregation,live"}, ["mid"]),
        ({"search": "HI"}, ["high"]),
        ({"search": "area m"}, ["mid"]),
        ({"take_rate_min": "0.5"}, ["high", "mid"]),
        ({"take_rate_max": "0.5"}, ["low", "mid"]),
        ({"take_rate_min": "0.2", "take_rate_max": "0.6"}, ["mid"]),
        ({"ready_to_build": "true"}, ["high", "mid"]),
        ({"ready_to_build": "0"}, ["low"]),
        ({"in_bbox": "13.309,52.549,13.3105,52.56"}, ["mid"]),
        ({"in_bbox": "13.301,52.549,13.311,52.56"}, ["low", "mid"]),
        ({"in_bbox": "14,53,15,54"}, []),
    ],
)
def test_the_list_filters(api, three_areas, params, codes):
    response = api.get("/api/areas/", params)

    assert response.status_code == 200
    assert _codes(response) == codes


@pytest.mark.parametrize(
    ("params", "detail", "field"),
    [
        ({"take_rate_min": "lots"}, "take_rate_min: Enter a number.", "take_rate_min"),
        (
            {"phase": "built"},
            "phase: Select a valid choice. built is not one of the available choices.",
            "phase",
        ),
        (
            {"ordering": "colour"},
            "ordering: Select a valid choice. colour is not one of the available choices.",
            "ordering",
        ),
        (
            {"in_bbox": "13,52,14"},
            "in_bbox must be minlon,minlat,maxlon,maxlat (four numbers), not '13,52,14'",
            "in_bbox",
        ),
        (
            {"in_bbox": "14,52,13,53"},
            "in_bbox must have min < max, lon within -180..180 and lat within -90..90,"
            " not '14,52,13,53'",
            "in_bbox",
        ),
        (
            {"simplify": "-5"},
            "simplify is a tolerance in metres from 0 to 10000, not '-5'",
            "simplify",
        ),
    ],
)
def test_a_bad_filter_is_a_400_with_a_message(api, three_areas, params, detail, field):
    response = api.get("/api/areas/", params)

    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert response.json()["field"] == field


def test_split_areas_are_left_out_unless_asked_for(api, three_areas):
    low, _, _ = three_areas
    area_split(area=low, mode="half", axis="east-west")

    active = api.get("/api/areas/")
    everything = api.get("/api/areas/", {"include_retired": "1"})
    children = api.get("/api/areas/", {"parent": low.pk})

    assert _codes(active) == ["high", "low-e", "low-w", "mid"]
    assert _codes(everything) == ["high", "low", "low-e", "low-w", "mid"]
    retired = next(f for f in everything.json()["features"] if f["id"] == low.pk)
    assert (retired["properties"]["is_active"], retired["properties"]["homes"]) == (False, 0)
    assert _codes(children) == ["low-e", "low-w"]
    # the active areas hold every home exactly once
    homes = sum(f["properties"]["homes"] for f in active.json()["features"])
    assert homes == Address.objects.count() == 21


def test_the_list_pages_only_when_asked(api, three_areas):
    first = api.get("/api/areas/", {"limit": 2})
    second = api.get("/api/areas/", {"limit": 2, "offset": 2})

    assert first.status_code == 200
    data = first.json()
    assert (data["type"], data["count"], data["previous"]) == ("FeatureCollection", 3, None)
    assert data["next"] == "http://testserver/api/areas/?limit=2&offset=2"
    assert _codes(first) == ["high", "low"]
    assert _codes(second) == ["mid"]
    assert second.json()["next"] is None
    assert "count" not in api.get("/api/areas/").json()


def test_the_list_can_simplify_boundaries(api, db):
    # a boundary with a 1 m wiggle on every 10 m of its southern edge
    wiggly = [(13.33 + i * 0.00015, 52.55 + (i % 2) * 0.00001) for i in range(41)]
    ring = [*wiggly, (13.336, 52.556), (13.33, 52.556), wiggly[0]]
    AreaFactory(code="wiggly", boundary={"type": "Polygon", "coordinates": [ring]})

    full = api.get("/api/areas/").json()["features"][0]["geometry"]
    simple = api.get("/api/areas/", {"simplify": 5}).json()["features"][0]["geometry"]

    assert simple["type"] == full["type"] == "MultiPolygon"
    assert len(full["coordinates"][0][0]) == 44
    assert len(simple["coordinates"][0][0]) == 5


def test_the_list_costs_the_same_queries_for_3_or_30_areas(api, planner, db):
    for n in range(3):
        AreaFactory(code=f"a{n:02}", boundary=square(13.30 + n * 0.002, 52.55, 0.001))
    with CaptureQueriesContext(connection) as few:
        assert len(api.get("/api/areas/", {"ordering": "-take_rate"}).json()["features"]) == 3
    for n in range(3, 30):
        AreaFactory(code=f"a{n:02}", boundary=square(13.30 + n * 0.002, 52.55, 0.001))

    with CaptureQueriesContext(connection) as many:
        assert len(api.get("/api/areas/", {"ordering": "-take_rate"}).json()["features"]) == 30

    assert len(many) == len(few)


def test_the_list_takes_at_most_five_queries(api, three_areas, django_assert_max_num_queries):
    # session, user, membership, organisation, the areas
    with django_assert_max_num_queries(5):
        response = api.get(
            "/api/areas/", {"ordering": "-take_rate", "phase": "planning", "in_bbox": "13,52,14,53"}
        )
    assert response.status_code == 200


def test_a_page_of_the_list_takes_one_more_query(api, three_areas, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = api.get("/api/areas/", {"limit": 1})
    assert response.status_code == 200


# --- one area -------------------------------------------------------------------------------


def test_an_area_comes_with_its_history_and_series(api, planner, three_areas):
    _, mid, _ = three_areas
    north, south = area_split(area=mid, mode="half", actor=planner, reason="north first").children

    parent = api.get(f"/api/areas/{mid.pk}/").json()
    child = api.get(f"/api/areas/{north.pk}/").json()

    assert (parent["type"], parent["id"]) == ("Feature", mid.pk)
    assert parent["properties"]["is_active"] is False
    history = parent["properties"]["history"]
    assert [(h["kind"], h["from"], h["to"], h["actor"], h["reason"]) for h in history] == [
        ("phase", "planning", "demand_aggregation", None, ""),
        ("split", "mid", "mid-n + mid-s", "planner", "north first"),
    ]
    assert (history[1]["mode"], history[1]["parent"], history[1]["children"]) == (
        "half",
        mid.pk,
        [north.pk, south.pk],
    )
    assert history[1]["at"].endswith("Z")
    assert [
        (h["kind"], h["from"], h["to"], h["reason"]) for h in child["properties"]["history"]
    ] == [
        ("split", "mid", "mid-n + mid-s", "north first"),
        (
            "phase",
            "demand_aggregation",
            "demand_aggregation",
            "split from mid: inherits its phase (north first)",
        ),
    ]
    assert child["properties"]["parent"] == mid.pk
    series = child["properties"]["series"]
    assert len(series) == 1
    assert {key: series[0][key] for key in ("homes", "orders", "take_rate")} == {
        "homes": north.figures.homes,
        "orders": north.figures.orders,
        "take_rate": float(north.figures.take_rate),
    }
    assert set(series[0]) == {
        "day",
        "homes",
        "interests",
        "orders",
        "addresses_with_order",
        "take_rate",
        "interest_rate",
    }


def test_an_unknown_area_is_a_404(api, db):
    response = api.get("/api/areas/999999/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "there is no area with id 999999"}


def test_one_area_takes_a_constant_number_of_queries(
    api, three_areas, django_assert_max_num_queries
):
    low, _, _ = three_areas
    # session, user, membership, organisation, area, feature, history ×2, series
    with django_assert_max_num_queries(9):
        assert api.get(f"/api/areas/{low.pk}/").status_code == 200


# --- split ----------------------------------------------------------------------------------


def test_a_split_preview_returns_both_parts_and_writes_nothing(api, db):
    area = AreaFactory(code="13353", name="Leopoldplatz", boundary=SQUARE)
    for i in range(4):
        address = AddressFactory(location=Point(13.331 + i * 0.002, 52.558 - i * 0.002))
        signup_record(address=address, order_key=f"order:{i}")
    state = _state()

    response = _post(api, f"/api/areas/{area.pk}/split/", {"line": ACROSS, "preview": True})

    assert response.status_code == 200
    assert _state() == state
    data = response.json()
    assert (data["type"], data["area"], data["mode"], data["axis"], data["basis"]) == (
        "FeatureCollection",
        {"id": area.pk, "code": "13353"},
        "line",
        None,
        "line",
    )
    assert data["line"] == ACROSS
    west, east = data["features"]
    assert west["geometry"]["type"] == "MultiPolygon"
    assert west["properties"] == {
        "side": "a",
        "code": "13353-a",
        "name": "Leopoldplatz (part a)",
        "share_of_surface": 0.6,
        "addresses": 3,
        "homes": 3,
        "interests": 0,
        "orders": 3,
        "addresses_with_interest": 0,
        "addresses_with_order": 3,
        "take_rate": 1.0,
        "interest_rate": 0.0,
        "progress": 2.5,
        "ready_to_build": True,
    }
    assert (east["properties"]["code"], east["properties"]["orders"]) == ("13353-b", 1)


def test_a_share_preview_says_when_homes_decided(api, db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    [AddressFactory(location=Point(13.331 + i * 0.002, 52.551 + i * 0.002)) for i in range(4)]

    response = _post(
        api,
        f"/api/areas/{area.pk}/split/",
        {"mode": "share", "share": 0.5, "axis": "east-west", "preview": True},
    )

    assert response.status_code == 200
    data = response.json()
    assert (data["basis"], data["share"], data["axis"]) == ("homes", 0.5, "east-west")
    assert data["note"] == (
        "area 13353 has no live orders yet, so the line puts 50% of its 4 homes on the west"
        " side instead"
    )
    assert [f["properties"]["homes"] for f in data["features"]] == [2, 2]


def test_a_split_creates_the_two_areas(api, planner, db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    AddressFactory(location=Point(13.332, 52.555))

    response = _post(
        api, f"/api/areas/{area.pk}/split/", {"mode": "half", "axis": "east-west", "reason": "x"}
    )

    assert response.status_code == 201
    data = response.json()
    west, east = Area.objects.filter(parent=area).order_by("pk")
    assert data["split"] == {
        "id": AreaSplit.objects.get().pk,
        "parent": area.pk,
        "children": [west.pk, east.pk],
        "mode": "half",
        "note": "a straight line through the centroid of area 13353 (longitude 13.335000)",
    }
    assert [f["properties"]["code"] for f in data["features"]] == ["13353-w", "13353-e"]
    assert [f["properties"]["homes"] for f in data["features"]] == [1, 0]
    assert Area.objects.get(pk=area.pk).is_active is False
    assert AreaSplit.objects.get().actor == planner


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"line": {"type": "LineString", "coordinates": [[13.2, 52.4], [13.21, 52.41]]}},
            "the line does not cross area 13353: it lies entirely outside it",
        ),
        (
            {
                "line": {
                    "type": "LineString",
                    "coordinates": [[13.332, 52.549], [13.334, 52.561], [13.336, 52.549]],
                }
            },
            "the line splits the area into 3 parts; draw a line that crosses it once",
        ),
        (
            {"mode": "share", "share": 2},
            "share must lie strictly between 0 and 1 (e.g. 0.5 for half of the orders), not 2.0",
        ),
        ({"mode": "half", "axis": "up"}, 'axis: "up" is not a valid choice.'),
        ({"mode": "thirds"}, 'mode: "thirds" is not a valid choice.'),
        ({}, "draw a line across area 13353, or ask for mode half or share"),
        (
            {"line": ACROSS, "colour": "red"},
            "colour: unknown field; this endpoint takes line,"
            " mode, axis, share, crs, preview, reason",
        ),
        ({"mode": "share", "share": "most"}, "share: A valid number is required."),
    ],
)
def test_a_bad_split_is_a_400_with_its_reason_and_changes_nothing(api, db, body, detail):
    area = AreaFactory(code="13353", boundary=SQUARE)
    state = _state()

    for preview in (True, False):
        response = _post(api, f"/api/areas/{area.pk}/split/", {**body, "preview": preview})

        assert response.status_code == 400
        assert response.json()["detail"] == detail
        assert _state() == state


def test_splitting_a_split_area_is_a_409(api, db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    area_split(area=area, mode="half")
    state = _state()

    response = _post(api, f"/api/areas/{area.pk}/split/", {"mode": "half"})

    assert response.status_code == 409
    assert response.json() == {
        "code": "area_retired",
        "detail": "area 13353 was already split (into 13353-n, 13353-s); split one of its parts",
    }
    assert _state() == state


def test_splitting_an_unknown_area_is_a_404(api, db):
    assert _post(api, "/api/areas/999999/split/", {"mode": "half"}).status_code == 404


# --- phase and settings ---------------------------------------------------------------------


def test_a_phase_move_calls_the_service_and_returns_the_area(api, planner, db):
    area = AreaFactory(code="13353", boundary=SQUARE)

    response = _post(
        api, f"/api/areas/{area.pk}/phase/", {"phase": "demand_aggregation", "reason": "go"}
    )

    assert response.status_code == 200
    assert response.json()["properties"]["phase"] == "demand_aggregation"
    change = AreaPhaseChange.objects.get(area=area)
    assert (change.from_phase, change.to_phase, change.actor, change.reason) == (
        "planning",
        "demand_aggregation",
        planner,
        "go",
    )
    for phase in ("in_deployment", "live"):
        assert _post(api, f"/api/areas/{area.pk}/phase/", {"phase": phase}).status_code == 200
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.LIVE


def test_a_phase_move_back_to_planning(api, db):
    area = area_start_demand_aggregation(area=AreaFactory(code="13353", boundary=SQUARE))

    response = _post(api, f"/api/areas/{area.pk}/phase/", {"phase": "planning"})

    assert response.status_code == 200
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.PLANNING


def test_an_illegal_phase_move_is_a_409_and_changes_nothing(api, db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    state = _state()

    response = _post(api, f"/api/areas/{area.pk}/phase/", {"phase": "live"})

    assert response.status_code == 409
    assert response.json() == {
        "code": "invalid_transition",
        "detail": "area cannot move from planning to live (allowed from planning:"
        " demand_aggregation)",
    }
    assert _state() == state


def test_an_unknown_phase_is_a_400(api, db):
    area = AreaFactory(code="13353", boundary=SQUARE)

    response = _post(api, f"/api/areas/{area.pk}/phase/", {"phase": "built"})

    assert response.status_code == 400
    assert response.json()["detail"] == 'phase: "built" is not a valid choice.'


def test_patch_changes_name_target_and_opt_in(api, db):
    area = AreaFactory(code="13353", name="Old", boundary=SQUARE)

    response = _patch(
        api,
        f"/api/areas/{area.pk}/",
        {"name": "Leopoldplatz", "target_take_rate": 0.35, "deploys_at_target": True},
    )

    assert response.status_code == 200
    properties = response.json()["properties"]
    assert (
        properties["name"],
        properties["target_take_rate"],
        properties["deploys_at_target"],
    ) == (
        "Leopoldplatz",
        0.35,
        True,
    )
    stored = Area.objects.get(pk=area.pk)
    assert (stored.name, stored.target_take_rate, stored.deploys_at_target) == (
        "Leopoldplatz",
        Decimal("0.3500"),
        True,
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"phase": "live"},
            "phase: unknown field; this endpoint takes name, target_take_rate, deploys_at_target",
        ),
        (
            {"target_take_rate": 1.5},
            "target take rate must be between 0 and 1 (e.g. 0.4 for 40%), not 1.5",
        ),
        ({"name": "  "}, "an area needs a name"),
        (
            {"code": "x"},
            "code: unknown field; this endpoint takes name, target_take_rate, deploys_at_target",
        ),
    ],
)
def test_a_bad_patch_is_a_400_and_changes_nothing(api, db, body, detail):
    area = AreaFactory(code="13353", boundary=SQUARE)
    state = _state()

    response = _patch(api, f"/api/areas/{area.pk}/", body)

    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert _state() == state


# --- who may do what ------------------------------------------------------------------------


def _requests(area: Area) -> dict:
    return {
        "list": lambda c: c.get("/api/areas/"),
        "detail": lambda c: c.get(f"/api/areas/{area.pk}/"),
        "preview": lambda c: _post(
            c, f"/api/areas/{area.pk}/split/", {"mode": "half", "preview": True}
        ),
        "phase": lambda c: _post(c, f"/api/areas/{area.pk}/phase/", {"phase": "planning"}),
        "patch": lambda c: _patch(c, f"/api/areas/{area.pk}/", {"name": "Renamed"}),
        "split": lambda c: _post(c, f"/api/areas/{area.pk}/split/", {"mode": "half"}),
    }


# statuses per endpoint: reads, preview, phase (planning→planning is illegal: 409 means
# "allowed in, refused by the lifecycle"), patch, split
OPERATOR = {"list": 200, "detail": 200, "preview": 200, "phase": 409, "patch": 200, "split": 201}
READER = {"list": 200, "detail": 200, "preview": 403, "phase": 403, "patch": 403, "split": 403}
NOBODY = dict.fromkeys(OPERATOR, 403)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("admin_user", OPERATOR),
        ("planner", OPERATOR),
        ("finance", READER),
        ("dispatcher", READER),
        ("isp_user", NOBODY),
        ("contractor", NOBODY),
    ],
)
def test_each_role_may_do_what_it_should(client, request, db, who, expected):
    user = request.getfixturevalue(who)
    area = AreaFactory(code="13353", boundary=SQUARE)
    client.force_login(user)

    statuses = {name: send(client).status_code for name, send in _requests(area).items()}

    assert statuses == expected
    if expected is not OPERATOR:
        assert Area.objects.get(pk=area.pk).name == area.name
        assert not AreaSplit.objects.exists()


def test_anonymous_users_get_a_401_everywhere(client, db):
    area = AreaFactory(code="13353", boundary=SQUARE)

    statuses = {name: send(client).status_code for name, send in _requests(area).items()}

    assert statuses == dict.fromkeys(OPERATOR, 401)
    assert not AreaSplit.objects.exists()


def test_a_read_token_reads_and_a_write_token_also_splits(client, planner, db):
    area = AreaFactory(code="13353", boundary=SQUARE)
    _, read_key = api_token_create(user=planner, name="map", scopes=[TokenScope.READ])
    _, write_key = api_token_create(user=planner, name="gis", scopes=[TokenScope.WRITE])
    reader = {"HTTP_AUTHORIZATION": f"Bearer {read_key}"}
    writer = {"HTTP_AUTHORIZATION": f"Bearer {write_key}"}

    assert client.get("/api/areas/", **reader).status_code == 200
    refused = _post(client, f"/api/areas/{area.pk}/split/", {"mode": "half"}, **reader)
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        "this API token may only read: changes need a token with the write scope"
    )
    assert not AreaSplit.objects.exists()
    done = _post(client, f"/api/areas/{area.pk}/split/", {"mode": "half"}, **writer)
    assert done.status_code == 201
    assert AreaSplit.objects.get().actor == planner


def test_a_token_of_an_isp_user_reads_nothing(client, isp_user, db):
    _, key = api_token_create(user=isp_user, name="isp", scopes=[TokenScope.READ])

    response = client.get("/api/areas/", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 403


# --- the schema -----------------------------------------------------------------------------


def test_the_openapi_schema_describes_the_areas_api(client, admin_user):
    client.force_login(admin_user)

    schema = client.get("/api/schema/", {"format": "json"}).json()

    paths = schema["paths"]
    assert set(paths["/api/areas/"]) == {"get"}
    assert set(paths["/api/areas/{id}/"]) == {"get", "patch", "delete"}
    assert set(paths["/api/areas/{id}/split/"]) == {"post"}
    assert set(paths["/api/areas/{id}/phase/"]) == {"post"}
    parameters = {p["name"] for p in paths["/api/areas/"]["get"]["parameters"]}
    assert {
        "phase",
        "search",
        "take_rate_min",
        "take_rate_max",
        "ready_to_build",
        "in_bbox",
        "include_retired",
        "ordering",
        "simplify",
        "limit",
        "offset",
    } <= parameters
    split = paths["/api/areas/{id}/split/"]["post"]
    assert {"200", "201", "400", "409"} <= set(split["responses"])
    components = schema["components"]["schemas"]
    feature = components["AreaFeature"]["properties"]
    assert feature["geometry"]["properties"]["type"]["enum"] == ["MultiPolygon"]
    assert {"take_rate", "homes", "ready_to_build"} <= set(feature["properties"]["properties"])
    assert "line" in components["AreaSplit"]["properties"]
