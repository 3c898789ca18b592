"""Reads of the areas app: areas with their kept figures as GeoJSON, an area's history and series.

The map asks for every area at once, so GeoJSON features are built by PostgreSQL itself
(`ST_AsGeoJSON` for the geometry, the properties concatenated as JSON text; one text per
area): the figures are kept in `AreaFigures` (nothing is counted here), and no geometry
goes through GEOS or Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.gis.db.models import GeometryField
from django.db.models import (
    BooleanField,
    Case,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from areas.lifecycle import AreaPhase
from areas.models import Area, AreaDailyFigures, AreaPhaseChange, AreaSplit

# Decimals in GeoJSON output: 6 ≈ 0.1 m, finer than any boundary is drawn.
GEOJSON_PRECISION = 6

# Phases sort along the lifecycle, not by their names.
PHASE_RANK = Case(
    *(When(phase=phase, then=Value(rank)) for rank, phase in enumerate(AreaPhase.values)),
    output_field=IntegerField(),
)


# Metres on the ground per degree of latitude; a degree of longitude is never longer.
METRES_PER_DEGREE = 111_320


class _Simplified(Func):
    """A boundary simplified (Douglas–Peucker) so no point moves more than a tolerance in metres.

    The tolerance becomes degrees by the length of a degree of latitude: a degree of
    longitude is shorter, so on the ground the result is never further off than asked (and
    a little closer east–west). For display only: `ST_Simplify` may let a thin boundary
    touch itself, but it is 20× faster than `ST_SimplifyPreserveTopology` on 2,000 areas, and
    transforming to a metric CRS and back would cost more than the simplification saves.
    """

    template = f"ST_Multi(ST_Simplify(%(expressions)s / {METRES_PER_DEGREE}.0, true))"
    output_field = GeometryField(srid=4326)


class _UtcTimestamp(Func):
    """An ISO 8601 timestamp in UTC (`2026-11-02T09:30:00.000000Z`), or null."""

    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    output_field = TextField()


# How each kind of value is written as JSON text. Plain `||` over these is about twice as
# fast as json_build_object with 17 members, which looks up every argument's type per row.
_AS_JSON = {
    "number": "coalesce(({})::text, 'null')",
    "boolean": "coalesce(({})::text, 'null')",
    "string": "coalesce(to_json(({})::text)::text, 'null')",
    "plain": "coalesce('\"' || ({}) || '\"', 'null')",  # a string that needs no escaping
    "raw": "({})",  # already JSON text (a GeoJSON geometry)
}


class _JsonText(Func):
    """A JSON object as text, `{"key": value, …}`, concatenated by PostgreSQL."""

    output_field = TextField()

    def __init__(self, members: list[tuple[str, str, Any]]):
        self.members = [(key, kind) for key, kind, _ in members]
        super().__init__(*(expression for _, _, expression in members))

    def as_sql(self, compiler, connection, **extra_context):
        parts, params = [], []
        for index, ((key, kind), expression) in enumerate(
            zip(self.members, self.source_expressions, strict=True)
        ):
            sql, expression_params = compiler.compile(expression)
            lead = "{" if index == 0 else ","
            parts.append(f"'{lead}\"{key}\":' || " + _AS_JSON[kind].format(sql))
            params += expression_params
        return "(" + " || ".join(parts) + " || '}')", params


def _figure(name: str, default=0):
    return Coalesce(F(f"figures__{name}"), Value(default))


def area_feature_expression(*, simplify: float | None = None) -> Func:
    """One area as a GeoJSON Feature (text), made by PostgreSQL: geometry and kept figures."""
    boundary = F("boundary") if not simplify else _Simplified(F("boundary"), Value(simplify))
    number, boolean, string = "number", "boolean", "string"
    properties = _JsonText(
        [
            ("id", number, F("id")),
            ("code", string, F("code")),
            ("name", string, F("name")),
            ("phase", "plain", F("phase")),  # snake_case choices
            ("parent", number, F("parent_id")),
            ("is_active", boolean, F("is_active")),
            ("target_take_rate", number, F("target_take_rate")),
            ("deploys_at_target", boolean, F("deploys_at_target")),
            ("homes", number, _figure("homes")),
            ("addresses", number, _figure("addresses")),
            ("interests", number, _figure("interests")),
            ("orders", number, _figure("orders")),
            ("take_rate", number, _figure("take_rate")),
            ("interest_rate", number, _figure("interest_rate")),
            ("progress", number, _figure("progress")),
            (
                "ready_to_build",
                boolean,
                Case(
                    When(Q(figures__homes__gt=0, figures__progress__gte=1), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
            ),
            ("phase_changed_at", "plain", _UtcTimestamp(F("phase_changed_at"))),
        ]
    )
    geometry = Func(
        boundary, Value(GEOJSON_PRECISION), function="ST_AsGeoJSON", output_field=TextField()
    )
    return _JsonText(
        [
            ("type", "raw", Value('"Feature"')),
            ("id", number, F("id")),
            ("geometry", "raw", geometry),
            ("properties", "raw", properties),
        ]
    )


def areas_with_figures(*, include_retired: bool = True) -> QuerySet[Area]:
    """Areas with their kept figures joined (and `phase_rank` for sorting by the lifecycle)."""
    queryset = Area.objects.select_related("figures").alias(phase_rank=PHASE_RANK)
    return queryset if include_retired else queryset.filter(is_active=True)


def area_features(queryset: QuerySet[Area], *, simplify: float | None = None) -> QuerySet[Area]:
    """The areas of `queryset`, in its order, as GeoJSON Feature texts (a flat values list)."""
    return queryset.annotate(
        geojson_feature=area_feature_expression(simplify=simplify)
    ).values_list("geojson_feature", flat=True)


def feature_collection(features: list[str], **members) -> bytes:
    """A GeoJSON FeatureCollection around ready-made Feature texts, as UTF-8 bytes."""
    head = "".join(f"{json.dumps(key)}:{json.dumps(value)}," for key, value in members.items())
    return (
        '{"type":"FeatureCollection",' + head + '"features":[' + ",".join(features) + "]}"
    ).encode()


# --- one area's story ------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """A line of an area's history: a phase change or a split, who did it, when and why."""

    kind: str  # "phase" or "split"
    from_value: str
    to_value: str
    actor: str | None
    reason: str
    at: datetime
    mode: str | None = None
    parent: int | None = None
    children: tuple[int, ...] = ()


