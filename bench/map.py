"""Rows of the planners' map (issue 3): the area list API, address and area tiles, a split.

Each oanm figure goes through the same door a planner's browser uses (Django's test client,
in process, so it is server time without the network), against the raw SQL of the same work
in the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from bench import databases
from bench.registry import BenchContext, Goal, Result, row
from bench.timing import median_seconds, say, step

BENCH_USERNAME = "bench-planner"
TILE_ZOOMS = range(8, 17)
POINTS_FROM_ZOOM = 14  # the address tiles' own threshold (gis_core.tiles)
TILE_REPEAT = 15
SPLIT_ADDRESSES = 5_000

# The physical limit of "figures for every area": recount them from the addresses.
RAW_FIGURES_SQL = """
SELECT area.id, count(address.id), coalesce(sum(address.units), 0)
  FROM areas_area AS area
  LEFT JOIN gis_core_address AS address ON address.area_id = area.id
 WHERE area.is_active
 GROUP BY area.id
"""

# The bare tiles: the same envelope, geometry and feature id, nothing else.
RAW_ADDRESS_TILE_SQL = """
SELECT ST_AsMVT(tile, 'addresses', 4096, 'geom', 'id')
  FROM (SELECT ST_AsMVTGeom(location_3857, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true)
               AS geom, id
          FROM gis_core_address
         WHERE location_3857 && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096)) AS tile
"""
RAW_AREA_TILE_SQL = """
SELECT ST_AsMVT(tile, 'areas', 4096, 'geom', 'id')
  FROM (SELECT ST_AsMVTGeom(boundary_3857, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true)
               AS geom, id
          FROM areas_area
         WHERE is_active
           AND boundary_3857 && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096)) AS tile
"""


# --- set-up --------------------------------------------------------------------------------


def _client():
    """A test client logged in as an owner planner (created once in the county database)."""
    from django.test import Client

    from accounts.models import Organisation, OrganisationKind, User
    from accounts.roles import Role
    from accounts.services import organisation_create, user_create

    user = User.objects.filter(username=BENCH_USERNAME).first()
    if user is None:
        owner = Organisation.objects.filter(kind=OrganisationKind.OWNER).first()
        owner = owner or organisation_create(name="Bench County Fibre", kind=OrganisationKind.OWNER)
        user = user_create(
            username=BENCH_USERNAME,
            password="bench-not-secret",
            organisation=owner,
            role=Role.PLANNER,
        )
    client = Client(HTTP_HOST="localhost")  # a host the local settings allow
    client.force_login(user)
    return client


def _ensure_figures() -> None:
    """The county is written by SQL: keep its areas' demand figures the way oanm would."""
    from areas.figures import refresh_all_figures
    from areas.models import Area, AreaFigures

    active = Area.objects.filter(is_active=True).count()
    if AreaFigures.objects.filter(area__is_active=True).count() != active:
        with step(f"counting the figures of {active:,} areas once"):
            refresh_all_figures()


def _densest_point(conn: psycopg.Connection) -> tuple[float, float]:
    """The EPSG:3857 centre of the busiest zoom-13 cell: where a planner's tiles are heaviest."""
    x, y = conn.execute(
        "SELECT sum_x / addresses, sum_y / addresses FROM gis_core_addresscellcount"
        " WHERE zoom = 13 AND addresses > 0 ORDER BY addresses DESC, cell_x, cell_y LIMIT 1"
    ).fetchone()
    return float(x), float(y)


def _tile_at(x3857: float, y3857: float, z: int) -> tuple[int, int, int]:
    half = 20037508.342789244
    n = 1 << z
    return z, int((x3857 + half) / (2 * half) * n), int((half - y3857) / (2 * half) * n)


