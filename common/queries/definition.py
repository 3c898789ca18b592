"""A query definition: versioned JSON, parsed and checked against the registry.

    {"version": 1,
     "source": "addresses",
     "where": {"op": "and", "conditions": [
         {"field": "status", "operator": "in", "value": ["planned", "awaiting_deployment"]},
         {"op": "or", "conditions": [
             {"field": "area_take_rate", "operator": "gte", "value": 0.3},
             {"field": "created_at", "operator": "last_days", "value": 30}]}]},
     "order_by": ["-created_at"],
     "columns": ["label", "status", "created_at"]}

Every refusal is an `InvalidQuery` whose message says exactly what is wrong ("unknown field
'colour' for addresses", "operator 'between' needs two values [low, high]") and whose
`field` says where (`where.conditions[1].value`). `QueryDefinition.as_json()` is the
canonical form that is stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon, Polygon
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from common.errors import DomainError
from common.queries.errors import InvalidQuery
from common.queries.registry import OPERATORS, Field, Source, get_source

VERSION = 1
MAX_DEPTH = 5
MAX_CONDITIONS = 100
MAX_LIST_VALUES = 1000
MAX_TEXT = 500
MAX_VERTICES = 10_000
MAX_DAYS = 36_500

_DEFINITION_KEYS = {"version", "source", "where", "order_by", "columns"}
_GROUP_KEYS = {"op", "conditions"}
_CONDITION_KEYS = {"field", "operator", "value"}


@dataclass(frozen=True)
class Condition:
    """One comparison: a registered field, an operator it allows, and a parsed value."""

    field: Field
    operator: str
    value: Any
    raw: Any
    where: str

    def as_json(self) -> dict:
        return {"field": self.field.name, "operator": self.operator, "value": self.raw}


@dataclass(frozen=True)
class Group:
    """Conditions and groups joined by "and" (all must hold) or "or" (any may hold)."""

    op: str
    conditions: tuple[Condition | Group, ...]

    def as_json(self) -> dict:
        return {"op": self.op, "conditions": [item.as_json() for item in self.conditions]}

    def walk(self) -> Iterator[Condition]:
        for item in self.conditions:
            if isinstance(item, Group):
                yield from item.walk()
            else:
                yield item


@dataclass(frozen=True)
class QueryDefinition:
    source: Source
    where: Group
    order_by: tuple[str, ...]
    columns: tuple[str, ...]
    version: int = VERSION

    def as_json(self) -> dict:
        return {
            "version": self.version,
            "source": self.source.key,
            "where": self.where.as_json(),
            "order_by": list(self.order_by),
            "columns": list(self.columns),
        }


def empty_definition(source_key: str) -> dict:
    """A definition with no conditions: every row of the source, default columns and order."""
    return parse_definition({"version": VERSION, "source": source_key}).as_json()


def parse_definition(data: Any) -> QueryDefinition:
    """Parse and check a definition (a dict or JSON text); raise `InvalidQuery` if it is wrong."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise InvalidQuery(f"the definition is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidQuery("a query definition is a JSON object with a source and a where")
    _refuse_unknown_keys(data, _DEFINITION_KEYS, "the definition", "")
    version = data.get("version", VERSION)
    if version != VERSION or isinstance(version, bool):
        raise InvalidQuery(
            f"unsupported definition version {version!r}; this oanm reads version {VERSION}",
            field="version",
        )
    source = get_source(data.get("source"))
    where = data.get("where")
    if where is None:
        where = {"op": "and", "conditions": []}
    counter = [0]
    group = _parse_group(source, where, "where", 1, counter)
    columns = _parse_columns(source, data.get("columns"))
    order_by = _parse_order(source, data.get("order_by"))
    return QueryDefinition(source=source, where=group, order_by=order_by, columns=columns)


def _refuse_unknown_keys(data: dict, allowed: set[str], what: str, where: str) -> None:
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise InvalidQuery(
            f"unknown key {names} in {what}; it may have {', '.join(sorted(allowed))}",
            field=where or None,
        )


def _parse_group(source: Source, data: Any, where: str, depth: int, counter: list[int]) -> Group:
    if not isinstance(data, dict) or "op" not in data:
        raise InvalidQuery(
            'a group is {"op": "and" or "or", "conditions": [...]}',
            field=where,
        )
    _refuse_unknown_keys(data, _GROUP_KEYS, "a group", where)
    op = data["op"]
    if op not in ("and", "or"):
        raise InvalidQuery(f"unknown group operator {op!r}; use 'and' or 'or'", field=f"{where}.op")
    if depth > MAX_DEPTH:
        raise InvalidQuery(f"groups nest at most {MAX_DEPTH} levels deep", field=where)
    items = data.get("conditions", [])
    if not isinstance(items, list):
        raise InvalidQuery("a group's conditions are a list", field=f"{where}.conditions")
    parsed: list[Condition | Group] = []
    for index, item in enumerate(items):
        location = f"{where}.conditions[{index}]"
        if isinstance(item, dict) and "op" in item:
            group = _parse_group(source, item, location, depth + 1, counter)
            if group.conditions:  # an empty group says nothing: it is left out
                parsed.append(group)
        elif isinstance(item, dict) and ("field" in item or "operator" in item):
            counter[0] += 1
            if counter[0] > MAX_CONDITIONS:
                raise InvalidQuery(
                    f"a query has at most {MAX_CONDITIONS} conditions", field=location
                )
            parsed.append(_parse_condition(source, item, location))
        else:
            raise InvalidQuery(
                'each condition is {"field", "operator", "value"} or a group {"op", "conditions"}',
                field=location,
            )
    return Group(op=op, conditions=tuple(parsed))