def area_history(area: Area) -> list[HistoryEntry]:
    """Phase changes of the area and the splits it took part in (as parent or child), in time."""
    changes = AreaPhaseChange.objects.filter(area=area).select_related("actor")
    splits = AreaSplit.objects.filter(
        Q(parent=area) | Q(first_child=area) | Q(second_child=area)
    ).select_related("actor", "parent", "first_child", "second_child")
    entries = [
        (
            change.changed_at,
            1,
            change.pk,
            HistoryEntry(
                kind="phase",
                from_value=change.from_phase,
                to_value=change.to_phase,
                actor=change.actor.username if change.actor else None,
                reason=change.reason,
                at=change.changed_at,
            ),
        )
        for change in changes
    ]
    entries += [
        (
            split.split_at,
            0,
            split.pk,
            HistoryEntry(
                kind="split",
                from_value=split.parent.code,
                to_value=f"{split.first_child.code} + {split.second_child.code}",
                actor=split.actor.username if split.actor else None,
                reason=split.reason,
                at=split.split_at,
                mode=split.mode,
                parent=split.parent_id,
                children=(split.first_child_id, split.second_child_id),
            ),
        )
        for split in splits
    ]
    return [entry for *_, entry in sorted(entries, key=lambda row: row[:3])]


def area_series(area: Area) -> QuerySet[AreaDailyFigures]:
    """The area's daily figures, oldest day first (the demand chart)."""
    return AreaDailyFigures.objects.filter(area=area).order_by("day")
