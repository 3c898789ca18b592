"""The saved-query engine: registry, definitions, every operator per kind on real PostGIS."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Polygon
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from common.models import DomainEvent
from common.queries import registry
from common.queries.compiler import filtered_queryset, result_geojson, result_page
from common.queries.definition import parse_definition
from common.queries.errors import InvalidQuery
from common.queries.registry import Column, Field
from gis_core.models import Address
from tests.common.queries_town import EAST, WEST, build_town, polygon_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def town(owner):
    return build_town(owner)


def where(*conditions, op="and"):
    return {"op": op, "conditions": list(conditions)}


def cond(field, operator, value):
    return {"field": field, "operator": operator, "value": value}


def matching(user, source, *conditions, op="and"):
    definition = parse_definition(
        {"version": 1, "source": source, "where": where(*conditions, op=op)}
    )
    return set(filtered_queryset(definition, user=user).values_list("pk", flat=True))


def pks(*objects):
    return {obj.pk for obj in objects}


# --- every operator, per kind ---------------------------------------------------------------


def test_text_operators(town, planner):
    t = town
    assert matching(planner, "addresses", cond("street", "icontains", "müller")) == pks(t.a1, t.a2)
    assert matching(planner, "addresses", cond("street", "eq", "Seestraße")) == pks(t.a3, t.a4)
    assert matching(planner, "addresses", cond("street", "ne", "Seestraße")) == pks(
        t.a1, t.a2, t.a5
    )
    assert matching(planner, "addresses", cond("street", "startswith", "osl")) == pks(t.a5)
    assert matching(planner, "addresses", cond("street", "contains", "Straße")) == pks(t.a5)
    assert matching(planner, "addresses", cond("street", "contains", "straße")) == pks(
        t.a1, t.a2, t.a3, t.a4
    )
    assert matching(
        planner, "addresses", cond("street", "in", ["Seestraße", "Osloer Straße"])
    ) == pks(t.a3, t.a4, t.a5)
    assert matching(
        planner, "addresses", cond("street", "not_in", ["Seestraße", "Osloer Straße"])
    ) == pks(t.a1, t.a2)
    assert matching(planner, "addresses", cond("house_number", "isnull", True)) == pks(t.a5)
    assert matching(planner, "addresses", cond("house_number", "isnull", False)) == pks(
        t.a1, t.a2, t.a3, t.a4
    )


def test_choice_operators(town, planner):
    t = town
    assert matching(planner, "addresses", cond("status", "eq", "awaiting_deployment")) == pks(
        t.a1, t.a3
    )
    assert matching(planner, "addresses", cond("status", "ne", "awaiting_deployment")) == pks(
        t.a2, t.a4, t.a5
    )
    assert matching(
        planner, "addresses", cond("premises_type", "in", ["mdu_flat", "business"])
    ) == pks(t.a2, t.a4)
    assert matching(
        planner, "addresses", cond("premises_type", "not_in", ["mdu_flat", "business"])
    ) == pks(t.a1, t.a3, t.a5)
    assert matching(planner, "orders", cond("status", "eq", "cancelled")) == pks(t.order3)
    assert matching(planner, "areas", cond("phase", "in", ["planning"])) == pks(t.west, t.east)


def test_integer_operators(town, planner):
    t = town
    everyone_but_a2 = pks(t.a1, t.a3, t.a4, t.a5)
    assert matching(planner, "addresses", cond("units", "eq", 6)) == pks(t.a2)
    assert matching(planner, "addresses", cond("units", "ne", 1)) == pks(t.a2)
    assert matching(planner, "addresses", cond("units", "lt", 6)) == everyone_but_a2
    assert matching(planner, "addresses", cond("units", "lte", 6)) == everyone_but_a2 | pks(t.a2)
    assert matching(planner, "addresses", cond("units", "gt", 1)) == pks(t.a2)
    assert matching(planner, "addresses", cond("units", "gte", 2)) == pks(t.a2)
    assert matching(planner, "addresses", cond("units", "between", [2, 6])) == pks(t.a2)
    assert matching(planner, "addresses", cond("units", "in", [6, 7])) == pks(t.a2)
    assert matching(planner, "addresses", cond("units", "not_in", [6])) == everyone_but_a2
    assert matching(planner, "areas", cond("homes", "eq", 7)) == pks(t.west)


def test_decimal_operators_on_take_rates(town, planner):
    t = town
    # west: 1 of 7 homes ordered (0.1429); east: 1 of 2 (0.5); a5 is in no area
    assert matching(planner, "addresses", cond("area_take_rate", "gte", 0.5)) == pks(t.a3, t.a4)
    assert matching(planner, "addresses", cond("area_take_rate", "gt", 0.5)) == set()
    assert matching(planner, "addresses", cond("area_take_rate", "lt", "0.2")) == pks(t.a1, t.a2)
    assert matching(planner, "addresses", cond("area_take_rate", "lte", 0.1429)) == pks(t.a1, t.a2)
    assert matching(planner, "addresses", cond("area_take_rate", "between", [0.1, 0.2])) == pks(
        t.a1, t.a2
    )
    assert matching(planner, "addresses", cond("area_take_rate", "eq", 0.5)) == pks(t.a3, t.a4)
    # "is not" keeps the rows where the value is empty
    assert matching(planner, "addresses", cond("area_take_rate", "ne", 0.5)) == pks(
        t.a1, t.a2, t.a5
    )
    assert matching(planner, "addresses", cond("area_take_rate", "isnull", True)) == pks(t.a5)
    assert matching(planner, "areas", cond("take_rate", "gte", 0.4)) == pks(t.east)
    assert matching(planner, "areas", cond("progress", "gte", 1)) == pks(t.east)


def test_datetime_operators_compare_whole_local_days(town, planner):
    t = town
    today = timezone.localdate()
    ten_days_ago = timezone.localdate(t.now - timedelta(days=10))
    assert matching(planner, "orders", cond("placed_at", "eq", ten_days_ago.isoformat())) == pks(
        t.order1
    )
    assert matching(planner, "orders", cond("placed_at", "ne", ten_days_ago.isoformat())) == pks(
        t.order2, t.order3
    )
    assert matching(planner, "orders", cond("placed_at", "lt", ten_days_ago.isoformat())) == pks(
        t.order2
    )
    assert matching(planner, "orders", cond("placed_at", "lte", ten_days_ago.isoformat())) == pks(
        t.order1, t.order2
    )
    assert matching(planner, "orders", cond("placed_at", "gt", ten_days_ago.isoformat())) == pks(
        t.order3
    )
    assert matching(planner, "orders", cond("placed_at", "gte", ten_days_ago.isoformat())) == pks(
        t.order1, t.order3
    )
    span = [(today - timedelta(days=45)).isoformat(), ten_days_ago.isoformat()]
    assert matching(planner, "orders", cond("placed_at", "between", span)) == pks(
        t.order1, t.order2
    )
    moment = (t.now - timedelta(days=5)).isoformat()
    assert matching(planner, "orders", cond("placed_at", "lt", moment)) == pks(t.order1, t.order2)


def test_relative_dates_count_back_from_now(town, planner):
    t = town
    assert matching(planner, "orders", cond("placed_at", "last_days", 30)) == pks(
        t.order1, t.order3
    )
    assert matching(planner, "orders", cond("placed_at", "last_days", 1)) == set()
    assert matching(planner, "orders", cond("placed_at", "last_days", 60)) == pks(
        t.order1, t.order2, t.order3
    )


def test_nullable_datetime_isnull(town, planner):
    t = town
    # a1 and a3 moved to awaiting deployment; a4 went there and back with its cancelled order
    assert matching(planner, "addresses", cond("status_changed_at", "isnull", True)) == pks(
        t.a2, t.a5
    )


def test_boolean_operators(town, planner):
    t = town
    assert matching(planner, "addresses", cond("has_live_interest", "eq", True)) == pks(t.a2)
    assert matching(planner, "addresses", cond("has_live_signup", "eq", True)) == pks(t.a1, t.a3)
    assert matching(planner, "addresses", cond("has_live_signup", "eq", False)) == pks(
        t.a2, t.a4, t.a5
    )
    assert matching(planner, "areas", cond("is_active", "eq", True)) == pks(t.west, t.east)


def test_foreign_key_operators(town, planner):
    t = town
    assert matching(planner, "addresses", cond("area", "eq", t.west.pk)) == pks(t.a1, t.a2)
    assert matching(planner, "addresses", cond("area", "ne", t.west.pk)) == pks(t.a3, t.a4, t.a5)
    assert matching(planner, "addresses", cond("area", "in", [t.west.pk, t.east.pk])) == pks(
        t.a1, t.a2, t.a3, t.a4
    )
    assert matching(planner, "addresses", cond("area", "not_in", [t.east.pk])) == pks(
        t.a1, t.a2, t.a5
    )
    assert matching(planner, "addresses", cond("area", "isnull", True)) == pks(t.a5)
    assert matching(planner, "orders", cond("isp", "eq", t.fibre_one.pk)) == pks(t.order1)
    assert matching(planner, "orders", cond("isp", "isnull", True)) == pks(t.order3)
    assert matching(planner, "orders", cond("area", "eq", t.east.pk)) == pks(t.order2, t.order3)


def test_conditions_across_a_many_valued_relation_match_each_row_once(town, planner):
    from wholesale.services import order_place

    t = town
    order_place(address=t.a1, isp=t.fibre_one)  # a second order at a1
    definition = parse_definition(
        {"source": "addresses", "where": where(cond("order_isp", "eq", t.fibre_one.pk))}
    )
    assert list(filtered_queryset(definition, user=planner).values_list("pk", flat=True)) == [
        t.a1.pk
    ]
    assert matching(planner, "addresses", cond("order_status", "eq", "cancelled")) == pks(t.a4)
    # "is not": no order of the address has that status (addresses without orders included)
    assert matching(planner, "addresses", cond("order_status", "ne", "cancelled")) == pks(
        t.a1, t.a2, t.a3, t.a5
    )
    assert matching(planner, "addresses", cond("order_isp", "isnull", True)) == pks(
        t.a2, t.a4, t.a5
    )


def test_inside_a_drawn_polygon_uses_postgis(town, planner):
    t = town
    assert matching(planner, "addresses", cond("location", "within", polygon_json(WEST))) == pks(
        t.a1, t.a2
    )
    two_squares = {
        "type": "MultiPolygon",
        "coordinates": [
            polygon_json(WEST)["coordinates"],
            polygon_json(Polygon.from_bbox((13.339, 52.559, 13.341, 52.561)))["coordinates"],
        ],
    }
    assert matching(planner, "addresses", cond("location", "within", two_squares)) == pks(
        t.a1, t.a2, t.a5
    )
    assert matching(planner, "orders", cond("location", "within", polygon_json(EAST))) == pks(
        t.order2, t.order3
    )
    sliver = Polygon.from_bbox((13.3305, 52.5501, 13.3315, 52.5502))  # across the border
    assert matching(planner, "areas", cond("boundary", "intersects", polygon_json(sliver))) == pks(
        t.west, t.east
    )
    assert matching(planner, "areas", cond("boundary", "within", polygon_json(sliver))) == set()
    assert matching(
        planner,
        "areas",
        cond(
            "boundary",
            "within",
            polygon_json(Polygon.from_bbox((13.3309, 52.5499, 13.3321, 52.5511))),
        ),
    ) == pks(t.east)


# --- and/or groups ---------------------------------------------------------------------------


def test_and_or_groups_nest(town, planner):
    t = town
    # awaiting deployment AND (an MDU OR on Seestraße)
    assert matching(
        planner,
        "addresses",
        cond("status", "eq", "awaiting_deployment"),
        where(cond("units", "gt", 1), cond("street", "eq", "Seestraße"), op="or"),
    ) == pks(t.a3)
    # an MDU OR (on Seestraße AND (a business OR with a live signup))
    assert matching(
        planner,
        "addresses",
        cond("units", "gt", 1),
        where(
            cond("street", "eq", "Seestraße"),
            where(
                cond("premises_type", "eq", "business"),
                cond("has_live_signup", "eq", True),
                op="or",
            ),
        ),
        op="or",
    ) == pks(t.a2, t.a3, t.a4)


def test_empty_groups_are_left_out_and_no_condition_matches_everything(town, planner):
    t = town
    everything = pks(t.a1, t.a2, t.a3, t.a4, t.a5)
    assert matching(planner, "addresses") == everything
    assert matching(planner, "addresses", where(op="or")) == everything
    assert matching(planner, "addresses", cond("units", "gt", 1), where(), op="or") == pks(t.a2)
    definition = parse_definition(
        {"source": "addresses", "where": where(cond("units", "gt", 1), where(op="or"))}
    )
    assert definition.as_json()["where"] == {
        "op": "and",
        "conditions": [{"field": "units", "operator": "gt", "value": 1}],
    }


# --- definitions: validation with messages that say what is wrong -----------------------


def refusal(data) -> InvalidQuery:
    with pytest.raises(InvalidQuery) as caught:
        parse_definition(data)
    return caught.value


def test_unknown_field_is_named(town):
    error = refusal({"source": "addresses", "where": where(cond("colour", "eq", "red"))})
    assert error.message == "unknown field 'colour' for addresses"
    assert error.field == "where.conditions[0].field"
    assert error.as_dict() == {
        "code": "invalid_query",
        "detail": "unknown field 'colour' for addresses",
        "field": "where.conditions[0].field",
    }


@pytest.mark.parametrize(
    "field",
    [
        "status__regex",  # a lookup
        "area__code",  # a path nobody registered
        "attributes",  # a model field nobody registered
        "last_import_id",
        "pk",
    ],
)
def test_only_registered_fields_can_be_filtered(town, field):
    error = refusal({"source": "addresses", "where": where(cond(field, "eq", "x"))})
    assert error.message == f"unknown field {field!r} for addresses"


def test_between_needs_two_values(town):
    error = refusal(
        {"source": "addresses", "where": where(where(cond("units", "between", [2]), op="or"))}
    )
    assert error.message == "operator 'between' needs two values [low, high]"
    assert error.field == "where.conditions[0].conditions[0].value"


def test_between_refuses_bounds_in_the_wrong_order(town):
    error = refusal({"source": "addresses", "where": where(cond("units", "between", [6, 2]))})
    assert error.message == "between: the low value 6 is above the high value 2"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            cond("status", "between", ["planned", "connected"]),
            "operator 'between' does not apply to status (a choice field);"
            " use one of eq, ne, in, not_in",
        ),
        (cond("status", "like", "x"), "unknown operator 'like'"),
        (
            cond("status", "eq", "purple"),
            "'purple' is not a status; choose from planned, awaiting_deployment,"
            " in_deployment, connected, activated",
        ),
        (cond("units", "gt", "many"), "homes (units) needs a whole number, got 'many'"),
        (cond("units", "gt", True), "homes (units) needs a whole number, got True"),
        (cond("units", "gt", None), "homes (units) needs a value"),
        (cond("area_take_rate", "gte", "lots"), "area take rate needs a number, got 'lots'"),
        (cond("area_take_rate", "gte", "NaN"), "area take rate needs a number, got 'NaN'"),
        (
            cond("created_at", "gte", "2026-13-01"),
            "created needs a date (YYYY-MM-DD) or a date and time (ISO 8601), got '2026-13-01'",
        ),
        (cond("created_at", "last_days", 0), "operator 'last_days' needs a whole number of days"),
        (cond("street", "in", []), "operator 'in' needs at least one value"),
        (cond("street", "in", "Seestraße"), "operator 'in' needs a list of values"),
        (cond("street", "icontains", "  "), "street needs some text"),
        (cond("has_live_interest", "eq", "yes"), "has a live interest needs true or false"),
        (cond("area", "eq", 0), "area needs an id, got 0"),
        (cond("house_number", "isnull", "sometimes"), "operator 'isnull' needs true or false"),
        ({"field": "units", "operator": "gt"}, "operator 'gt' needs a value"),
        ({"field": "units", "operator": "gt", "value": 1, "lookup": "x"}, "unknown key 'lookup'"),
    ],
)
def test_values_that_do_not_fit_are_refused_with_a_message(town, condition, message):
    error = refusal({"source": "addresses", "where": where(condition)})
    assert error.message.startswith(message)
    assert error.field.startswith("where.conditions[0]")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"type": "Point", "coordinates": [13.33, 52.55]}, "the drawn area must be a GeoJSON"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[13.33, 52.55], [13.34, 52.56], [13.34, 52.55], [13.33, 52.56], [13.33, 52.55]]
                ],
            },
            "the drawn area: invalid geometry: Self-intersection",
        ),
        (
            {"type": "Polygon", "coordinates": [[[200, 52], [201, 52], [201, 53], [200, 52]]]},
            "the drawn area: coordinates out of range for EPSG:4326",
        ),
        ({"type": "Polygon", "coordinates": "nonsense"}, "the drawn area: unreadable geometry"),
    ],
)
def test_bad_drawn_areas_are_refused_with_the_reason(town, value, message):
    error = refusal({"source": "addresses", "where": where(cond("location", "within", value))})
    assert error.message.startswith(message)
    assert error.field == "where.conditions[0].value"


def test_the_engine_checks_geometry_itself_when_no_validator_is_registered(town):
    field = registry.get_source("addresses").fields["location"]
    validator, field.validator = field.validator, None
    try:
        error = refusal(
            {
                "source": "addresses",
                "where": where(
                    cond(
                        "location",
                        "within",
                        {
                            "type": "Polygon",
                            "coordinates": [
                                [
                                    [13.33, 52.55],
                                    [13.34, 52.56],
                                    [13.34, 52.55],
                                    [13.33, 52.56],
                                    [13.33, 52.55],
                                ]
                            ],
                        },
                    )
                ),
            }
        )
    finally:
        field.validator = validator
    assert error.message.startswith("the drawn area is not a valid polygon: Self-intersection")


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [
        ([], "a query definition is a JSON object with a source and a where", None),
        ("{not json", "the definition is not valid JSON", None),
        ({"version": 2, "source": "addresses"}, "unsupported definition version 2", "version"),
        ({}, "the definition needs a source: one of addresses, areas, orders", "source"),
        ({"source": "invoices"}, "unknown source 'invoices'; choose from", "source"),
        ({"source": "addresses", "wher": {}}, "unknown key 'wher' in the definition", None),
        (
            {"source": "addresses", "where": {"op": "xor", "conditions": []}},
            "unknown group operator 'xor'; use 'and' or 'or'",
            "where.op",
        ),
        (
            {"source": "addresses", "where": cond("units", "gt", 1)},
            'a group is {"op": "and" or "or", "conditions": [...]}',
            "where",
        ),
        (
            {"source": "addresses", "where": where(["units", "gt", 1])},
            "each condition is",
            "where.conditions[0]",
        ),
        ({"source": "addresses", "columns": ["colour"]}, "unknown column 'colour'", "columns"),
        ({"source": "addresses", "columns": []}, "choose at least one column", "columns"),
        (
            {"source": "addresses", "order_by": ["-colour"]},
            "cannot sort by 'colour'; sort by one of the columns: label, street",
            "order_by",
        ),
    ],
)
def test_malformed_definitions_are_refused_with_a_message(town, data, message, field):
    error = refusal(data)
    assert error.message.startswith(message)
    assert error.field == field


def matching_definition_parses(tree) -> bool:
    return bool(parse_definition({"source": "addresses", "where": tree}).where.conditions)


def test_groups_nest_at_most_five_levels(town):
    tree = cond("units", "gt", 1)
    for _ in range(5):
        tree = where(tree)
    assert matching_definition_parses(tree)
    tree = where(tree)
    error = refusal({"source": "addresses", "where": tree})
    assert error.message == "groups nest at most 5 levels deep"


def test_a_query_has_at_most_a_hundred_conditions(town):
    error = refusal(
        {"source": "addresses", "where": where(*[cond("units", "gt", n) for n in range(101)])}
    )
    assert error.message == "a query has at most 100 conditions"
    assert error.field == "where.conditions[100]"


def test_the_canonical_form_is_complete_and_stable(town):
    data = {
        "source": "addresses",
        "where": where(
            cond("area_take_rate", "between", ["0.25", 0.5]),
            cond("created_at", "lt", "2026-03-01T10:00:00"),
        ),
    }
    canonical = parse_definition(data).as_json()
    assert canonical == {
        "version": 1,
        "source": "addresses",
        "where": {
            "op": "and",
            "conditions": [
                {"field": "area_take_rate", "operator": "between", "value": [0.25, 0.5]},
                {
                    "field": "created_at",
                    "operator": "lt",
                    "value": "2026-03-01T10:00:00+01:00",
                },
            ],
        },
        "order_by": ["label"],
        "columns": ["label", "postcode", "premises_type", "units", "status", "area_code"],
    }
    assert parse_definition(canonical).as_json() == canonical


# --- results ----------------------------------------------------------------------------------


def test_a_result_page_has_the_columns_in_order_and_counts_all_rows(
    town, planner, django_assert_num_queries
):
    t = town
    definition = parse_definition(
        {
            "source": "addresses",
            "where": where(cond("street", "icontains", "straße")),
            "columns": ["label", "units", "area_take_rate", "live_orders"],
            "order_by": ["-units"],
        }
    )
    with django_assert_num_queries(2):
        page = result_page(definition, user=planner, limit=2, offset=0)
    assert page["count"] == 5
    assert [column["name"] for column in page["columns"]] == [
        "label",
        "units",
        "area_take_rate",
        "live_orders",
    ]
    assert page["columns"][2] == {
        "name": "area_take_rate",
        "label": "area take rate",
        "kind": "decimal",
        "percent": True,
        "sortable": True,
    }
    first, second = page["results"]
    assert first == {
        "id": t.a2.pk,
        "label": "Müllerstraße 2, 13353 Berlin",
        "units": 6,
        "area_take_rate": Decimal("0.1429"),
        "live_orders": 0,
    }
    assert second["id"] == t.a1.pk  # units tie: by id
    assert second["live_orders"] == 1


def test_sorting_puts_empty_values_last(town, planner):
    t = town
    definition = parse_definition(
        {"source": "addresses", "order_by": ["-area_take_rate"], "columns": ["label"]}
    )
    ids = [
        row["id"] for row in result_page(definition, user=planner, limit=10, offset=0)["results"]
    ]
    assert ids == [t.a3.pk, t.a4.pk, t.a1.pk, t.a2.pk, t.a5.pk]


def test_the_map_gets_geojson_capped_with_the_total(town, planner, django_assert_num_queries):
    definition = parse_definition({"source": "addresses", "columns": ["label", "status"]})
    with django_assert_num_queries(2):
        collection = result_geojson(definition, user=planner, cap=3)
    assert collection["capped"] is True
    assert collection["count"] == 5
    assert len(collection["features"]) == 3
    feature = collection["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [13.3302, 52.5502]}
    assert feature["properties"] == {
        "label": "Müllerstraße 1, 13353 Berlin",
        "status": "awaiting_deployment",
    }
    with django_assert_num_queries(1):
        collection = result_geojson(definition, user=planner, cap=5)
    assert (collection["capped"], collection["count"], len(collection["features"])) == (
        False,
        5,
        5,
    )


def test_areas_come_to_the_map_as_polygons(town, planner):
    definition = parse_definition({"source": "areas", "columns": ["code", "take_rate"]})
    collection = result_geojson(definition, user=planner)
    assert [f["properties"] for f in collection["features"]] == [
        {"code": "east", "take_rate": Decimal("0.5000")},
        {"code": "west", "take_rate": Decimal("0.1429")},
    ]
    assert collection["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_running_a_query_writes_nothing(town, planner):
    events = DomainEvent.objects.count()
    definition = parse_definition({"source": "orders"})
    result_page(definition, user=planner, limit=50, offset=0)
    assert DomainEvent.objects.count() == events


# --- the registry ------------------------------------------------------------------------------


def test_sources_are_discovered_from_the_apps(db):
    assert [source.key for source in registry.sources()] == ["addresses", "areas", "orders"]
    addresses = registry.get_source("addresses")
    # higher apps add their fields to the addresses source without gis_core knowing them
    assert {"area_take_rate", "has_live_interest", "order_isp"} <= set(addresses.fields)
    assert addresses.fields["order_isp"].many is True
    assert addresses.fields["status"].operators == ("eq", "ne", "in", "not_in")
    assert addresses.fields["area"].operators == ("eq", "ne", "in", "not_in", "isnull")


def test_a_later_app_plugs_in_a_source_and_extends_another(town, planner):
    registry.extend(
        "later", fields=[Field("house_number", label="number")], columns=[Column("house_number")]
    )
    try:
        registry.register(
            key="later",
            model=Address,
            label="Later",
            fields=[Field("street")],
            columns=[Column("street")],
            base_queryset=lambda user: Address.objects.filter(units=1),
        )
        source = registry.get_source("later")
        assert list(source.fields) == ["street", "house_number"]
        assert matching(planner, "later", cond("house_number", "eq", "5")) == pks(town.a3)
        assert matching(planner, "later", cond("street", "icontains", "müller")) == pks(town.a1)
    finally:
        registry.unregister("later")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([Field("colour")], "query field 'colour': Address has no field 'colour'"),
        ([Field("street__x")], "query field 'street__x': 'street' is not a relation"),
        ([Field("status", operators=["within"])], "do not apply to a choice field"),
        ([Field("count", expression=object())], "an expression needs a kind"),
    ],
)
def test_registration_mistakes_fail_loudly(db, fields, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        registry.register(
            key="broken", model=Address, label="Broken", fields=fields, columns=[Column("street")]
        )
    assert "broken" not in {source.key for source in registry.sources()}
