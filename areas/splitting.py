"""Splitting an area in two, computed by PostGIS: the split line, the two parts, what they hold.

`areas.services.area_split` applies a plan made here and `area_split_preview` shows one;
the only write here is `relink_split_addresses`, which `area_split` calls. Three ways to ask
for a split:

- ``line``: a LineString drawn across the area; `ST_Split` must cut it into exactly two pieces;
- ``half``: a straight line through the area's centroid, along an axis: ``north-south`` cuts
  with an east–west line into a northern and a southern part, ``east-west`` cuts with a
  north–south line into a western and an eastern part;
- ``share``: the straight line that puts `share` of the area's live orders on the north
  (``north-south``) or west (``east-west``) side: a `percentile_cont` of the orders'
  coordinates along the axis. With no live orders, the homes (MDU units counted) decide.

Straight lines are extended beyond the area's bounding box, so they cut it from side to side;
their pieces are grouped by the side of the line they lie on (a concave or multi-polygon area
may give several pieces per side). The first part (north or west; for a drawn line, the
northern one if the line runs east–west, else the western one) becomes the child with the
lower id, so an address lying exactly on the line goes to it (`areas.assignment` prefers the
lowest id).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.gis.geos import GEOSGeometry, LineString, MultiPolygon
from django.db import connection
from django.db.models import Q

from areas.models import Area, Interest, Signup
from common.errors import Conflict, DomainError, InvalidGeometry
from gis_core.geometry import parse_geometry
from gis_core.models import Address

LINE, HALF, SHARE = "line", "half", "share"
MODES = (LINE, HALF, SHARE)
NORTH_SOUTH, EAST_WEST = "north-south", "east-west"
AXES = (NORTH_SOUTH, EAST_WEST)
# A part smaller than this share of the parent's surface is a sliver: refused.
MIN_PART_SHARE = 0.01
# (side, code suffix) of the two parts, first part first.
SIDES = {
    LINE: (("a", "a"), ("b", "b")),
    NORTH_SOUTH: (("north", "n"), ("south", "s")),
    EAST_WEST: (("west", "w"), ("east", "e")),
}


@dataclass(frozen=True)
class SplitPart:
    """One of the two would-be children: where it lies and what it would be called."""

    side: str
    code: str
    name: str
    boundary: MultiPolygon
    share_of_surface: float


@dataclass(frozen=True)
class PartFigures:
    """What a would-be child would hold, counted like `areas.figures` counts a real one."""

    addresses: int
    homes: int
    interests: int
    orders: int
    addresses_with_interest: int
    addresses_with_order: int
    take_rate: Decimal
    interest_rate: Decimal
    progress: Decimal


@dataclass(frozen=True)
class SplitPlan:
    """A split worked out but not applied: the line, the two parts and how the line was found."""

    area: Area
    mode: str
    axis: str | None
    share: Decimal | None
    line: LineString
    parts: tuple[SplitPart, SplitPart]
    basis: str  # "line", "centroid", "orders" or "homes"
    note: str


# --- the request ------------------------------------------------------------------------


def _share(value: Any) -> Decimal:
    try:
        share = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(
            f"share must be a number between 0 and 1 (e.g. 0.5), not {value!r}", field="share"
        ) from exc
    if not share.is_finite() or not Decimal(0) < share < Decimal(1):
        raise DomainError(
            f"share must lie strictly between 0 and 1 (e.g. 0.5 for half of the orders),"
            f" not {value}",
            field="share",
        )
    return share


def _line(value: Any, crs: Any) -> LineString:
    try:
        geometry = parse_geometry(value, crs=crs)
    except InvalidGeometry as exc:
        raise InvalidGeometry(f"the split line is unusable: {exc.message}", field="line") from exc
    if geometry.geom_type != "LineString":
        raise InvalidGeometry(
            f"the split line must be one LineString, not a {geometry.geom_type}", field="line"
        )
    return geometry


def _request(
    *, area: Area, mode: str | None, axis: str | None, share: Any, line: Any, crs: Any
) -> tuple[str, str | None, Decimal | None, LineString | None]:
    """Check what was asked; returns (mode, axis, share, line), refusing with a reason."""
    if not area.is_active:
        children = ", ".join(area.children.order_by("pk").values_list("code", flat=True))
        raise Conflict(
            f"area {area.code} was already split (into {children}); split one of its parts",
            code="area_retired",
        )
    if mode is None and line is None:
        raise DomainError(
            f"draw a line across area {area.code}, or ask for mode half or share", field="line"
        )
    mode = mode or LINE
    if mode not in MODES:
        raise DomainError(
            f"unknown split mode {mode!r}: draw a line (mode line), or ask for mode half"
            " or share with an axis",
            field="mode",
        )
    if mode == LINE:
        if line is None:
            raise DomainError(
                f"draw a line across area {area.code}, or ask for mode half or share",
                field="line",
            )
        if share is not None:
            raise DomainError("share is only used with mode share", field="share")
        return LINE, None, None, _line(line, crs)
    if line is not None:
        raise DomainError(
            f"a drawn line is only used with mode line, not with mode {mode}", field="line"
        )
    axis = axis or NORTH_SOUTH
    if axis not in AXES:
        raise DomainError(
            f"unknown axis {axis!r}: north-south (a northern and a southern part)"
            " or east-west (a western and an eastern part)",
            field="axis",
        )
    if mode == HALF:
        if share is not None:
            raise DomainError("share is only used with mode share", field="share")
        return HALF, axis, None, None
    if share is None:
        raise DomainError(
            "mode share needs a share between 0 and 1 (e.g. 0.5 for half of the orders)",
            field="share",
        )
    return SHARE, axis, _share(share), None


# --- the line -----------------------------------------------------------------------------

# The straight line at `at` across the area, extended by the bbox's size on both sides:
# west → east for the north-south axis, north → south for the east-west axis.
_AXIS_LINE = """
ST_SetSRID(CASE WHEN %(north_south)s
    THEN ST_MakeLine(
        ST_MakePoint(ST_XMin(boundary) - (ST_XMax(boundary) - ST_XMin(boundary)) - 1e-6, at),
        ST_MakePoint(ST_XMax(boundary) + (ST_XMax(boundary) - ST_XMin(boundary)) + 1e-6, at))
    ELSE ST_MakeLine(
        ST_MakePoint(at, ST_YMax(boundary) + (ST_YMax(boundary) - ST_YMin(boundary)) + 1e-6),
        ST_MakePoint(at, ST_YMin(boundary) - (ST_YMax(boundary) - ST_YMin(boundary)) - 1e-6))
    END, 4326)