def _parse_condition(source: Source, data: dict, where: str) -> Condition:
    _refuse_unknown_keys(data, _CONDITION_KEYS, "a condition", where)
    name = data.get("field")
    if not isinstance(name, str) or name not in source.fields:
        if name in (None, ""):
            raise InvalidQuery("the condition needs a field", field=f"{where}.field")
        raise InvalidQuery(f"unknown field {name!r} for {source.key}", field=f"{where}.field")
    field = source.fields[name]
    operator = data.get("operator")
    if not isinstance(operator, str) or operator not in OPERATORS:
        if operator in (None, ""):
            raise InvalidQuery(f"the condition on {field.label} needs an operator", field=where)
        raise InvalidQuery(
            f"unknown operator {operator!r}; the operators are {', '.join(OPERATORS)}",
            field=f"{where}.operator",
        )
    if operator not in field.operators:
        raise InvalidQuery(
            f"operator {operator!r} does not apply to {field.label} (a {field.kind} field);"
            f" use one of {', '.join(field.operators)}",
            field=f"{where}.operator",
        )
    if "value" not in data and operator != "isnull":
        raise InvalidQuery(f"operator {operator!r} needs a value", field=f"{where}.value")
    raw = data.get("value", True)
    value, canonical = _parse_value(field, operator, raw, f"{where}.value")
    return Condition(field=field, operator=operator, value=value, raw=canonical, where=where)


def _parse_value(field: Field, operator: str, raw: Any, where: str) -> tuple[Any, Any]:
    """(the value the compiler uses, its canonical JSON form)."""
    shape = OPERATORS[operator].value
    if shape == "boolean":
        if not isinstance(raw, bool):
            raise InvalidQuery(f"operator {operator!r} needs true or false", field=where)
        return raw, raw
    if shape == "days":
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_DAYS:
            raise InvalidQuery(
                f"operator {operator!r} needs a whole number of days from 1 to {MAX_DAYS}",
                field=where,
            )
        return raw, raw
    if shape == "geometry":
        geometry = _parse_geometry(field, raw, where)
        if raw["type"] == "Polygon" and isinstance(geometry, MultiPolygon) and len(geometry) == 1:
            # a validator's promotion to MultiPolygon is not kept: a Polygon tests faster
            geometry = Polygon(*[ring.clone() for ring in geometry[0]], srid=geometry.srid)
        return geometry, json.loads(geometry.json)
    if shape == "list":
        if not isinstance(raw, list):
            raise InvalidQuery(f"operator {operator!r} needs a list of values", field=where)
        if not raw:
            raise InvalidQuery(f"operator {operator!r} needs at least one value", field=where)
        if len(raw) > MAX_LIST_VALUES:
            raise InvalidQuery(
                f"operator {operator!r} takes at most {MAX_LIST_VALUES} values", field=where
            )
        pairs = [_parse_scalar(field, item, f"{where}[{index}]") for index, item in enumerate(raw)]
        return [value for value, _ in pairs], [canonical for _, canonical in pairs]
    if shape == "pair":
        if not isinstance(raw, list) or len(raw) != 2:
            raise InvalidQuery(f"operator {operator!r} needs two values [low, high]", field=where)
        (low, low_json), (high, high_json) = (
            _parse_scalar(field, raw[0], f"{where}[0]"),
            _parse_scalar(field, raw[1], f"{where}[1]"),
        )
        if _comparable(low) > _comparable(high):
            raise InvalidQuery(
                f"between: the low value {low_json} is above the high value {high_json}",
                field=where,
            )
        return [low, high], [low_json, high_json]
    return _parse_scalar(field, raw, where)


