"""The two collections and the set-based SQL that turns a page of rows into GeoJSON.

Every feature of a page is built by PostgreSQL in one statement (`json_build_object` with
`ST_AsGeoJSON`), never row by row in Python; a second statement counts the matches.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.utils.dateparse import parse_date, parse_datetime

from areas.lifecycle import AreaPhase
from gis_core.lifecycle import AddressStatus, PremisesType
from integrations.ogc.errors import bad_parameter

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
SUPPORTED_CRS = [CRS84, EPSG4326, EPSG3857]
# Short spellings clients also send for the same systems.
CRS_ALIASES = {
    "CRS84": CRS84,
    "OGC:CRS84": CRS84,
    "urn:ogc:def:crs:OGC:1.3:CRS84": CRS84,
    "EPSG:4326": EPSG4326,
    "urn:ogc:def:crs:EPSG::4326": EPSG4326,
    "EPSG:3857": EPSG3857,
    "urn:ogc:def:crs:EPSG::3857": EPSG3857,
}
MAX_LIMIT = 10000
DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class Queryable:
    """A property clients may filter on with `?name=value` (equality)."""

    column: str
    type: str = "string"  # string | integer | boolean
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    geometry_type: str  # GeoJSON type, for the queryables' geometry
    from_sql: str  # FROM … (with joins); the main table is aliased `t`
    geometry: str  # the 4326 (lon/lat) geometry column
    properties: tuple[tuple[str, str], ...]  # (name, SQL expression)
    queryables: dict[str, Queryable] = field(default_factory=dict)


ADDRESSES = Collection(
    id="addresses",
    title="Addresses",
    description="Service locations with their serviceability status (planned … activated).",
    geometry_type="Point",
    # a retired address (gone from the GIS of record) is gone from the collection too
    from_sql="(SELECT * FROM gis_core_address WHERE retired_at IS NULL) t"
    " LEFT JOIN areas_area ar ON ar.id = t.area_id",
    geometry="t.location",
    properties=(
        ("label", "t.label"),
        ("street", "t.street"),
        ("house_number", "t.house_number"),
        ("unit", "t.unit"),
        ("postcode", "t.postcode"),
        ("city", "t.city"),
        ("country", "t.country"),
        ("premises_type", "t.premises_type"),
        ("units", "t.units"),
        ("status", "t.status"),
        ("status_changed_at", "t.status_changed_at"),
        ("circuit_ref", "t.circuit_ref"),
        ("circuit_name", "t.circuit_name"),
        ("area_code", "ar.code"),
        ("area_name", "ar.name"),
        ("area_phase", "ar.phase"),
        ("created_at", "t.created_at"),
        ("updated_at", "t.updated_at"),
    ),
    queryables={
        "status": Queryable("t.status", enum=tuple(AddressStatus.values)),
        "premises_type": Queryable("t.premises_type", enum=tuple(PremisesType.values)),
        "area_code": Queryable("ar.code"),
        "area_phase": Queryable("ar.phase"),
        "postcode": Queryable("t.postcode"),
        "city": Queryable("t.city"),
        "street": Queryable("t.street"),
    },
)

AREAS = Collection(
    id="areas",
    title="Planning areas",
    description="Planning areas with their phase, target take rate and demand figures.",
    geometry_type="MultiPolygon",
    # a deleted area is gone from the collection (404); a split one stays, is_active false
    from_sql="(SELECT * FROM areas_area WHERE deleted_at IS NULL) t"
    " LEFT JOIN areas_areafigures fg ON fg.area_id = t.id",
    geometry="t.boundary",
    properties=(
        ("code", "t.code"),
        ("name", "t.name"),
        ("phase", "t.phase"),
        ("is_active", "t.is_active"),
        ("target_take_rate", "t.target_take_rate"),
        ("addresses", "fg.addresses"),
        ("homes", "fg.homes"),
        ("orders", "fg.orders"),
        ("take_rate", "fg.take_rate"),
        ("expected_connection_from", "t.expected_connection_from"),
        ("expected_connection_until", "t.expected_connection_until"),
        ("created_at", "t.created_at"),
        ("updated_at", "t.updated_at"),
    ),
    queryables={
        "code": Queryable("t.code"),
        "phase": Queryable("t.phase", enum=tuple(AreaPhase.values)),
        "is_active": Queryable("t.is_active", type="boolean"),
    },
)

COLLECTIONS = {c.id: c for c in (ADDRESSES, AREAS)}


def parse_crs(value: str | None, parameter: str) -> str:
    """The CRS URI a `crs` / `bbox-crs` value names (CRS84 when absent), else a 400."""
    if value is None or value == "":
        return CRS84
    uri = CRS_ALIASES.get(value, value)
    if uri not in SUPPORTED_CRS:
        raise bad_parameter(f"{parameter} {value!r} is not supported; use one of {SUPPORTED_CRS}")
    return uri


def geometry_sql(collection: Collection, crs: str) -> str:
    """The geometry as GeoJSON in the output CRS (EPSG:4326 in its lat/lon axis order)."""
    if crs == EPSG3857:
        return f"ST_AsGeoJSON(ST_Transform({collection.geometry}, 3857), 2)::json"
    if crs == EPSG4326:
        return f"ST_AsGeoJSON(ST_FlipCoordinates({collection.geometry}), 7)::json"
    return f"ST_AsGeoJSON({collection.geometry}, 7)::json"


def parse_bbox(value: str, bbox_crs: str) -> tuple[list[float], int]:
    """`bbox` → (minx, miny, maxx, maxy) in lon/lat or metres, and the SRID to build it in."""
    try:
        numbers = [float(part) for part in value.split(",")]
    except ValueError:
        raise bad_parameter(f"bbox {value!r} must be 4 (or 6) comma-separated numbers") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
        raise bad_parameter(f"bbox {value!r} must be 4 (or 6) comma-separated numbers")
    if bbox_crs == EPSG4326:  # lat/lon axis order: swap to lon/lat
        numbers = [numbers[1], numbers[0], numbers[3], numbers[2]]
    minx, miny, maxx, maxy = numbers
    if miny > maxy or minx > maxx:
        raise bad_parameter(
            f"bbox {value!r}: the lower corner must lie south-west of the upper one "
            "(boxes across the antimeridian are not supported)"
        )
    if bbox_crs != EPSG3857 and (min(miny, maxy) < -90 or max(miny, maxy) > 90):
        raise bad_parameter(f"bbox {value!r}: latitudes must lie between -90 and 90")
    return numbers, 3857 if bbox_crs == EPSG3857 else 4326


def _instant(text: str, *, end: bool) -> datetime | None:
    if text in ("..", ""):
        return None
    day = parse_date(text) if len(text) == 10 else None
    if day is not None:  # a whole day: from its first to its last instant
        parsed = datetime.combine(day + timedelta(days=1) if end else day, time.min)
        if end:
            parsed -= timedelta(microseconds=1)
    else:
        parsed = parse_datetime(text.replace("z", "Z"))
        if parsed is None:
            raise ValueError(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def parse_datetime_param(value: str) -> tuple[datetime | None, datetime | None]:
    """`datetime` (an instant, a date, or an interval `a/b` with `..` open) → (from, until)."""
    try:
        if "/" in value:
            start_text, end_text = value.split("/", 1)
            start, end = _instant(start_text, end=False), _instant(end_text, end=True)
            if start is None and end is None:
                raise ValueError(value)
        else:  # an instant, or a date standing for its whole day
            start, end = _instant(value, end=False), _instant(value, end=True)
    except ValueError:
        raise bad_parameter(
            f"datetime {value!r} must be an RFC 3339 instant, a date or an interval a/b "
            "(with .. for an open end)"
        ) from None
    if start is not None and end is not None and start > end:
        raise bad_parameter(f"datetime {value!r}: the interval ends before it starts")
    return start, end


def parse_queryable(collection: Collection, name: str, value: str):
    queryable = collection.queryables[name]
    if queryable.type == "boolean":
        if value.lower() not in ("true", "false"):
            raise bad_parameter(f"{name} must be true or false, not {value!r}")
        return value.lower() == "true"
    if queryable.enum and value not in queryable.enum:
        raise bad_parameter(f"{name} must be one of {', '.join(queryable.enum)}, not {value!r}")
    return value


@dataclass
class ItemsQuery:
    """The filters of an items request, ready to become a WHERE clause."""

    collection: Collection
    bbox: tuple[list[float], int] | None = None
    start: datetime | None = None
    end: datetime | None = None
    equals: dict[str, object] = field(default_factory=dict)
    feature_id: int | None = None

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.bbox is not None:
            (minx, miny, maxx, maxy), srid = self.bbox
            envelope = "ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
            if srid == 3857:  # Mercator is separable: a box stays an axis-aligned box
                envelope = "ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 3857), 4326)"
            clauses.append(f"ST_Intersects({self.collection.geometry}, {envelope})")
            params += [minx, miny, maxx, maxy]
        if self.start is not None and self.start == self.end:
            clauses.append("t.updated_at = %s")
            params.append(self.start)
        else:
            if self.start is not None:
                clauses.append("t.updated_at >= %s")
                params.append(self.start)
            if self.end is not None:
                clauses.append("t.updated_at <= %s")
                params.append(self.end)
        for name, value in self.equals.items():
            clauses.append(f"{self.collection.queryables[name].column} = %s")
            params.append(value)
        if self.feature_id is not None:
            clauses.append("t.id = %s")
            params.append(self.feature_id)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _feature_sql(collection: Collection, crs: str) -> str:
    properties = ", ".join(f"'{name}', {expression}" for name, expression in collection.properties)
    return (
        "json_build_object('type', 'Feature', 'id', t.id, "
        f"'geometry', {geometry_sql(collection, crs)}, "
        f"'properties', json_build_object({properties}))"
    )


def fetch_features(
    query: ItemsQuery,
    *,
    crs: str,
    limit: int,
    after: int | None = None,
    before: int | None = None,
) -> tuple[list[dict], bool]:
    """One page of features in id order, built in one statement, and whether more lie beyond.

    Keyset paging: the page after id `after`, or the page before id `before` (for `prev`
    links); the index on the id finds any page as fast as the first.
    """
    where, params = query.where()
    direction = "ASC"
    if after is not None:
        where += (" AND " if where else " WHERE ") + "t.id > %s"
        params.append(after)
    elif before is not None:
        where += (" AND " if where else " WHERE ") + "t.id < %s"
        params.append(before)
        direction = "DESC"
    sql = (
        "SELECT coalesce(json_agg(f ORDER BY id), '[]'::json)::text FROM ("
        f"SELECT t.id AS id, {_feature_sql(query.collection, crs)} AS f "
        f"FROM {query.collection.from_sql}{where} ORDER BY t.id {direction} LIMIT %s) page"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit + 1])
        features = json.loads(cursor.fetchone()[0])
    more = len(features) > limit
    if more:  # the one row read beyond the page
        features = features[1:] if direction == "DESC" else features[:limit]
    return features, more


def count_features(query: ItemsQuery) -> int:
    where, params = query.where()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {query.collection.from_sql}{where}", params)
        return cursor.fetchone()[0]


def extent(collection: Collection) -> dict:
    """The collection's spatial (CRS84) and temporal (created … updated) extent, from the data."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), lo, hi FROM ("
            f"SELECT ST_Extent({collection.geometry}) AS e, min(t.created_at) AS lo, "
            f"max(t.updated_at) AS hi FROM {collection.from_sql}) x"
        )
        xmin, ymin, xmax, ymax, lo, hi = cursor.fetchone()
    bbox = [xmin, ymin, xmax, ymax] if xmin is not None else [-180.0, -90.0, 180.0, 90.0]
    return {
        "spatial": {"bbox": [bbox], "crs": CRS84},
        "temporal": {
            "interval": [[lo.isoformat() if lo else None, hi.isoformat() if hi else None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        },
    }
