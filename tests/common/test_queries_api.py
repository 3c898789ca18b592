"""The saved-queries API: running, saving, sharing, stars, exports, and who may do what."""

import csv
import io
import uuid

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import api_token_create, user_create
from common.models import SavedQuery, SavedQueryFavourite, SavedQueryShare
from common.queries.services import saved_query_create, saved_query_share, saved_query_share_link
from tests.common.queries_town import WEST, build_town, polygon_json

pytestmark = pytest.mark.django_db

RUN = "/api/queries/run/"
QUERIES = "/api/queries/"

AWAITING = {
    "version": 1,
    "source": "addresses",
    "where": {
        "op": "and",
        "conditions": [{"field": "status", "operator": "eq", "value": "awaiting_deployment"}],
    },
    "columns": ["label", "units", "status", "area_take_rate"],
    "order_by": ["label"],
}


@pytest.fixture
def town(owner):
    return build_town(owner)


@pytest.fixture
def colleague(owner):
    return user_create(
        username="colleague",
        organisation=owner,
        role=Role.PLANNER,
        first_name="Carla",
        last_name="Kollegin",
    )


@pytest.fixture
def finance(owner):
    return user_create(username="finance", organisation=owner, role=Role.FINANCE)


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(planner):
    return client_for(planner)


@pytest.fixture
def saved(town, planner):
    return saved_query_create(owner=planner, name="Awaiting deployment", definition=AWAITING)


# --- the registry and running definitions ---------------------------------------------------


def test_sources_describe_fields_operators_choices_and_columns(town, api):
    response = api.get(f"{QUERIES}sources/")
    assert response.status_code == 200
    sources = {source["key"]: source for source in response.json()}
    assert list(sources) == ["addresses", "areas", "orders"]
    fields = {field["name"]: field for field in sources["addresses"]["fields"]}
    assert fields["status"]["kind"] == "choice"
    assert fields["status"]["choices"][:2] == [
        {"value": "planned", "label": "planned"},
        {"value": "awaiting_deployment", "label": "awaiting deployment"},
    ]
    assert fields["status"]["operators"][0] == {"key": "eq", "label": "is", "value": "one"}
    assert [op["label"] for op in fields["created_at"]["operators"]][:6] == [
        "on",
        "not on",
        "before",
        "on or before",
        "after",
        "on or after",
    ]
    assert fields["location"]["operators"] == [
        {"key": "within", "label": "inside the drawn area", "value": "geometry"}
    ]
    assert fields["area_take_rate"]["percent"] is True
    assert fields["area"]["choices"] == [
        {"value": town.east.pk, "label": "east East"},
        {"value": town.west.pk, "label": "west West"},
    ]
    order_fields = {field["name"]: field for field in sources["orders"]["fields"]}
    assert order_fields["isp"]["choices"] == [
        {"value": town.fibre_one.pk, "label": "Fibre One"},
        {"value": town.speedy.pk, "label": "Speedy"},
    ]
    assert sources["areas"]["context_where"] == {
        "op": "and",
        "conditions": [{"field": "is_active", "operator": "eq", "value": True}],
    }
    assert sources["addresses"]["columns"][0] == {
        "name": "label",
        "label": "address",
        "kind": "text",
        "percent": False,
        "default": True,
        "sortable": True,
    }


