"""A parsed definition → Django `Q` objects, a queryset, result pages and GeoJSON.

Only registered fields reach the ORM, through the lookups each operator maps to below;
values were parsed by `definition`. A result page is two queries (a count and the page),
the map one or two, whatever the number of rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from common.queries.definition import Condition, Group, QueryDefinition
from common.queries.registry import Column

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def map_feature_cap() -> int:
    """At most this many features go to the map (QUERIES_MAP_FEATURE_CAP, default 5,000)."""
    return int(getattr(settings, "QUERIES_MAP_FEATURE_CAP", 5000))


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _day_bounds(value: Any) -> tuple[datetime, datetime] | None:
    """For a date compared with a datetime field: [start of the day, start of the next day)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return _start_of(value), _start_of(value + timedelta(days=1))
    return None


def condition_q(condition: Condition) -> Q:
    """The `Q` of one condition."""
    field = condition.field
    lookup = field.lookup
    operator = condition.operator
    value = condition.value
    if field.kind == "datetime" and operator not in ("in", "not_in", "isnull", "last_days"):
        q = _datetime_q(lookup, operator, value)
    elif operator == "eq":
        q = Q(**{lookup: value})
    elif operator == "ne":
        q = ~Q(**{lookup: value})
    elif operator == "in":
        q = Q(**{f"{lookup}__in": value})
    elif operator == "not_in":
        q = ~Q(**{f"{lookup}__in": value})
    elif operator in ("lt", "lte", "gt", "gte", "contains", "icontains"):
        q = Q(**{f"{lookup}__{operator}": value})
    elif operator == "startswith":
        q = Q(**{f"{lookup}__istartswith": value})
    elif operator == "between":
        q = Q(**{f"{lookup}__gte": value[0], f"{lookup}__lte": value[1]})
    elif operator == "isnull":
        q = Q(**{f"{lookup}__isnull": True})
        if field.kind == "text":
            q |= Q(**{lookup: ""})
        if not value:
            q = ~q
    elif operator == "last_days":
        if field.kind == "date":
            q = Q(**{f"{lookup}__gte": timezone.localdate() - timedelta(days=value)})
        else:
            q = Q(**{f"{lookup}__gte": timezone.now() - timedelta(days=value)})
    elif operator == "within":
        q = Q(**{f"{lookup}__coveredby": value})
    elif operator == "intersects":
        q = Q(**{f"{lookup}__intersects": value})
    else:  # parse_definition lets no other operator through
        raise AssertionError(f"operator {operator!r} has no lookup")
    return q


def _datetime_q(lookup: str, operator: str, value: Any) -> Q:
    """Datetimes against dates mean whole days in the current time zone (index-friendly)."""
    if operator == "between":
        low, high = value
        low_bounds, high_bounds = _day_bounds(low), _day_bounds(high)
        return Q(
            **{
                f"{lookup}__gte": low_bounds[0] if low_bounds else low,
                f"{lookup}__{'lt' if high_bounds else 'lte'}": (
                    high_bounds[1] if high_bounds else high
                ),
            }
        )
    bounds = _day_bounds(value)
    if bounds is None:
        if operator == "eq":
            return Q(**{lookup: value})
        if operator == "ne":
            return ~Q(**{lookup: value})
        return Q(**{f"{lookup}__{operator}": value})
    start, end = bounds
    return {
        "eq": Q(**{f"{lookup}__gte": start, f"{lookup}__lt": end}),
        "ne": ~Q(**{f"{lookup}__gte": start, f"{lookup}__lt": end}),
        "lt": Q(**{f"{lookup}__lt": start}),
        "lte": Q(**{f"{lookup}__lt": end}),
        "gt": Q(**{f"{lookup}__gte": end}),
        "gte": Q(**{f"{lookup}__gte": start}),
    }[operator]


def group_q(group: Group, model) -> Q:
    """The `Q` of a group; conditions across a many-valued relation become a sub-select, so a
    row matches when one of its related rows does, and is never repeated."""
    combined = Q()
    for item in group.conditions:
        if isinstance(item, Group):
            q = group_q(item, model)
        else:
            q = condition_q(item)
            if item.field.many:
                q = Q(pk__in=model._default_manager.filter(q).values("pk"))
        combined = combined & q if group.op == "and" else combined | q
    return combined


