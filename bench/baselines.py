"""Informational rows: the physical limits of STACK.md, measured on the county in this run.

No goal: they show what PostgreSQL/PostGIS itself costs here, so oanm's figures (and later
rows) can be read against them. Medians over warm runs.
"""

from __future__ import annotations

import random
import statistics
import time

from bench import county, databases
from bench.registry import BenchContext, Result, row
from bench.timing import median_seconds, step

POINT_IN_AREA_SQL = (
    "SELECT id FROM areas_area"
    " WHERE ST_Intersects(boundary, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) LIMIT 1"
)
LOOKUPS_IN_DATABASE = 20_000
LOOKUPS_FROM_PYTHON = 2_000


def _points(count: int, seed: int = 42) -> list[tuple[float, float]]:
    """Deterministic points spread over the county."""
    rng = random.Random(seed)
    return [
        (rng.uniform(county.WEST, county.EAST), rng.uniform(county.SOUTH, county.NORTH))
        for _ in range(count)
    ]


def _in_database_lookup_sql(count: int) -> str:
    lon = f"{county.WEST} + {county.EAST - county.WEST} * {county.uniform('g', 71)}"
    lat = f"{county.SOUTH} + {county.NORTH - county.SOUTH} * {county.uniform('g', 72)}"
    return f"""
SELECT count(hit.id) FROM generate_series(1, {count}) AS g
 CROSS JOIN LATERAL (
     SELECT id FROM areas_area
      WHERE ST_Intersects(boundary, ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326))
      LIMIT 1) AS hit
"""


@row("baselines", "raw SQL micro-baselines on the county (STACK.md)")
def baselines(context: BenchContext) -> list[Result]:
    from django.contrib.gis.geos import Point

    from areas.models import Area

    results = []
    points = _points(LOOKUPS_FROM_PYTHON)
    with databases.connect(context.county.database) as conn, step("baselines"):
        # Which area contains a point: N lookups in one statement, per lookup.
        statement = _in_database_lookup_sql(LOOKUPS_IN_DATABASE)
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            conn.execute(statement).fetchone()
            runs.append(time.perf_counter() - started)
        results.append(
            Result(
                name="area of a point, in the database",
                unit="ms",
                raw_value=statistics.median(runs[1:]) / LOOKUPS_IN_DATABASE * 1000,
                raw_label=f"{LOOKUPS_IN_DATABASE:,} GiST lookups in one statement, per lookup",
            )
        )

        with conn.cursor() as cursor:

            def psycopg_lookup(i: int) -> None:
                cursor.execute(POINT_IN_AREA_SQL, points[i % len(points)])
                cursor.fetchone()

            seconds = median_seconds(psycopg_lookup, repeat=LOOKUPS_FROM_PYTHON, warmup=20)
        results.append(
            Result(
                name="area of a point, psycopg 3 round trip",
                unit="ms",
                raw_value=seconds * 1000,
                raw_label="one query per point (median)",
            )
        )

        def orm_lookup(i: int) -> None:
            x, y = points[i % len(points)]
            Area.objects.filter(boundary__intersects=Point(x, y, srid=4326)).values_list(
                "id", flat=True
            ).first()

        seconds = median_seconds(orm_lookup, repeat=LOOKUPS_FROM_PYTHON, warmup=20)
        results.append(
            Result(
                name="area of a point, Django ORM round trip",
                unit="ms",
                raw_value=seconds * 1000,
                raw_label="Area.objects.filter(boundary__intersects=point) (median)",
            )
        )

        seconds = median_seconds(
            lambda _: conn.execute(
                "SELECT area_id, count(*) FROM gis_core_address GROUP BY area_id"
            ).fetchall(),
            repeat=7,
            warmup=2,
        )
        results.append(
            Result(
                name=f"per-area counts, {context.county.addresses:,} addresses",
                unit="ms",
                raw_value=seconds * 1000,
                raw_label="SELECT area_id, count(*) FROM gis_core_address GROUP BY area_id",
            )
        )

        seconds = median_seconds(
            lambda _: conn.execute(
                "SELECT count(*) FROM gis_core_address a"
                " JOIN areas_area ar ON ST_Intersects(ar.boundary, a.location)"
            ).fetchone(),
            repeat=3,
            warmup=1,
        )
        results.append(
            Result(
                name="assignment join alone (no UPDATE)",
                unit="s",
                raw_value=seconds,
                raw_label="SELECT count(*) … JOIN areas_area ar ON ST_Intersects(…)",
            )
        )
    databases.close_django_connections()
    return results