"""

# Through the centroid. The planar centroid of an area a few km across agrees with one
# computed in a metric CRS (UTM) to about 1e-7 degrees; PostGIS's geography centroid does not
# (it is off by ~100 m on the demo town's postcode areas), so the planar one it is.
_HALF_SQL = """
WITH area AS (
    SELECT boundary, ST_Centroid(boundary) AS centroid
      FROM {area} WHERE id = %(area)s
), cut AS (
    SELECT boundary,
           CASE WHEN %(north_south)s THEN ST_Y(centroid) ELSE ST_X(centroid) END AS at
      FROM area
)
SELECT at, ST_AsEWKB({axis_line}) FROM cut
"""

# `percentile_cont` over the live orders' coordinates (one value per order) along the axis;
# when there is none, over the homes (an address counted once per unit).
_SHARE_SQL = """
WITH orders AS (
    SELECT address.location
      FROM {signup} AS signup
      JOIN {address} AS address ON address.id = signup.address_id
     WHERE address.area_id = %(area)s AND signup.withdrawn_at IS NULL
), homes AS (
    SELECT address.location
      FROM {address} AS address, generate_series(1, address.units)
     WHERE address.area_id = %(area)s AND NOT EXISTS (SELECT FROM orders)
), basis AS (
    SELECT 'orders' AS kind, location FROM orders
    UNION ALL
    SELECT 'homes', location FROM homes
), cut AS (
    SELECT min(kind) AS kind, count(*) AS counted,
           percentile_cont(%(quantile)s) WITHIN GROUP (
               ORDER BY CASE WHEN %(north_south)s THEN ST_Y(location) ELSE ST_X(location) END
           ) AS at
      FROM basis
)
SELECT cut.kind, cut.counted, ST_AsEWKB({axis_line})
  FROM cut, (SELECT boundary FROM {area} WHERE id = %(area)s) AS area