def filtered_queryset(definition: QueryDefinition, *, user) -> QuerySet:
    """The rows of the definition's source that this user may see and that match."""
    source = definition.source
    queryset = source.queryset(user)
    aliases = {
        condition.field.lookup: condition.field.make_expression()
        for condition in definition.where.walk()
        if condition.field.expression is not None
    }
    if aliases:
        queryset = queryset.alias(**aliases)
    return queryset.filter(group_q(definition.where, source.model))


def _columns(definition: QueryDefinition) -> list[Column]:
    return [definition.source.columns[name] for name in definition.columns]


def _with_columns(queryset: QuerySet, columns: list[Column]) -> QuerySet:
    annotations = {
        column.lookup: column.make_expression() for column in columns if column.expression
    }
    return queryset.annotate(**annotations) if annotations else queryset


def _ordering(definition: QueryDefinition) -> list:
    source = definition.source
    ordering = []
    for item in definition.order_by:
        column = source.columns[item.removeprefix("-")]
        expression = F(column.lookup)
        ordering.append(
            expression.desc(nulls_last=True) if item.startswith("-") else expression.asc()
        )
    ordering.append(F("pk").asc())
    return ordering


def result_queryset(definition: QueryDefinition, *, user) -> QuerySet:
    """Matching rows with every column of the definition, in its order."""
    columns = _columns(definition)
    sort_columns = [
        definition.source.columns[item.removeprefix("-")] for item in definition.order_by
    ]
    queryset = filtered_queryset(definition, user=user)
    queryset = _with_columns(queryset, list({c.name: c for c in columns + sort_columns}.values()))
    return queryset.order_by(*_ordering(definition))


def result_rows(definition: QueryDefinition, queryset: QuerySet) -> Iterator[dict]:
    """Each row as {"id": pk, column name: value}, read with `.values()` (no model instances)."""
    columns = _columns(definition)
    lookups = ["pk", *dict.fromkeys(column.lookup for column in columns)]
    for values in queryset.values(*lookups):
        row = {"id": values["pk"]}
        for column in columns:
            row[column.name] = values[column.lookup]
        yield row


def result_page(definition: QueryDefinition, *, user, limit: int, offset: int) -> dict:
    """One page of rows and the total count: {"count", "columns", "results"}."""
    queryset = result_queryset(definition, user=user)
    count = queryset.count()
    page = queryset[offset : offset + limit] if count > offset else queryset.none()
    return {
        "count": count,
        "limit": limit,
        "offset": offset,
        "columns": [column_json(column) for column in _columns(definition)],
        "results": list(result_rows(definition, page)),
    }


def column_json(column: Column) -> dict:
    """How a client formats a column: its kind, label, % or not, choice labels."""
    data = {
        "name": column.name,
        "label": column.label,
        "kind": column.kind,
        "percent": column.percent,
        "sortable": column.sortable,
    }
    if column.kind == "choice":
        data["choices"] = {str(value): label for value, label in column.choice_list()}
    return data


def result_geojson(definition: QueryDefinition, *, user, cap: int | None = None) -> dict:
    """The matching rows' geometries as a FeatureCollection with the columns as properties;
    at most `cap` features (`capped` and `count` say when there were more)."""
    source = definition.source
    cap = map_feature_cap() if cap is None else cap
    if not source.geometry:
        return {
            "type": "FeatureCollection",
            "features": [],
            "count": 0,
            "capped": False,
            "cap": cap,
            "geometry": False,
        }
    queryset = result_queryset(definition, user=user).annotate(
        qgeometry=AsGeoJSON(source.geometry, precision=6)
    )
    columns = _columns(definition)
    lookups = ["pk", "qgeometry", *dict.fromkeys(column.lookup for column in columns)]
    rows = list(queryset.values(*lookups)[: cap + 1])
    capped = len(rows) > cap
    count = queryset.count() if capped else len(rows)
    features = [
        {
            "type": "Feature",
            "id": row["pk"],
            "geometry": json.loads(row["qgeometry"]) if row["qgeometry"] else None,
            "properties": {column.name: row[column.lookup] for column in columns},
        }
        for row in rows[:cap]
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "count": count,
        "capped": capped,
        "cap": cap,
        "geometry": True,
        "columns": [column_json(column) for column in columns],
    }
