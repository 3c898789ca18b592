"""The sources people may query: models, the fields they may filter on, the columns shown.

Each app registers its own sources in its `queries.py` (found by
`autodiscover_modules("queries")` on first use), and a higher app may `extend` a lower
app's source with fields that belong to it (areas adds "area take rate" to addresses), so
this engine never imports the apps above it. Only registered fields can be filtered or
shown: a definition can never reach an arbitrary lookup.

    register(
        key="addresses", model=Address, label="Addresses",
        fields=[Field("status"), Field("created_at"), Field("location", operators=["within"])],
        columns=[Column("label"), Column("status")],
        geometry="location",
        base_queryset=lambda user: Address.objects.all(),
    )

Kinds and operators are inferred from the model field when not given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.gis.db.models import GeometryField
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models
from django.utils.module_loading import autodiscover_modules

from common.queries.errors import InvalidQuery

KINDS = ("text", "choice", "integer", "decimal", "date", "datetime", "boolean", "fk", "geometry")


@dataclass(frozen=True)
class Operator:
    """A comparison a condition can make; `value` says what its value holds:
    one, list, pair (two bounds), boolean, days (a whole number) or geometry."""

    key: str
    label: str
    value: str


OPERATORS: dict[str, Operator] = {
    op.key: op
    for op in (
        Operator("eq", "is", "one"),
        Operator("ne", "is not", "one"),
        Operator("in", "is any of", "list"),
        Operator("not_in", "is none of", "list"),
        Operator("lt", "less than", "one"),
        Operator("lte", "at most", "one"),
        Operator("gt", "more than", "one"),
        Operator("gte", "at least", "one"),
        Operator("between", "between", "pair"),
        Operator("icontains", "contains", "one"),
        Operator("contains", "contains (same case)", "one"),
        Operator("startswith", "starts with", "one"),
        Operator("isnull", "is empty", "boolean"),
        Operator("last_days", "in the last … days", "days"),
        Operator("within", "inside the drawn area", "geometry"),
        Operator("intersects", "touches the drawn area", "geometry"),
    )
}

# Friendlier words for the same operators on dates and numbers.
_KIND_LABELS: dict[str, dict[str, str]] = {
    "date": {
        "eq": "on",
        "ne": "not on",
        "lt": "before",
        "lte": "on or before",
        "gt": "after",
        "gte": "on or after",
    },
    "integer": {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"},
    "boolean": {"eq": "is"},
}
_KIND_LABELS["datetime"] = _KIND_LABELS["date"]
_KIND_LABELS["decimal"] = _KIND_LABELS["integer"]

OPERATORS_BY_KIND: dict[str, tuple[str, ...]] = {
    "text": ("icontains", "eq", "ne", "startswith", "contains", "in", "not_in", "isnull"),
    "choice": ("eq", "ne", "in", "not_in", "isnull"),
    "integer": ("eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "isnull"),
    "decimal": ("eq", "ne", "lt", "lte", "gt", "gte", "between", "isnull"),
    "date": ("eq", "ne", "lt", "lte", "gt", "gte", "between", "last_days", "isnull"),
    "datetime": ("eq", "ne", "lt", "lte", "gt", "gte", "between", "last_days", "isnull"),
    "boolean": ("eq", "isnull"),
    "fk": ("eq", "ne", "in", "not_in", "isnull"),
    "geometry": ("within", "intersects"),
}

Choices = Sequence[tuple[Any, str]] | Callable[[], Iterable[tuple[Any, str]]] | None


def operator_label(kind: str, key: str) -> str:
    """How the builder names an operator for a field of this kind."""
    return _KIND_LABELS.get(kind, {}).get(key, OPERATORS[key].label)


def _choice_list(choices: Choices) -> list[tuple[Any, str]]:
    if choices is None:
        return []
    items = choices() if callable(choices) else choices
    return [(value, str(label)) for value, label in items]


@dataclass
class Field:
    """A field people may filter on.

    `name` is its key in definitions; `path` the ORM path it reads (default: `name`), which
    may cross relations (`area__figures__take_rate`); across a many-valued relation
    (`orders__isp`) a condition means "has one that matches". `expression` (instead of a
    path) filters on a computed value, e.g. an `Exists(…)`. `percent` marks a 0–1 share
    that the builder shows as %. `validator` turns a geometry value into a GEOS geometry (or
    raises a `DomainError`); without one the engine checks it with GEOS itself.
    """

    name: str
    kind: str = ""
    label: str = ""
    path: str = ""
    choices: Choices = None
    operators: Sequence[str] | None = None
    expression: Any = None
    validator: Callable[[Any], Any] | None = None
    percent: bool = False
    nullable: bool = False
    help: str = ""
    many: bool = field(default=False, init=False)

    def choice_list(self) -> list[tuple[Any, str]]:
        return _choice_list(self.choices)

    @property
    def lookup(self) -> str:
        """What the compiler filters on: the ORM path, or the alias of the expression."""
        return f"qf_{self.name}" if self.expression is not None else self.path

    def make_expression(self):
        return self.expression() if callable(self.expression) else self.expression


@dataclass
class Column:
    """A value shown for each result row (table, map popup, export); sortable unless told."""

    name: str
    kind: str = ""
    label: str = ""
    path: str = ""
    choices: Choices = None
    expression: Any = None
    percent: bool = False
    default: bool = True
    sortable: bool = True

    def choice_list(self) -> list[tuple[Any, str]]:
        return _choice_list(self.choices)

    @property
    def lookup(self) -> str:
        return f"qc_{self.name}" if self.expression is not None else self.path

    def make_expression(self):
        return self.expression() if callable(self.expression) else self.expression


def _default_base_queryset(model):
    return lambda user: model._default_manager.all()


@dataclass
class Source:
    """One model people can query, with its fields and columns."""

    key: str
    model: type[models.Model]
    label: str
    fields: dict[str, Field]
    columns: dict[str, Column]
    geometry: str | None
    base_queryset: Callable[[Any], models.QuerySet]
    default_order: tuple[str, ...] = ()
    context_where: dict | None = None
    description: str = ""

    def field(self, name: str) -> Field:
        try:
            return self.fields[name]
        except (KeyError, TypeError):
            raise InvalidQuery(f"unknown field {name!r} for {self.key}") from None

    def column(self, name: str) -> Column:
        try:
            return self.columns[name]
        except (KeyError, TypeError):
            raise InvalidQuery(f"unknown column {name!r} for {self.key}") from None

    @property
    def default_columns(self) -> tuple[str, ...]:
        return tuple(name for name, column in self.columns.items() if column.default)

    def queryset(self, user) -> models.QuerySet:
        """The rows this user may query at all (the registering app's tenancy rule)."""
        return self.base_queryset(user)


# --- resolving paths against the model -------------------------------------------------


def _walk(model: type[models.Model], path: str) -> tuple[Any, bool, bool]:
    """(the model field at the end of `path`, crosses a many-valued relation, may be null).

    A reverse one-to-one (an area's `figures`) counts as always there; a field behind one
    that may be missing says `nullable=True` itself.
    """
    current = model
    many = nullable = False
    final = None
    parts = path.split("__")
    for index, part in enumerate(parts):
        try:
            model_field = current._meta.get_field(part)
        except FieldDoesNotExist:
            raise ImproperlyConfigured(
                f"query field {path!r}: {current.__name__} has no field {part!r}"
            ) from None
        last = index == len(parts) - 1
        if model_field.is_relation:
            if model_field.one_to_many or model_field.many_to_many:
                many = nullable = True
            elif getattr(model_field, "null", False):
                nullable = True
            if not last:
                current = model_field.related_model
        else:
            if not last:
                raise ImproperlyConfigured(f"query field {path!r}: {part!r} is not a relation")
            nullable = nullable or model_field.null
        final = model_field
    return final, many, nullable


def _kind_of(model_field: Any, path: str) -> str:
    if isinstance(model_field, models.GeneratedField):
        model_field = model_field.output_field
    if model_field.is_relation:
        if model_field.concrete and (model_field.many_to_one or model_field.one_to_one):
            return "fk"
        raise ImproperlyConfigured(f"query field {path!r}: say which kind it is")
    if isinstance(model_field, GeometryField):
        return "geometry"
    if getattr(model_field, "choices", None):
        return "choice"
    for field_class, kind in (
        (models.BooleanField, "boolean"),
        (models.DateTimeField, "datetime"),
        (models.DateField, "date"),
        (models.DecimalField, "decimal"),
        (models.FloatField, "decimal"),
        (models.IntegerField, "integer"),
        (models.CharField, "text"),
        (models.TextField, "text"),
    ):
        if isinstance(model_field, field_class):
            return kind
    raise ImproperlyConfigured(
        f"query field {path!r}: cannot tell the kind of a {type(model_field).__name__}"
    )


def _label_of(model_field: Any, path: str) -> str:
    if "__" not in path and getattr(model_field, "verbose_name", None):
        return str(model_field.verbose_name)
    return path.replace("__", " ").replace("_", " ")


def _resolve_field(model: type[models.Model], item: Field) -> Field:
    if item.expression is not None:
        if item.kind not in KINDS:
            raise ImproperlyConfigured(f"query field {item.name!r}: an expression needs a kind")
        item.label = item.label or item.name.replace("_", " ")
    else:
        item.path = item.path or item.name
        model_field, item.many, nullable = _walk(model, item.path)
        item.nullable = item.nullable or nullable
        item.kind = item.kind or _kind_of(model_field, item.path)
        item.label = item.label or _label_of(model_field, item.path)
        if item.choices is None and item.kind == "choice":
            item.choices = list(getattr(model_field, "choices", None) or [])
    if item.kind not in KINDS:
        raise ImproperlyConfigured(f"query field {item.name!r}: unknown kind {item.kind!r}")
    if item.expression is not None and (not item.name.isidentifier() or "__" in item.name):
        raise ImproperlyConfigured(f"query field {item.name!r}: name it like a Python name")
    allowed = OPERATORS_BY_KIND[item.kind]
    if item.operators is None:
        item.operators = tuple(
            op for op in allowed if op != "isnull" or item.nullable or item.kind == "text"
        )
    else:
        unknown = [op for op in item.operators if op not in allowed]
        if unknown:
            raise ImproperlyConfigured(
                f"query field {item.name!r}: {unknown} do not apply to a {item.kind} field"
            )
        item.operators = tuple(item.operators)
    return item


def _resolve_column(model: type[models.Model], item: Column) -> Column:
    if item.expression is not None:
        if not item.kind:
            raise ImproperlyConfigured(f"query column {item.name!r}: an expression needs a kind")
        if not item.name.isidentifier() or "__" in item.name:
            raise ImproperlyConfigured(f"query column {item.name!r}: name it like a Python name")
        item.label = item.label or item.name.replace("_", " ")
        return item
    item.path = item.path or item.name
    model_field, many, _ = _walk(model, item.path)
    if many:
        raise ImproperlyConfigured(
            f"query column {item.name!r} crosses a many-valued relation: use an expression"
        )
    if model_field.is_relation:
        raise ImproperlyConfigured(f"query column {item.name!r}: show a field, not a relation")
    item.kind = item.kind or _kind_of(model_field, item.path)
    item.label = item.label or _label_of(model_field, item.path)
    if item.choices is None and item.kind == "choice":
        item.choices = list(getattr(model_field, "choices", None) or [])
    if item.kind == "geometry":
        raise ImproperlyConfigured(f"query column {item.name!r}: the map shows the geometry")
    return item


# --- the registry ----------------------------------------------------------------------

_sources: dict[str, Source] = {}
_pending: dict[str, list[tuple[list[Field], list[Column], list[str]]]] = {}
_lock = threading.RLock()  # re-entered by the registrations `discover` imports
_discovered = False


def _add(source: Source, fields: Iterable[Field], columns: Iterable[Column]) -> None:
    for item in fields:
        if item.name in source.fields:
            raise ImproperlyConfigured(f"{source.key} already has a query field {item.name!r}")
        source.fields[item.name] = _resolve_field(source.model, item)
    for item in columns:
        if item.name in source.columns:
            raise ImproperlyConfigured(f"{source.key} already has a query column {item.name!r}")
        source.columns[item.name] = _resolve_column(source.model, item)


def register(
    *,
    key: str,
    model: type[models.Model],
    label: str,
    fields: Iterable[Field],
    columns: Iterable[Column],
    geometry: str | None = None,
    base_queryset: Callable[[Any], models.QuerySet] | None = None,
    default_order: Sequence[str] = (),
    context_where: dict | None = None,
    description: str = "",
) -> Source:
    """Make a model queryable as `key`.

    `base_queryset(user)` returns the rows that user may query (tenancy) with the joins the
    columns need; `geometry` is the path of the geometry drawn on the map;
    `context_where` (a definition's "where") makes this source's shapes the orientation
    layer of the builder's maps (areas, for instance).
    """
    with _lock:
        if key in _sources:
            raise ImproperlyConfigured(f"query source {key!r} is registered twice")
        source = Source(
            key=key,
            model=model,
            label=label,
            fields={},
            columns={},
            geometry=geometry,
            base_queryset=base_queryset or _default_base_queryset(model),
            default_order=tuple(default_order),
            context_where=context_where,
            description=description,
        )
        _add(source, fields, columns)
        if geometry:
            _walk(model, geometry)
        for order in source.default_order:
            if order.lstrip("-") not in source.columns:
                raise ImproperlyConfigured(f"{key}: default order {order!r} is not a column")
        for extra_fields, extra_columns, _ in _pending.pop(key, []):
            _add(source, extra_fields, extra_columns)
        _sources[key] = source
        return source


def extend(key: str, *, fields: Iterable[Field] = (), columns: Iterable[Column] = ()) -> None:
    """Add fields and columns to another app's source (a higher app adding what it knows)."""
    fields, columns = list(fields), list(columns)
    with _lock:
        if key in _sources:
            _add(_sources[key], fields, columns)
        else:
            _pending.setdefault(key, []).append((fields, columns, []))


def unregister(key: str) -> None:
    """Forget a source (tests that plug in a temporary one)."""
    with _lock:
        _sources.pop(key, None)


def discover() -> None:
    """Import every installed app's `queries` module, once."""
    global _discovered
    if _discovered:
        return
    with _lock:
        if not _discovered:
            autodiscover_modules("queries")
            _discovered = True


def sources() -> list[Source]:
    """Every registered source, by label."""
    discover()
    return sorted(_sources.values(), key=lambda source: source.label)


def get_source(key: Any) -> Source:
    """The source registered as `key`, or an `InvalidQuery` that lists the ones there are."""
    discover()
    if isinstance(key, str) and key in _sources:
        return _sources[key]
    known = ", ".join(sorted(_sources)) or "none registered"
    if key in (None, ""):
        raise InvalidQuery(f"the definition needs a source: one of {known}", field="source")
    raise InvalidQuery(f"unknown source {key!r}; choose from {known}", field="source")