"""


def _fetchone(sql: str, params: dict) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _format(sql: str) -> str:
    return sql.format(
        area=Area._meta.db_table,
        address=Address._meta.db_table,
        signup=Signup._meta.db_table,
        interest=Interest._meta.db_table,
        axis_line=_AXIS_LINE,
    )


def _geometry(value) -> GEOSGeometry:
    return GEOSGeometry(memoryview(bytes(value)))


def _half_line(area: Area, axis: str) -> tuple[LineString, str]:
    at, line = _fetchone(_format(_HALF_SQL), {"area": area.pk, "north_south": axis == NORTH_SOUTH})
    where = f"latitude {at:.6f}" if axis == NORTH_SOUTH else f"longitude {at:.6f}"
    return _geometry(line), f"a straight line through the centroid of area {area.code} ({where})"


def _share_line(area: Area, axis: str, share: Decimal) -> tuple[LineString, str, str]:
    north_south = axis == NORTH_SOUTH
    # north-south: `share` of the points lie north of (above) the line; east-west: west of it.
    quantile = float(1 - share) if north_south else float(share)
    kind, counted, line = _fetchone(
        _format(_SHARE_SQL), {"area": area.pk, "north_south": north_south, "quantile": quantile}
    )
    if not counted:
        raise DomainError(
            f"area {area.code} has no orders and no homes to share out;"
            " draw a line or split it in half",
            code="nothing_to_share",
            field="share",
        )
    side = "north" if north_south else "west"
    if kind == "orders":
        return (
            _geometry(line),
            "orders",
            f"the line puts {share:.0%} of the {counted} live orders of area {area.code}"
            f" on the {side} side",
        )
    return (
        _geometry(line),
        "homes",
        f"area {area.code} has no live orders yet, so the line puts {share:.0%} of its"
        f" {counted} homes on the {side} side instead",
    )


# --- the parts ----------------------------------------------------------------------------

# ST_Split the boundary by the line; group the pieces into two parts. For a straight line,
# by the side of the line each piece's point-on-surface lies on; for a drawn line (which must
# give exactly two pieces), the northern piece first if the line runs east–west, else the
# western one.
_SPLIT_SQL = """
WITH area AS (
    SELECT boundary, ST_Area(boundary::geography) AS surface, ST_NumGeometries(boundary) AS polygons
      FROM {area} WHERE id = %(area)s
), piece AS (
    SELECT dumped.geom AS piece, ST_PointOnSurface(dumped.geom) AS inside,
           ST_Centroid(dumped.geom) AS centroid
      FROM area, ST_Dump(ST_Split(area.boundary, ST_GeomFromEWKB(%(line)s))) AS dumped
), sided AS (
    SELECT piece,
           CASE %(grouping)s
               WHEN 'north-south' THEN CASE WHEN ST_Y(inside) > %(at)s THEN 0 ELSE 1 END
               WHEN 'east-west' THEN CASE WHEN ST_X(inside) < %(at)s THEN 0 ELSE 1 END
               ELSE (row_number() OVER (ORDER BY CASE WHEN %(line_runs_east_west)s
                                                      THEN -ST_Y(centroid)
                                                      ELSE ST_X(centroid) END)) - 1
           END AS side
      FROM piece
), part AS (
    SELECT side, ST_Multi(ST_CollectionExtract(ST_Union(piece), 3)) AS boundary
      FROM sided GROUP BY side
)
SELECT (SELECT count(*) FROM piece), area.polygons, part.side, ST_AsEWKB(part.boundary),
       ST_Area(part.boundary::geography) / nullif(area.surface, 0)
  FROM area LEFT JOIN part ON true
 ORDER BY part.side