def _comparable(value: Any) -> Any:
    """Dates and datetimes compared on one scale (a date is the start of its day)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return timezone.make_aware(datetime.combine(value, time.min))
    return value


def _parse_scalar(field: Field, raw: Any, where: str) -> tuple[Any, Any]:
    kind = field.kind
    label = field.label
    if raw is None or raw == "":
        raise InvalidQuery(f"{label} needs a value", field=where)
    if kind == "text":
        if not isinstance(raw, str) or not raw.strip():
            raise InvalidQuery(f"{label} needs some text", field=where)
        if len(raw) > MAX_TEXT:
            raise InvalidQuery(f"{label}: at most {MAX_TEXT} characters", field=where)
        return raw, raw
    if kind == "choice":
        choices = [value for value, _ in field.choice_list()]
        if raw not in choices or isinstance(raw, bool):
            listed = ", ".join(str(value) for value in choices)
            raise InvalidQuery(f"{raw!r} is not a {label}; choose from {listed}", field=where)
        return raw, raw
    if kind in ("integer", "fk"):
        number = _whole_number(raw)
        if number is None or (kind == "fk" and number < 1):
            what = "an id" if kind == "fk" else "a whole number"
            raise InvalidQuery(f"{label} needs {what}, got {raw!r}", field=where)
        return number, number
    if kind == "decimal":
        number = _decimal(raw)
        if number is None:
            raise InvalidQuery(f"{label} needs a number, got {raw!r}", field=where)
        return number, int(number) if number == number.to_integral_value() else float(number)
    if kind == "date":
        day = _date(raw)
        if day is None:
            raise InvalidQuery(f"{label} needs a date (YYYY-MM-DD), got {raw!r}", field=where)
        return day, day.isoformat()
    if kind == "datetime":
        day = _date(raw)
        if day is not None:
            return day, day.isoformat()
        moment = _datetime(raw)
        if moment is None:
            raise InvalidQuery(
                f"{label} needs a date (YYYY-MM-DD) or a date and time (ISO 8601), got {raw!r}",
                field=where,
            )
        return moment, moment.isoformat()
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise InvalidQuery(f"{label} needs true or false, got {raw!r}", field=where)
        return raw, raw
    raise InvalidQuery(f"{label} cannot be compared with a single value", field=where)


def _whole_number(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw.strip())
    return None


def _decimal(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    if isinstance(raw, float) and not math.isfinite(raw):
        return None
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(raw: Any) -> date | None:
    if not isinstance(raw, str) or len(raw) != 10:
        return None
    try:
        return parse_date(raw)
    except ValueError:
        return None


def _datetime(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = parse_datetime(raw)
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _parse_geometry(field: Field, raw: Any, where: str) -> GEOSGeometry:
    """A drawn area: a valid GeoJSON Polygon or MultiPolygon in lon/lat (EPSG:4326)."""
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidQuery("the drawn area must be a GeoJSON Polygon or MultiPolygon", field=where)
    if field.validator is not None:
        try:
            geometry = field.validator(raw)
        except DomainError as exc:
            raise InvalidQuery(f"the drawn area: {exc.message}", field=where) from None
    else:
        try:
            geometry = GEOSGeometry(json.dumps(raw))
        except (ValueError, TypeError, GEOSException, GDALException) as exc:
            raise InvalidQuery(f"the drawn area is unreadable: {exc}", field=where) from None
        geometry.srid = 4326
        if geometry.empty:
            raise InvalidQuery("the drawn area is empty", field=where)
        xmin, ymin, xmax, ymax = geometry.extent
        if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
            raise InvalidQuery("the drawn area is outside lon -180..180, lat -90..90", field=where)
        if not geometry.valid:
            raise InvalidQuery(
                f"the drawn area is not a valid polygon: {geometry.valid_reason}", field=where
            )
    if not isinstance(geometry, Polygon | MultiPolygon):
        raise InvalidQuery("the drawn area must be a Polygon or MultiPolygon", field=where)
    if geometry.num_coords > MAX_VERTICES:
        raise InvalidQuery(
            f"the drawn area has {geometry.num_coords} points; at most {MAX_VERTICES}",
            field=where,
        )
    return geometry


def _parse_columns(source: Source, data: Any) -> tuple[str, ...]:
    if data is None:
        return source.default_columns
    if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
        raise InvalidQuery("columns are a list of column names", field="columns")
    for name in data:
        if name not in source.columns:
            raise InvalidQuery(f"unknown column {name!r} for {source.key}", field="columns")
    columns = tuple(dict.fromkeys(data))
    if not columns:
        raise InvalidQuery("choose at least one column", field="columns")
    return columns


def _parse_order(source: Source, data: Any) -> tuple[str, ...]:
    if data is None:
        return source.default_order
    if not isinstance(data, list) or not all(isinstance(name, str) for name in data):
        raise InvalidQuery(
            'order_by is a list of column names ("-" first for descending)', field="order_by"
        )
    seen: dict[str, str] = {}
    for item in data:
        name = item.removeprefix("-")
        column = source.columns.get(name)
        if column is None or not column.sortable:
            sortable = ", ".join(key for key, col in source.columns.items() if col.sortable)
            raise InvalidQuery(
                f"cannot sort by {name!r}; sort by one of the columns: {sortable}",
                field="order_by",
            )
        seen.setdefault(name, item)
    return tuple(seen.values())