def test_sources_take_a_constant_number_of_queries(town, api, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        assert api.get(f"{QUERIES}sources/").status_code == 200


def test_run_returns_a_page_of_rows(town, api):
    response = api.post(f"{RUN}?limit=1", {"definition": AWAITING}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert data["results"] == [
        {
            "id": town.a1.pk,
            "label": "Müllerstraße 1, 13353 Berlin",
            "units": 1,
            "status": "awaiting_deployment",
            "area_take_rate": 0.1429,
        }
    ]
    assert data["next"] == "http://testserver/api/queries/run/?limit=1&offset=1"
    assert data["previous"] is None
    assert data["definition"] == AWAITING
    second = api.post(data["next"], {"definition": AWAITING}, format="json").json()
    assert [row["id"] for row in second["results"]] == [town.a3.pk]
    assert second["next"] is None
    assert second["previous"] == "http://testserver/api/queries/run/?limit=1"


def test_run_refuses_a_bad_definition_with_400_and_the_place(town, api):
    definition = {
        "source": "addresses",
        "where": {"op": "and", "conditions": [{"field": "colour", "operator": "eq", "value": 1}]},
    }
    response = api.post(RUN, {"definition": definition}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_query",
        "detail": "unknown field 'colour' for addresses",
        "field": "where.conditions[0].field",
    }


@pytest.mark.parametrize(
    ("body", "params", "detail"),
    [
        ({}, "", None),
        ({"definition": AWAITING}, "?limit=0", "limit must be from 1 to 1000"),
        ({"definition": AWAITING}, "?offset=x", "offset must be a whole number, got 'x'"),
        ({"definition": AWAITING}, "?export=pdf", "unknown export format 'pdf'; use csv or xlsx"),
        ({"definition": "[1, 2"}, "", "the definition is not valid JSON: Expecting"),
    ],
)
def test_run_refuses_bad_requests_with_400(town, api, body, params, detail):
    response = api.post(f"{RUN}{params}", body, format="json")
    assert response.status_code == 400
    if detail:
        assert response.json()["detail"].startswith(detail)


def test_run_as_geojson_for_the_map(town, api, settings):
    settings.QUERIES_MAP_FEATURE_CAP = 1
    definition = {
        "source": "addresses",
        "where": {
            "op": "and",
            "conditions": [
                {"field": "location", "operator": "within", "value": polygon_json(WEST)}
            ],
        },
        "columns": ["label"],
    }
    response = api.post(f"{RUN}?format=geojson", {"definition": definition}, format="json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    data = response.json()
    assert data["type"] == "FeatureCollection"
    assert (data["count"], data["capped"], data["cap"]) == (2, True, 1)
    assert data["features"] == [
        {
            "type": "Feature",
            "id": town.a1.pk,
            "geometry": {"type": "Point", "coordinates": [13.3302, 52.5502]},
            "properties": {"label": "Müllerstraße 1, 13353 Berlin"},
        }
    ]


# --- saved queries ------------------------------------------------------------------------------


def test_saving_stores_the_canonical_definition(town, api, planner):
    response = api.post(
        QUERIES,
        {
            "name": "  Big   buildings ",
            "description": "MDUs",
            "definition": {
                "source": "addresses",
                "where": {
                    "op": "and",
                    "conditions": [{"field": "units", "operator": "gt", "value": "1"}],
                },
            },
        },
        format="json",
    )
    assert response.status_code == 201
    data = response.json()
    saved = SavedQuery.objects.get()
    assert (saved.owner, saved.name, saved.description, saved.source) == (
        planner,
        "Big buildings",
        "MDUs",
        "addresses",
    )
    assert saved.definition["where"]["conditions"] == [
        {"field": "units", "operator": "gt", "value": 1}
    ]
    assert saved.definition["columns"] == [
        "label",
        "postcode",
        "premises_type",
        "units",
        "status",
        "area_code",
    ]
    assert data["id"] == saved.pk
    assert data["owner"] == {"id": planner.pk, "username": "planner", "name": "planner"}
    assert (data["is_mine"], data["can_edit"], data["is_favourite"]) == (True, True, False)
    assert data["shared_with"] == []
    assert data["share_link"] is None
    assert data["url"] == f"/queries/{saved.pk}/"
    assert data["results_url"] == f"/api/queries/{saved.pk}/results/"


def test_saving_a_bad_definition_saves_nothing(town, api):
    response = api.post(
        QUERIES,
        {"name": "Broken", "definition": {"source": "addresses", "columns": ["colour"]}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "unknown column 'colour' for addresses"
    assert SavedQuery.objects.count() == 0


def test_a_name_is_used_once_per_owner(saved, api, colleague):
    response = api.post(
        QUERIES, {"name": "Awaiting deployment", "definition": AWAITING}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "code": "conflict",
        "detail": "there is already a query named 'Awaiting deployment'; choose another name",
        "field": "name",
    }
    other = client_for(colleague).post(
        QUERIES, {"name": "Awaiting deployment", "definition": AWAITING}, format="json"
    )
    assert other.status_code == 201


def test_the_owner_renames_and_changes_the_definition(saved, api):
    changed = {**AWAITING, "columns": ["label"]}
    response = api.patch(
        f"{QUERIES}{saved.pk}/", {"name": "Queue", "definition": changed}, format="json"
    )
    assert response.status_code == 200
    saved.refresh_from_db()
    assert saved.name == "Queue"
    assert saved.definition["columns"] == ["label"]


def test_a_colleague_it_is_shared_with_may_run_it_but_not_change_it(saved, planner, colleague):
    saved_query_share(saved_query=saved, actor=planner, user=colleague)
    client = client_for(colleague)
    data = client.get(f"{QUERIES}{saved.pk}/").json()
    assert (data["is_mine"], data["can_edit"], data["shared_with"]) == (False, False, [])
    assert client.get(f"{QUERIES}{saved.pk}/results/").json()["count"] == 2
    response = client.patch(f"{QUERIES}{saved.pk}/", {"name": "Mine now"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "only the owner of a query (or an operator admin) may change it"
    )
    assert client.delete(f"{QUERIES}{saved.pk}/").status_code == 403
    assert client.post(
        f"{QUERIES}{saved.pk}/share/", {"link": True}, format="json"
    ).status_code == (403)
    saved.refresh_from_db()
    assert (saved.name, saved.share_token) == ("Awaiting deployment", None)


def test_a_shared_colleague_copies_it_as_their_own(saved, planner, colleague):
    saved_query_share(saved_query=saved, actor=planner, user=colleague)
    response = client_for(colleague).post(f"{QUERIES}{saved.pk}/copy/", {}, format="json")
    assert response.status_code == 201
    copy = SavedQuery.objects.get(pk=response.json()["id"])
    assert (copy.owner, copy.name, copy.definition) == (
        colleague,
        "Awaiting deployment (copy)",
        saved.definition,
    )


def test_another_planner_does_not_see_it(saved, colleague):
    client = client_for(colleague)
    for method, url in [
        ("get", f"{QUERIES}{saved.pk}/"),
        ("get", f"{QUERIES}{saved.pk}/results/"),
        ("patch", f"{QUERIES}{saved.pk}/"),
        ("delete", f"{QUERIES}{saved.pk}/"),
        ("post", f"{QUERIES}{saved.pk}/favourite/"),
        ("post", f"{QUERIES}{saved.pk}/copy/"),
        ("post", f"{QUERIES}{saved.pk}/share/"),
    ]:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 404, (method, url)
        assert response.json()["code"] == "not_found"
    assert client.get(QUERIES).json()["results"] == []
    assert SavedQuery.objects.filter(pk=saved.pk).exists()


def test_an_operator_admin_may_change_and_delete_anyones(saved, admin_user):
    client = client_for(admin_user)
    assert client.get(f"{QUERIES}?scope=all").json()["count"] == 1
    assert client.get(QUERIES).json()["count"] == 0
    response = client.patch(f"{QUERIES}{saved.pk}/", {"name": "Tidied"}, format="json")
    assert response.status_code == 200
    assert response.json()["can_edit"] is True
    assert client.delete(f"{QUERIES}{saved.pk}/").status_code == 204
    assert SavedQuery.objects.count() == 0


def test_the_owner_deletes_it_with_its_shares_and_stars(saved, api, planner, colleague):
    saved_query_share(saved_query=saved, actor=planner, user=colleague)
    client_for(colleague).post(f"{QUERIES}{saved.pk}/favourite/", {}, format="json")
    assert api.delete(f"{QUERIES}{saved.pk}/").status_code == 204
    assert (
        SavedQuery.objects.count(),
        SavedQueryShare.objects.count(),
        SavedQueryFavourite.objects.count(),
    ) == (0, 0, 0)


# --- sharing and stars --------------------------------------------------------------------------


def test_sharing_with_a_colleague_and_taking_it_back(saved, api, colleague):
    response = api.post(f"{QUERIES}{saved.pk}/share/", {"user": colleague.pk}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "shared_with": [{"id": colleague.pk, "username": "colleague", "name": "Carla Kollegin"}],
        "share_link": None,
    }
    again = api.post(f"{QUERIES}{saved.pk}/share/", {"user": "colleague"}, format="json")
    assert len(again.json()["shared_with"]) == 1
    listed = client_for(colleague).get(f"{QUERIES}?scope=shared").json()["results"]
    assert [query["id"] for query in listed] == [saved.pk]
    response = api.post(
        f"{QUERIES}{saved.pk}/share/", {"user": colleague.pk, "remove": True}, format="json"
    )
    assert response.json()["shared_with"] == []
    assert client_for(colleague).get(f"{QUERIES}{saved.pk}/").status_code == 404


def test_queries_are_never_shared_outside_the_owners_staff(saved, api, town):
    response = api.post(f"{QUERIES}{saved.pk}/share/", {"user": town.isp_user.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"'{town.isp_user.pk}' is not a colleague a query can be shared with"
        " (the network owner's staff only)"
    )
    assert SavedQueryShare.objects.count() == 0


def test_sharing_with_the_owner_is_refused(saved, api, planner):
    response = api.post(f"{QUERIES}{saved.pk}/share/", {"user": "planner"}, format="json")
    assert response.status_code == 400
    assert SavedQueryShare.objects.count() == 0


def test_a_link_opens_it_for_the_owners_staff_while_it_is_on(saved, api, colleague, town):
    response = api.post(f"{QUERIES}{saved.pk}/share/", {"link": True}, format="json")
    saved.refresh_from_db()
    assert response.json()["share_link"] == f"http://testserver/queries/shared/{saved.share_token}/"
    client = client_for(colleague)
    with_link = f"{QUERIES}{saved.pk}/?share={saved.share_token}"
    assert client.get(f"{QUERIES}{saved.pk}/").status_code == 404
    assert client.get(f"{QUERIES}{saved.pk}/?share={uuid.uuid4()}").status_code == 404
    assert client.get(with_link).status_code == 200
    assert (
        client.get(f"{QUERIES}{saved.pk}/results/?share={saved.share_token}").json()["count"] == 2
    )
    assert client_for(town.isp_user).get(with_link).status_code == 403
    api.post(f"{QUERIES}{saved.pk}/share/", {"link": False}, format="json")
    assert client.get(with_link).status_code == 404


def test_a_star_made_through_a_link_lasts_as_long_as_the_link(saved, api, colleague):
    saved_query_share_link(saved_query=saved, actor=saved.owner, enabled=True)
    saved.refresh_from_db()
    client = client_for(colleague)
    response = client.post(
        f"{QUERIES}{saved.pk}/favourite/?share={saved.share_token}", {}, format="json"
    )
    assert response.json() == {"is_favourite": True}
    favourites = client.get(f"{QUERIES}?scope=favourites").json()["results"]
    assert [(query["id"], query["is_favourite"]) for query in favourites] == [(saved.pk, True)]
    assert client.get(f"{QUERIES}{saved.pk}/").status_code == 200  # no token needed now
    api.post(f"{QUERIES}{saved.pk}/share/", {"link": False}, format="json")
    assert client.get(f"{QUERIES}?scope=favourites").json()["results"] == []
    api.post(f"{QUERIES}{saved.pk}/share/", {"link": True}, format="json")  # a new link
    assert client.get(f"{QUERIES}?scope=favourites").json()["results"] == []


def test_starring_and_unstarring(saved, api):
    assert api.post(f"{QUERIES}{saved.pk}/favourite/", {}, format="json").json() == {
        "is_favourite": True
    }
    assert api.get(f"{QUERIES}{saved.pk}/").json()["is_favourite"] is True
    assert [q["id"] for q in api.get(f"{QUERIES}?scope=favourites").json()["results"]] == [saved.pk]
    response = api.post(f"{QUERIES}{saved.pk}/favourite/", {"is_favourite": False}, format="json")
    assert response.json() == {"is_favourite": False}
    assert api.get(f"{QUERIES}?scope=favourites").json()["results"] == []


def test_the_list_holds_mine_shared_and_starred(town, planner, colleague, api):
    mine = saved_query_create(owner=planner, name="Mine", definition=AWAITING)
    theirs = saved_query_create(owner=colleague, name="Theirs", definition=AWAITING)
    private = saved_query_create(owner=colleague, name="Private", definition=AWAITING)
    saved_query_share(saved_query=theirs, actor=colleague, user=planner)
    assert [q["name"] for q in api.get(QUERIES).json()["results"]] == ["Mine", "Theirs"]
    assert [q["name"] for q in api.get(f"{QUERIES}?scope=mine").json()["results"]] == ["Mine"]
    assert [q["name"] for q in api.get(f"{QUERIES}?scope=shared").json()["results"]] == ["Theirs"]
    assert api.get(f"{QUERIES}?scope=all").json()["count"] == 2  # not an admin: no "all"
    assert mine.pk and private.pk


def test_the_list_takes_a_constant_number_of_queries(
    town, planner, colleague, finance, api, django_assert_max_num_queries
):
    def add(n):
        for index in range(n):
            query = saved_query_create(owner=planner, name=f"Q{n}-{index}", definition=AWAITING)
            saved_query_share(saved_query=query, actor=planner, user=colleague)
            saved_query_share(saved_query=query, actor=planner, user=finance)
            saved_query_share_link(saved_query=query, actor=planner, enabled=True)

    add(2)
    with django_assert_max_num_queries(6) as few:
        assert api.get(QUERIES).json()["count"] == 2
    add(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        data = api.get(QUERIES).json()
    assert data["count"] == 12
    assert len(data["results"][0]["shared_with"]) == 2


def test_results_take_a_constant_number_of_queries(saved, api, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert api.get(f"{QUERIES}{saved.pk}/results/").json()["count"] == 2
    with django_assert_max_num_queries(4):
        assert api.get(f"{QUERIES}{saved.pk}/results/?format=geojson").json()["count"] == 2


def test_a_token_reads_with_its_read_scope_and_writes_with_its_write_scope(saved, planner):
    _, reader_key = api_token_create(user=planner, name="reader", scopes=["read"])
    _, writer_key = api_token_create(user=planner, name="writer", scopes=["read", "write"])
    reader, writer = APIClient(), APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Bearer {reader_key}")
    writer.credentials(HTTP_AUTHORIZATION=f"Bearer {writer_key}")
    assert reader.get(f"{QUERIES}{saved.pk}/results/").json()["count"] == 2
    assert reader.post(RUN, {"definition": AWAITING}, format="json").json()["count"] == 2
    refused = reader.post(QUERIES, {"name": "By token", "definition": AWAITING}, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this API token lacks the 'write' scope"
    created = writer.post(QUERIES, {"name": "By token", "definition": AWAITING}, format="json")
    assert created.status_code == 201


# --- exports ----------------------------------------------------------------------------------


def test_csv_export_matches_the_rows(saved, api):
    rows = api.get(f"{QUERIES}{saved.pk}/results/").json()["results"]
    response = api.get(f"{QUERIES}{saved.pk}/results/?export=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="awaiting-deployment-')
    assert response["Content-Disposition"].endswith('.csv"')
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["address", "homes", "status", "area take rate"]
    assert table[1:] == [
        [row["label"], str(row["units"]), "awaiting deployment", f"{row['area_take_rate']:.4f}"]
        for row in rows
    ]
    assert table[1:] == [
        ["Müllerstraße 1, 13353 Berlin", "1", "awaiting deployment", "0.1429"],
        ["Seestraße 5, 13353 Berlin", "1", "awaiting deployment", "0.5000"],
    ]


def test_xlsx_export_matches_the_rows_with_numbers_as_numbers(saved, api):
    response = api.get(f"{QUERIES}{saved.pk}/results/?export=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values == [
        ["address", "homes", "status", "area take rate"],
        ["Müllerstraße 1, 13353 Berlin", 1, "awaiting deployment", 0.1429],
        ["Seestraße 5, 13353 Berlin", 1, "awaiting deployment", 0.5],
    ]
    assert sheet["D2"].number_format == "0.0%"
    assert sheet["A1"].font.bold is True


def test_xlsx_keeps_dates_as_dates_in_local_time(town, api):
    definition = {
        "source": "orders",
        "columns": ["reference", "placed_at"],
        "order_by": ["reference"],
    }
    response = api.post(f"{RUN}?export=xlsx", {"definition": definition}, format="json")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    placed = timezone.localtime(town.order1.placed_at).replace(tzinfo=None)
    assert sheet["A2"].value == town.order1.reference
    assert abs((sheet["B2"].value - placed).total_seconds()) < 0.01
    assert sheet["B2"].number_format == "yyyy-mm-dd hh:mm"


def test_an_unsaved_definition_exports_too(town, api):
    response = api.post(f"{RUN}?export=csv", {"definition": AWAITING}, format="json")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[1:] == [
        '"Müllerstraße 1, 13353 Berlin",1,awaiting deployment,0.1429',
        '"Seestraße 5, 13353 Berlin",1,awaiting deployment,0.5000',
    ]
    assert 'filename="addresses-query-' in response["Content-Disposition"]


def test_an_export_too_large_is_refused(saved, api, settings):
    settings.QUERIES_EXPORT_MAX_ROWS = 1
    response = api.get(f"{QUERIES}{saved.pk}/results/?export=xlsx")
    assert response.status_code == 400
    assert response.json() == {
        "code": "export_too_large",
        "detail": "the result has 2 rows; an export holds at most 1: narrow the query first",
    }


# --- who may use the API at all ------------------------------------------------------------


def endpoints(pk):
    return [
        ("get", QUERIES),
        ("post", QUERIES),
        ("get", f"{QUERIES}sources/"),
        ("post", RUN),
        ("get", f"{QUERIES}{pk}/"),
        ("patch", f"{QUERIES}{pk}/"),
        ("delete", f"{QUERIES}{pk}/"),
        ("post", f"{QUERIES}{pk}/share/"),
        ("post", f"{QUERIES}{pk}/favourite/"),
        ("post", f"{QUERIES}{pk}/copy/"),
        ("get", f"{QUERIES}{pk}/results/"),
        ("get", f"{QUERIES}{pk}/results/?export=csv"),
        ("get", f"{QUERIES}{pk}/results/?format=geojson"),
    ]


def test_isp_users_are_refused_everywhere(saved, town):
    saved_query_share_link(saved_query=saved, actor=saved.owner, enabled=True)
    saved.refresh_from_db()
    client = client_for(town.isp_user)
    for method, url in endpoints(saved.pk):
        joiner = "&" if "?" in url else "?"
        response = getattr(client, method)(
            f"{url}{joiner}share={saved.share_token}", {"definition": AWAITING}, format="json"
        )
        assert response.status_code == 403, (method, url)
        assert response.json() == {
            "code": "permission_denied",
            "detail": "only the network owner's staff may use saved queries",
        }
    assert SavedQuery.objects.count() == 1
    assert SavedQueryFavourite.objects.count() == 0


def test_contractors_are_refused(saved, town):
    from accounts.roles import OrganisationKind
    from accounts.services import organisation_create

    builders = organisation_create(name="Builders", kind=OrganisationKind.CONTRACTOR)
    worker = user_create(username="worker", organisation=builders, role=Role.CONTRACTOR_TECHNICIAN)
    assert client_for(worker).get(QUERIES).status_code == 403
    assert client_for(worker).post(RUN, {"definition": AWAITING}, format="json").status_code == 403


def test_anonymous_callers_are_refused_everywhere(saved):
    client = client_for(None)
    for method, url in endpoints(saved.pk):
        response = getattr(client, method)(url, {"definition": AWAITING}, format="json")
        assert response.status_code == 401, (method, url)
        assert response["WWW-Authenticate"] == "Bearer"
    assert SavedQuery.objects.count() == 1


def test_every_endpoint_is_in_the_openapi_schema(admin_user):
    client = client_for(admin_user)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert set(paths["/api/queries/"]) == {"get", "post"}
    assert set(paths["/api/queries/{id}/"]) == {"get", "patch", "delete"}
    for action in ("share", "favourite", "copy"):
        assert set(paths[f"/api/queries/{{id}}/{action}/"]) == {"post"}
    assert set(paths["/api/queries/{id}/results/"]) == {"get"}
    assert set(paths["/api/queries/run/"]) == {"post"}
    assert set(paths["/api/queries/sources/"]) == {"get"}
    parameters = {p["name"] for p in paths["/api/queries/{id}/results/"]["get"]["parameters"]}
    assert {"limit", "offset", "format", "export", "share"} <= parameters