"""

# What a drawn line that cuts nothing is doing, for the message.
_LINE_CHECK_SQL = """
SELECT ST_IsSimple(line), ST_IsValidReason(line), ST_Intersects(boundary, line),
       ST_Contains(boundary, ST_StartPoint(line)) AND ST_Contains(boundary, ST_EndPoint(line))
  FROM {area}, ST_GeomFromEWKB(%(line)s) AS line
 WHERE id = %(area)s
"""


def _check_drawn_line(area: Area, line: LineString) -> tuple[bool, bool]:
    """Refuse an invalid or self-crossing line; return (touches the area, both ends inside)."""
    simple, reason, intersects, ends_inside = _fetchone(
        _format(_LINE_CHECK_SQL), {"area": area.pk, "line": bytes(line.ewkb)}
    )
    if reason != "Valid Geometry":
        raise InvalidGeometry(f"the split line is invalid: {reason}", field="line")
    if not simple:
        raise InvalidGeometry(
            "the split line crosses itself; draw a line without loops", field="line"
        )
    return intersects, ends_inside


def _not_crossing(area: Area, intersects: bool, ends_inside: bool) -> DomainError:
    if not intersects:
        why = "it lies entirely outside it"
    elif ends_inside:
        why = "both its ends lie inside it; draw it from outside the area to outside"
    else:
        why = "it must enter the area on one side and leave it on the other"
    return DomainError(f"the line does not cross area {area.code}: {why}", code="line_misses_area")


def _runs_east_west(line: LineString) -> bool:
    """Whether a line's ends lie further apart east–west than north–south (on the ground)."""
    (x0, y0), (x1, y1) = line.coords[0][:2], line.coords[-1][:2]
    return abs(x1 - x0) * math.cos(math.radians((y0 + y1) / 2)) >= abs(y1 - y0)


def _parts(
    area: Area, line: LineString, grouping: str, at: float | None
) -> list[tuple[int, MultiPolygon, float]]:
    """(side, boundary, share of the surface) of each part, after the checks of the split."""
    with connection.cursor() as cursor:
        cursor.execute(
            _format(_SPLIT_SQL),
            {
                "area": area.pk,
                "line": bytes(line.ewkb),
                "grouping": grouping,
                "at": at,
                "line_runs_east_west": _runs_east_west(line),
            },
        )
        rows = cursor.fetchall()
    pieces, polygons = rows[0][0], rows[0][1]
    if grouping == LINE:
        if pieces <= polygons:
            return []
        if pieces > 2:
            hint = (
                f" (area {area.code} is made of {polygons} separate polygons: split it in half"
                " or by share instead)"
                if polygons > 1
                else ""
            )
            raise DomainError(
                f"the line splits the area into {pieces} parts; draw a line that crosses it once"
                + hint,
                code="too_many_parts",
                field="line",
            )
    return [
        (side, _geometry(boundary), float(share))
        for _, _, side, boundary, share in rows
        if side is not None
    ]