def _around(z: int, x: int, y: int) -> list[tuple[int, int, int]]:
    """The tile and its eight neighbours: what one screen of map asks for."""
    return [(z, x + dx, y + dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


# --- timing helpers --------------------------------------------------------------------------


@dataclass
class TileFigures:
    median_ms: float
    worst_ms: float
    largest_bytes: int


def _time_tiles(fetch: Callable[[tuple[int, int, int]], bytes], tiles, repeat: int) -> TileFigures:
    """Median over every (tile, repeat) of fetch time; the slowest tile's median; largest tile."""
    per_tile, largest = [], 0
    for tile in tiles:
        for _ in range(2):
            fetch(tile)  # warm
        laps = []
        for _ in range(repeat):
            started = time.perf_counter()
            content = fetch(tile)
            laps.append(time.perf_counter() - started)
            largest = max(largest, len(content))
        per_tile.append(laps)
    medians = [statistics.median(laps) * 1000 for laps in per_tile]
    all_laps = [lap * 1000 for laps in per_tile for lap in laps]
    return TileFigures(statistics.median(all_laps), max(medians), largest)


def _http_tile(client, kind: str) -> Callable[[tuple[int, int, int]], bytes]:
    def fetch(tile: tuple[int, int, int]) -> bytes:
        z, x, y = tile
        response = client.get(f"/tiles/{kind}/{z}/{x}/{y}.pbf")
        if response.status_code not in (200, 204):
            raise RuntimeError(f"/tiles/{kind}/{z}/{x}/{y}.pbf answered {response.status_code}")
        return response.content

    return fetch


def _raw_tile(conn: psycopg.Connection, sql: str) -> Callable[[tuple[int, int, int]], bytes]:
    def fetch(tile: tuple[int, int, int]) -> bytes:
        z, x, y = tile
        return conn.execute(sql, {"z": z, "x": x, "y": y}).fetchone()[0] or b""

    return fetch


# --- rows ------------------------------------------------------------------------------------


@row("areas-api", "GET /api/areas/: every area with its figures, against a raw recount")
def areas_api(context: BenchContext) -> list[Result]:
    _ensure_figures()
    client = _client()
    results = []
    with databases.connect(context.county.database) as conn:
        raw = median_seconds(lambda i: conn.execute(RAW_FIGURES_SQL).fetchall(), repeat=7, warmup=1)
    for query, label in (("", "full boundaries"), ("?simplify=5", "simplified 5 m (the map)")):
        sizes = []

        def fetch(i: int, query=query, sizes=sizes) -> None:
            response = client.get(f"/api/areas/{query}")
            if response.status_code != 200:
                raise RuntimeError(f"/api/areas/{query} answered {response.status_code}")
            sizes.append(len(response.content))

        seconds = median_seconds(fetch, repeat=15, warmup=2)
        results.append(
            Result(
                name=f"GET /api/areas/{query} — {label}",
                unit="ms",
                value=seconds * 1000,
                raw_value=raw * 1000,
                goal=Goal(maximum=50),
                raw_label="GROUP BY recount of all areas over every address",
                note=f"{context.county.areas:,} areas, {max(sizes) / 1e6:.1f} MB",
            )
        )
    return results


def _oanm_point_tile_sql(z: int) -> str:
    """The SQL oanm's address tile runs at zoom z (from POINTS_FROM_ZOOM)."""
    from gis_core import tiles

    return tiles._LABELLED_POINTS_SQL if z >= tiles.LABELS_FROM_ZOOM else tiles._POINTS_SQL


@row("address-tiles", "address vector tiles z8–z16 over the densest part of the county")
def address_tiles(context: BenchContext) -> list[Result]:
    client = _client()
    results = []
    with databases.connect(context.county.database) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        x3857, y3857 = _densest_point(conn)
        for z in TILE_ZOOMS:
            tiles = _around(*_tile_at(x3857, y3857, z))
            say(f"  z{z}: {len(tiles)} tiles")
            ours = _time_tiles(_http_tile(client, "addresses"), tiles, TILE_REPEAT)
            points = z >= POINTS_FROM_ZOOM
            bare = (
                _time_tiles(_raw_tile(conn, RAW_ADDRESS_TILE_SQL), tiles, TILE_REPEAT)
                if points
                else None
            )
            results.append(
                Result(
                    name=f"address tile z{z}, served",
                    unit="ms",
                    value=ours.median_ms,
                    raw_value=bare.median_ms if bare else None,
                    goal=Goal(maximum=50),
                    raw_label="bare ST_AsMVT of the points (geometry and id)" if bare else "",
                    note=f"slowest tile {ours.worst_ms:.1f} ms, largest"
                    f" {ours.largest_bytes / 1e3:.0f} KB"
                    + (
                        "; the request's fixed cost (session, user, view) dominates"
                        if bare
                        else "; grid cells from the kept pyramid"
                    ),
                )
            )
            results.append(
                Result(
                    name=f"address tile z{z}, largest",
                    unit="KB",
                    value=ours.largest_bytes / 1e3,
                    raw_value=bare.largest_bytes / 1e3 if bare else None,
                    goal=Goal(maximum=500),
                    raw_label="bare points tile" if bare else "",
                )
            )
            if bare:
                sql = _time_tiles(_raw_tile(conn, _oanm_point_tile_sql(z)), tiles, TILE_REPEAT)
                results.append(
                    Result(
                        name=f"address tile z{z}, its SQL",
                        unit="ms",
                        value=sql.median_ms,
                        raw_value=bare.median_ms,
                        goal=Goal(max_ratio=1.3),
                        raw_label="bare ST_AsMVT of the points (geometry and id)",
                        note="oanm's tile statement (status, premises, units, area"
                        + (", label)" if z >= 15 else ")"),
                    )
                )
    return results


@row("area-tiles", "area vector tiles z8–z16 with figures")
def area_tiles(context: BenchContext) -> list[Result]:
    _ensure_figures()
    client = _client()
    results = []
    with databases.connect(context.county.database) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        x3857, y3857 = _densest_point(conn)
        for z in TILE_ZOOMS:
            tiles = _around(*_tile_at(x3857, y3857, z))
            ours = _time_tiles(_http_tile(client, "areas"), tiles, TILE_REPEAT)
            raw = _time_tiles(_raw_tile(conn, RAW_AREA_TILE_SQL), tiles, TILE_REPEAT)
            results.append(
                Result(
                    name=f"area tile z{z}",
                    unit="ms",
                    value=ours.median_ms,
                    raw_value=raw.median_ms,
                    goal=Goal(maximum=20),
                    raw_label="bare ST_AsMVT of the boundaries",
                    note=f"slowest tile {ours.worst_ms:.1f} ms, largest"
                    f" {ours.largest_bytes / 1e3:.0f} KB",
                )
            )
    return results


# --- the split -------------------------------------------------------------------------------

# The areas nearest the busiest spot, enough of them to hold SPLIT_ADDRESSES addresses.
_NEIGHBOURS_SQL = """
SELECT area.id, count(address.id)
  FROM areas_area AS area
  JOIN gis_core_address AS address ON address.area_id = area.id
 WHERE area.is_active
 GROUP BY area.id
 ORDER BY min(ST_Centroid(area.boundary_3857) <-> ST_Point(%(x)s, %(y)s, 3857)), area.id
 LIMIT 40
"""

# The raw split: cut the area through its centroid, write the two halves, move its addresses.
RAW_SPLIT_SQL = """
WITH area AS (
    SELECT id, boundary, ST_Centroid(boundary) AS centre, ST_Envelope(boundary) AS box
      FROM areas_area WHERE id = %(area)s
), part AS (
    SELECT (ST_Dump(ST_Split(area.boundary, ST_MakeLine(
               ST_Point(ST_X(area.centre), ST_YMin(area.box) - 1, 4326),
               ST_Point(ST_X(area.centre), ST_YMax(area.box) + 1, 4326))))).geom AS boundary
      FROM area
), child AS (
    INSERT INTO areas_area (name, code, boundary, phase, is_active, target_take_rate,
                            deploys_at_target, attributes, created_at, updated_at)
    SELECT 'raw ' || row_number() OVER (), 'raw-split-' || row_number() OVER (),
           ST_Multi(boundary), 'planning', true, 0.4, false, '{}', now(), now()
      FROM part
    RETURNING id, boundary
)
UPDATE gis_core_address AS address
   SET area_id = child.id
  FROM child
 WHERE address.area_id = %(area)s AND ST_Intersects(child.boundary, address.location)
"""


def _big_area(x3857: float, y3857: float):
    """An active area of at least SPLIT_ADDRESSES addresses: neighbouring areas merged into one.

    Written inside the caller's transaction (rolled back afterwards), through the services a
    planner would use: the merged areas are retired, the new one takes their addresses.
    """
    from django.db import connection

    from areas.models import Area
    from areas.services import area_create

    with connection.cursor() as cursor:
        cursor.execute(_NEIGHBOURS_SQL, {"x": x3857, "y": y3857})
        picked, total = [], 0
        for area_id, addresses in cursor.fetchall():
            picked.append(area_id)
            total += addresses
            if total >= SPLIT_ADDRESSES:
                break
        cursor.execute(
            "SELECT ST_AsEWKT(ST_Multi(ST_Union(boundary))) FROM areas_area WHERE id = ANY(%s)",
            [picked],
        )
        (boundary,) = cursor.fetchone()
    Area.objects.filter(pk__in=picked).update(is_active=False)
    return area_create(name="Bench merged area", code="bench-merged", boundary=boundary), total


@row("split", f"split an area of {SPLIT_ADDRESSES:,} addresses in half, with everything it updates")
def split(context: BenchContext) -> list[Result]:
    from django.db import connection, transaction

    from areas.services import area_split

    ours, raw, addresses = [], [], 0
    with databases.connect(context.county.database) as conn:
        x3857, y3857 = _densest_point(conn)
    for attempt in range(max(3, context.repeat)):
        for side in ("oanm", "raw"):
            with transaction.atomic():
                area, addresses = _big_area(x3857, y3857)
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE gis_core_address")
                started = time.perf_counter()
                if side == "oanm":
                    area_split(area=area, mode="half", axis="north-south", reason="bench")
                    ours.append(time.perf_counter() - started)
                else:
                    with connection.cursor() as cursor:
                        cursor.execute(RAW_SPLIT_SQL, {"area": area.pk})
                    raw.append(time.perf_counter() - started)
                transaction.set_rollback(True)
        say(f"  attempt {attempt + 1}: oanm {ours[-1] * 1000:.0f} ms, raw {raw[-1] * 1000:.0f} ms")
    return [
        Result(
            name=f"split an area of {addresses:,} addresses in half",
            unit="ms",
            value=statistics.median(ours) * 1000,
            raw_value=statistics.median(raw) * 1000,
            goal=Goal(maximum=500),
            raw_label="ST_Split + INSERT of the halves + UPDATE of the addresses",
            note="children, history, relinked addresses, figures, tile pyramid, events",
        )
    ]