def plan_split(
    *,
    area: Area,
    mode: str | None = LINE,
    axis: str | None = NORTH_SOUTH,
    share: Any = None,
    line: Any = None,
    crs: Any = None,
) -> SplitPlan:
    """Work out a split of `area` as asked, or refuse with a reason; writes nothing."""
    mode, axis, share_value, drawn = _request(
        area=area, mode=mode, axis=axis, share=share, line=line, crs=crs
    )
    if mode == LINE:
        intersects, ends_inside = _check_drawn_line(area, drawn)
        split_line, basis, note = drawn, LINE, ""
        parts = _parts(area, split_line, LINE, None)
        if len(parts) < 2:
            raise _not_crossing(area, intersects, ends_inside)
        sides = SIDES[LINE]
    else:
        if mode == HALF:
            split_line, note = _half_line(area, axis)
            basis = "centroid"
        else:
            split_line, basis, note = _share_line(area, axis, share_value)
        at = split_line.coords[0][1] if axis == NORTH_SOUTH else split_line.coords[0][0]
        parts = _parts(area, split_line, axis, at)
        if len(parts) < 2:
            raise DomainError(
                f"the {mode} line does not cut area {area.code} in two: all of it lies on one"
                " side; choose another share or draw a line",
                code="line_misses_area",
            )
        sides = SIDES[axis]
    for (side, _), (_, _, share_of_surface) in zip(sides, parts, strict=True):
        if share_of_surface < MIN_PART_SHARE:
            raise DomainError(
                f"the split leaves a sliver: the {side} part would hold only"
                f" {share_of_surface:.1%} of area {area.code}'s surface (at least"
                f" {MIN_PART_SHARE:.0%} each); move the line",
                code="sliver",
                field="line" if mode == LINE else "share",
            )
    codes = child_codes(area, [suffix for _, suffix in sides])
    return SplitPlan(
        area=area,
        mode=mode,
        axis=axis,
        share=share_value,
        line=split_line,
        parts=tuple(
            SplitPart(
                side=side,
                code=code,
                name=f"{area.name} ({side if mode != LINE else 'part ' + side})",
                boundary=boundary,
                share_of_surface=share_of_surface,
            )
            for (side, _), code, (_, boundary, share_of_surface) in zip(
                sides, codes, parts, strict=True
            )
        ),
        basis=basis,
        note=note,
    )


def child_codes(area: Area, suffixes: list[str]) -> list[str]:
    """`<code>-<suffix>` for each part, with a counter (2, 3, …) where that code is taken."""
    code_length = Area._meta.get_field("code").max_length
    # room for the suffix and a counter within the column's length
    bases = [f"{area.code[: code_length - len(suffix) - 4]}-{suffix}" for suffix in suffixes]
    clash = Q()
    for base in bases:
        clash |= Q(code__startswith=base)
    taken = set(Area.objects.filter(clash).values_list("code", flat=True))
    codes = []
    for base in bases:
        code, counter = base, 1
        while code in taken:
            counter += 1
            code = f"{base}{counter}"
        taken.add(code)
        codes.append(code)
    return codes


# --- what each part would hold --------------------------------------------------------------

# The area's addresses placed in the first part that contains them (boundary included, as
# the assignment does), then counted as `areas.figures` counts.
_FIGURES_SQL = """
WITH part AS MATERIALIZED (
    -- parsed once, so PostGIS tests every address against the same prepared polygon
    SELECT ST_GeomFromEWKB(%(first)s) AS first, ST_GeomFromEWKB(%(second)s) AS second
), placed AS (
    SELECT address.id, address.units,
           CASE WHEN ST_Intersects(part.first, address.location) THEN 0
                WHEN ST_Intersects(part.second, address.location) THEN 1
           END AS side
      FROM {address} AS address, part
     WHERE address.area_id = %(area)s
), live_signups AS (
    SELECT address_id, count(*) AS n FROM {signup}
     WHERE withdrawn_at IS NULL AND address_id IN (SELECT id FROM placed)
     GROUP BY address_id
), live_interests AS (
    SELECT address_id, count(*) AS n FROM {interest}
     WHERE withdrawn_at IS NULL AND address_id IN (SELECT id FROM placed)
     GROUP BY address_id
), counted AS (
    SELECT side, count(*) AS addresses, sum(placed.units)::bigint AS homes,
           coalesce(sum(live_interests.n), 0)::bigint AS interests,
           coalesce(sum(live_signups.n), 0)::bigint AS orders,
           count(live_interests.n) AS addresses_with_interest,
           count(live_signups.n) AS addresses_with_order
      FROM placed
      LEFT JOIN live_signups ON live_signups.address_id = placed.id
      LEFT JOIN live_interests ON live_interests.address_id = placed.id
     WHERE side IS NOT NULL
     GROUP BY side
), sides AS (
    SELECT side FROM (VALUES (0), (1)) AS sides(side)
), figures AS (
    SELECT sides.side,
           coalesce(addresses, 0) AS addresses, coalesce(homes, 0) AS homes,
           coalesce(interests, 0) AS interests, coalesce(orders, 0) AS orders,
           coalesce(addresses_with_interest, 0) AS addresses_with_interest,
           coalesce(addresses_with_order, 0) AS addresses_with_order,
           round(coalesce(addresses_with_order::numeric / nullif(homes, 0), 0), 4) AS take_rate,
           round(coalesce(addresses_with_interest::numeric / nullif(homes, 0), 0), 4)
             AS interest_rate
      FROM sides LEFT JOIN counted ON counted.side = sides.side
)
SELECT addresses, homes, interests, orders, addresses_with_interest, addresses_with_order,
       take_rate, interest_rate,
       round(CASE WHEN %(target)s > 0 THEN take_rate / %(target)s
                  WHEN homes > 0 THEN 1 ELSE 0 END, 4)
  FROM figures ORDER BY side
"""


def part_figures(plan: SplitPlan) -> tuple[PartFigures, PartFigures]:
    """What each part of the plan would hold: homes, demand and rates, counted in SQL."""
    first, second = plan.parts
    with connection.cursor() as cursor:
        cursor.execute(
            _format(_FIGURES_SQL),
            {
                "area": plan.area.pk,
                "first": bytes(first.boundary.ewkb),
                "second": bytes(second.boundary.ewkb),
                "target": plan.area.target_take_rate,
            },
        )
        rows = cursor.fetchall()
    return tuple(PartFigures(*row) for row in rows)


# --- moving the parent's addresses ------------------------------------------------------------

# The assignment rule (`areas.assignment`: the lowest-id active area containing the address,
# boundary included) applied to just the retired parent's addresses: only those can move, and
# only into active areas overlapping the parent's box (its children, and neighbours for points
# on a shared edge). Each of those few polygons is tested against the candidates in turn, so
# PostGIS keeps it prepared; rows are written once. The general `assign_addresses_near_areas`
# gives the same links but, planned for any set of areas, it joins every active area's
# addresses: 2-3× slower on a 5,000-address area, and it grows with the whole table.
_RELINK_SQL = """
WITH parent AS (
    SELECT boundary FROM {area} WHERE id = %(parent)s
), candidate AS MATERIALIZED (
    SELECT id, location FROM {address} WHERE area_id = %(parent)s
), nearby AS MATERIALIZED (
    SELECT area.id, area.boundary
      FROM {area} AS area, parent
     WHERE area.is_active AND area.boundary && parent.boundary
), best AS (
    SELECT DISTINCT ON (candidate.id) candidate.id, nearby.id AS area_id
      FROM nearby JOIN candidate ON ST_Intersects(nearby.boundary, candidate.location)
     ORDER BY candidate.id, nearby.id
), moved AS (
    UPDATE {address} AS address
       SET area_id = best.area_id
      FROM candidate LEFT JOIN best ON best.id = candidate.id
     WHERE address.id = candidate.id
    RETURNING best.area_id
)
SELECT array_remove(array_agg(DISTINCT area_id), NULL) FROM moved
"""


def relink_split_addresses(parent: Area) -> set[int]:
    """Move a just-retired parent's addresses to the areas now containing them (its children).

    Returns the ids of the areas that gained addresses (the parent lost them all).
    """
    with connection.cursor() as cursor:
        cursor.execute(_format(_RELINK_SQL), {"parent": parent.pk})
        (gained,) = cursor.fetchone()
    return set(gained or ())
