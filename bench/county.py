"""The synthetic county: 1,000,000 addresses in 2,000 areas, in Brandenburg, built by SQL alone.

Everything is a pure function of row numbers: pseudo-random values come from
`hashint8extended(row, salt)`, so every build produces the same rows, whatever the plan or
the number of workers. The build is a handful of `INSERT … SELECT` statements over
`generate_series`; no row passes through Python.

The county:
- areas: a 50 × 40 grid over lon 12.5–14.5, lat 51.5–53.0, every cell an 8-vertex polygon
  whose corners and edge midpoints are jittered and shared with its neighbours, so the areas
  tile the county without gaps or overlaps; phases spread over the four phases (with their
  history rows), each named after its nearest settlement;
- settlements: 24 towns (Zipf-sized), 360 villages and 1,600 hamlets, each with its own
  name, postcodes (one per ~6,000 addresses, 14001…) and streets;
- addresses: placed around their settlement (Rayleigh-distributed radius, one angular slot
  per street), so towns are dense and the countryside sparse; house numbers with letters
  ("12a", "3 B") and ranges ("1-15"); MDUs with 2–48 units and single flats ("Whg. 4");
  mostly `planned`, a tenth further along the lifecycle (with history rows); each with an
  external reference (`bench`, `bench-0000001`) and its area already linked.

The database keeps a marker row (`bench_county`) with the generator's VERSION: the county is
reused while it matches; bump VERSION whenever the generated rows change.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from tqdm import tqdm

from bench import databases
from bench.timing import say, step

VERSION = 1
ADDRESSES = 1_000_000
COLUMNS, ROWS = 50, 40  # 2,000 areas
WEST, EAST, SOUTH, NORTH = 12.5, 14.5, 51.5, 53.0
EXTERNAL_SYSTEM = "bench"
EPOCH = "2026-01-01 00:00:00+00"  # every generated timestamp is relative to this

CACHE = Path(__file__).resolve().parent / ".cache"

PHASES = ["planning", "demand_aggregation", "in_deployment", "live"]
STATUSES = ["planned", "awaiting_deployment", "in_deployment", "connected", "activated"]

SETTLEMENT_PREFIXES = [
    "", "Alt ", "Neu ", "Groß ", "Klein ", "Wendisch ", "Königs ", "Ober ", "Nieder ", "Markt ",
]  # fmt: skip
SETTLEMENT_STEMS = [
    "Linden", "Birken", "Eichen", "Buchen", "Wald", "Fried", "Lieben", "Mühl", "Stein", "Rosen",
    "Schön", "Falken", "Wuster", "Zos", "Prit", "Lüb", "Kot", "Wil", "Gör", "Stra",
    "Treb", "Beel", "Jüter", "Lucken", "Zehde", "Sperl", "Bies", "Dahl", "Frauen", "Sonnen",
]  # fmt: skip
SETTLEMENT_ENDINGS = [
    "berg", "dorf", "hagen", "felde", "au", "witz", "ow", "in", "see", "walde",
    "hausen", "thal", "burg", "hof", "rode",
]  # fmt: skip
STREET_STEMS = [
    "Linden", "Birken", "Eichen", "Buchen", "Kiefern", "Ahorn", "Erlen", "Eschen", "Pappel",
    "Weiden", "Rosen", "Tulpen", "Nelken", "Flieder", "Holunder", "Goethe", "Schiller", "Fontane",
    "Lessing", "Heine", "Kleist", "Humboldt", "Bahnhof", "Kirch", "Schul", "Dorf", "Mühlen",
    "Berg", "Wald", "Feld", "Wiesen", "Garten", "Sonnen", "Friedens", "Park", "Markt", "Post",
    "Hafen", "Brunnen", "Schloss", "Burg", "Teich", "Seen", "Heide", "Luch", "Anger", "Rathaus",
    "Forst", "Jäger", "Fischer", "Bauern", "Weber", "Müller", "Schmiede", "Ziegel", "Kanal",
    "Spree", "Havel", "Oder", "Elster",
]  # fmt: skip
# (suffix, takes a masculine adjective: "Alter Lindenweg" but "Alte Lindenstraße")
STREET_SUFFIXES = [
    ("straße", False), ("weg", True), ("allee", False), ("ring", True), ("damm", True),
    ("gasse", False), ("steig", True), ("pfad", True), ("zeile", False), ("promenade", False),
]  # fmt: skip
STREET_PREFIXES = ["", "Alte", "Neue", "Kleine", "Große", "Obere", "Untere", "Hintere"]
STREET_NAMES = len(STREET_STEMS) * len(STREET_SUFFIXES) * len(STREET_PREFIXES)  # per settlement
SETTLEMENT_NAMES = len(SETTLEMENT_PREFIXES) * len(SETTLEMENT_STEMS) * len(SETTLEMENT_ENDINGS)


def uniform(key: str, salt: int) -> str:
    """SQL for a deterministic pseudo-random number in [0, 1) from an integer key and a salt."""
    return f"((hashint8extended(({key})::int8, {salt}) & 2147483647)::float8 / 2147483648.0)"


def _array(values: list[str]) -> str:
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"ARRAY[{quoted}]::text[]"


# --- the statements ---------------------------------------------------------------------------

_CLEAR = """
TRUNCATE gis_core_address, gis_core_externalreference, gis_core_addressstatuschange,
         gis_core_streetname, areas_area, areas_areaphasechange
RESTART IDENTITY CASCADE
"""

# One row per settlement: its size, centre, spread, first address id, streets and postcodes.
_SETTLEMENTS = f"""
DROP TABLE IF EXISTS bench_settlement;
CREATE TEMP TABLE bench_settlement AS
WITH tier (tier, first_k, settlements, share, per_street, margin,
           mdu_share, business_share, flat_share, max_units) AS (
    VALUES ('town',    1,   24,   0.55, 36, 0.12, 0.18, 0.04, 0.03, 48),
           ('village', 25,  360,  0.30, 24, 0.03, 0.05, 0.03, 0.00, 10),
           ('hamlet',  385, 1600, 0.15, 12, 0.02, 0.01, 0.02, 0.00, 4)
), member AS (
    SELECT t.*, t.first_k + r - 1 AS k,
           CASE WHEN t.tier = 'town' THEN 1.0 / power(r, 0.9)
                ELSE 0.5 + {uniform("t.first_k + r - 1", 1)} END AS weight
      FROM tier AS t CROSS JOIN LATERAL generate_series(1, t.settlements) AS r
), sized AS (
    SELECT member.*,
           floor({ADDRESSES} * share * weight / sum(weight) OVER (PARTITION BY tier))::int AS n0
      FROM member
), settled AS (
    SELECT sized.*,
           n0 + CASE WHEN k = 1 THEN {ADDRESSES} - sum(n0) OVER () ELSE 0 END AS n,
           {WEST} + (margin + (1 - 2 * margin) * {uniform("k", 2)}) * {EAST - WEST} AS lon,
           {SOUTH} + (margin + (1 - 2 * margin) * {uniform("k", 3)}) * {NORTH - SOUTH} AS lat,
           (k * 1237) % {SETTLEMENT_NAMES} AS name_key
      FROM sized
), streets AS (
    SELECT settled.*,
           ceil(n::numeric / per_street)::int AS streets,
           ceil(ceil(n::numeric / per_street) / ceil(6000.0 / per_street))::int AS postcodes,
           ceil(6000.0 / per_street)::int AS streets_per_postcode
      FROM settled
)
SELECT k, tier, n, per_street, streets, streets_per_postcode,
       mdu_share, business_share, flat_share, max_units, lon, lat,
       sqrt(n) / 8000.0 AS sigma_lat,
       sqrt(n) / 8000.0 / cos(radians(lat)) AS sigma_lon,
       sum(n) OVER (ORDER BY k) - n AS first_id,
       14001 + sum(postcodes) OVER (ORDER BY k) - postcodes AS first_postcode,
       ({_array(SETTLEMENT_PREFIXES)})[name_key / {len(SETTLEMENT_ENDINGS) * len(SETTLEMENT_STEMS)}
                                       % {len(SETTLEMENT_PREFIXES)} + 1]
       || ({_array(SETTLEMENT_STEMS)})[name_key / {len(SETTLEMENT_ENDINGS)}
                                       % {len(SETTLEMENT_STEMS)} + 1]
       || ({_array(SETTLEMENT_ENDINGS)})[name_key % {len(SETTLEMENT_ENDINGS)} + 1] AS name
  FROM streets;
ANALYZE bench_settlement;
"""

# The grid's vertices on a half-cell lattice (corners and edge midpoints), jittered inside
# their own cell so every cell stays a simple polygon; neighbours share the same vertices.
_AREAS = f"""
WITH vertex AS (
    SELECT i2, j2,
           {WEST} + (i2 / 2.0 + CASE WHEN i2 IN (0, {2 * COLUMNS}) THEN 0
                    ELSE ({uniform("i2 * 1000 + j2", 11)} - 0.5)
                         * CASE WHEN i2 % 2 = 0 AND j2 % 2 = 0 THEN 0.5 ELSE 0.4 END
                    END) * {(EAST - WEST) / COLUMNS} AS x,
           {SOUTH} + (j2 / 2.0 + CASE WHEN j2 IN (0, {2 * ROWS}) THEN 0
                    ELSE ({uniform("i2 * 1000 + j2", 12)} - 0.5)
                         * CASE WHEN i2 % 2 = 0 AND j2 % 2 = 0 THEN 0.5 ELSE 0.4 END
                    END) * {(NORTH - SOUTH) / ROWS} AS y
      FROM generate_series(0, {2 * COLUMNS}) AS i2, generate_series(0, {2 * ROWS}) AS j2
), cell AS (
    SELECT j * {COLUMNS} + i + 1 AS id, i, j
      FROM generate_series(0, {COLUMNS - 1}) AS i, generate_series(0, {ROWS - 1}) AS j
), outline AS (
    SELECT cell.id, cell.i, cell.j,
           ST_MakePolygon(ST_MakeLine(
               ST_MakePoint(round(v.x::numeric, 7)::float8, round(v.y::numeric, 7)::float8)
               ORDER BY corner.k)) AS polygon
      FROM cell
      CROSS JOIN (VALUES (0, 0, 0), (1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 2, 2),
                         (5, 1, 2), (6, 0, 2), (7, 0, 1), (8, 0, 0)) AS corner (k, di, dj)
      JOIN vertex AS v ON v.i2 = 2 * cell.i + corner.di AND v.j2 = 2 * cell.j + corner.dj
     GROUP BY cell.id, cell.i, cell.j
)
INSERT INTO areas_area (id, created_at, updated_at, name, code, boundary, phase,
                        phase_changed_at, parent_id, target_take_rate, is_active, attributes)
SELECT o.id, '{EPOCH}', '{EPOCH}',
       nearest.name || ' ' || upper(code.code),
       'bb-' || code.code,
       ST_SetSRID(ST_Multi(o.polygon), 4326),
       phase.phase,
       CASE WHEN phase.phase = 'planning' THEN NULL
            ELSE timestamptz '{EPOCH}' + interval '30 days' * (array_position(
                 {_array(PHASES)}, phase.phase) - 1) END,
       NULL,
       round((0.30 + 0.20 * {uniform("o.id", 22)})::numeric, 2),
       true,
       jsonb_build_object('bench', true, 'row', o.j, 'column', o.i)
  FROM outline AS o
  CROSS JOIN LATERAL (SELECT 'r' || lpad(o.j::text, 2, '0') || 'c' || lpad(o.i::text, 2, '0')
                      AS code) AS code
  CROSS JOIN LATERAL (SELECT CASE WHEN {uniform("o.id", 21)} < 0.40 THEN 'planning'
                                  WHEN {uniform("o.id", 21)} < 0.70 THEN 'demand_aggregation'
                                  WHEN {uniform("o.id", 21)} < 0.88 THEN 'in_deployment'
                                  ELSE 'live' END AS phase) AS phase
  CROSS JOIN LATERAL (
      SELECT s.name FROM bench_settlement AS s
       ORDER BY (s.lon - ST_X(ST_Centroid(o.polygon))) ^ 2
                + ((s.lat - ST_Y(ST_Centroid(o.polygon))) * 1.6) ^ 2, s.k
       LIMIT 1) AS nearest
 ORDER BY o.id;
SELECT setval(pg_get_serial_sequence('areas_area', 'id'), (SELECT max(id) FROM areas_area));
"""

_AREA_HISTORY = f"""
INSERT INTO areas_areaphasechange (area_id, from_phase, to_phase, actor_id, reason, changed_at)
SELECT a.id, ({_array(PHASES)})[s], ({_array(PHASES)})[s + 1], NULL, 'bench county',
       timestamptz '{EPOCH}' + interval '30 days' * s
  FROM areas_area AS a
 CROSS JOIN LATERAL generate_series(1, array_position({_array(PHASES)}, a.phase) - 1) AS s
 ORDER BY a.id, s
"""

_STREET_KEY = f"((a.street_no + a.k * 13) % {STREET_NAMES})"
_STREET = f"""
    CASE WHEN {_STREET_KEY} / {len(STREET_STEMS) * len(STREET_SUFFIXES)} = 0 THEN ''
         ELSE ({_array(STREET_PREFIXES)})[
                  {_STREET_KEY} / {len(STREET_STEMS) * len(STREET_SUFFIXES)} + 1]
              || CASE WHEN ({_array(["r" if m else "" for _, m in STREET_SUFFIXES])})[
                          {_STREET_KEY} / {len(STREET_STEMS)} % {len(STREET_SUFFIXES)} + 1]
                      = 'r' THEN 'r ' ELSE ' ' END
    END
    || ({_array(STREET_STEMS)})[{_STREET_KEY} % {len(STREET_STEMS)} + 1]
    || ({_array([s for s, _ in STREET_SUFFIXES])})[
           {_STREET_KEY} / {len(STREET_STEMS)} % {len(STREET_SUFFIXES)} + 1]
"""

_ADDRESSES = f"""
INSERT INTO gis_core_address (id, created_at, updated_at, location, street, house_number, unit,
                              postcode, city, country, premises_type, units, status,
                              status_changed_at, area_id, attributes, last_import_id)
SELECT a.id, '{EPOCH}', '{EPOCH}', p.location,
       {_STREET},
       CASE WHEN r.numbering < 0.05 THEN (a.position + 1) || 'a'
            WHEN r.numbering < 0.07 THEN (a.position + 1) || ' B'
            WHEN r.numbering < 0.09
                 THEN (a.position + 1) || '-' || (a.position + 3 + floor(r.span * 13)::int)
            ELSE (a.position + 1)::text END,
       CASE WHEN r.kind >= a.mdu_share + a.business_share
             AND r.kind < a.mdu_share + a.business_share + a.flat_share
            THEN 'Whg. ' || (1 + floor(r.size * 12)::int) ELSE '' END,
       (a.first_postcode + a.street_no / a.streets_per_postcode)::text,
       a.name, 'DE',
       CASE WHEN r.kind < a.mdu_share THEN 'mdu_flat'
            WHEN r.kind < a.mdu_share + a.business_share THEN 'business'
            WHEN r.kind < a.mdu_share + a.business_share + a.flat_share THEN 'mdu_flat'
            ELSE 'single_family' END,
       CASE WHEN r.kind < a.mdu_share THEN 2 + floor(r.size * r.size * (a.max_units - 1))::int
            ELSE 1 END,
       ({_array(STATUSES)})[CASE WHEN r.lifecycle < 0.90 THEN 1 WHEN r.lifecycle < 0.94 THEN 2
                                 WHEN r.lifecycle < 0.97 THEN 3 WHEN r.lifecycle < 0.99 THEN 4
                                 ELSE 5 END],
       CASE WHEN r.lifecycle < 0.90 THEN NULL
            ELSE timestamptz '{EPOCH}' + interval '1 day' * (60 + floor(r.moved * 300)) END,
       (SELECT ar.id FROM areas_area AS ar
         WHERE ar.is_active AND ST_Intersects(ar.boundary, p.location)
         ORDER BY ar.id LIMIT 1),
       '{{}}'::jsonb, NULL
  FROM (
      SELECT s.*, s.first_id + g AS id, (g - 1) / s.per_street AS street_no,
             (g - 1) % s.per_street AS position
        FROM bench_settlement AS s CROSS JOIN LATERAL generate_series(1, s.n) AS g
  ) AS a
  CROSS JOIN LATERAL (
      SELECT {uniform("a.id", 41)} AS kind, {uniform("a.id", 42)} AS size,
             {uniform("a.id", 31)} AS numbering, {uniform("a.id", 32)} AS span,
             {uniform("a.id", 51)} AS lifecycle, {uniform("a.id", 52)} AS moved,
             2 * pi() * (a.street_no + 0.5 + ({uniform("a.id", 61)} - 0.5) * 0.9) / a.streets
                 AS angle,
             sqrt(-2 * ln(1 - 0.995 * {uniform("a.id", 62)})) AS radius
  ) AS r
  CROSS JOIN LATERAL (
      SELECT ST_SetSRID(ST_MakePoint(
          round(least(greatest(a.lon + a.sigma_lon * r.radius * cos(r.angle), {WEST + 1e-5}),
                      {EAST - 1e-5})::numeric, 7)::float8,
          round(least(greatest(a.lat + a.sigma_lat * r.radius * sin(r.angle), {SOUTH + 1e-5}),
                      {NORTH - 1e-5})::numeric, 7)::float8), 4326) AS location
  ) AS p
 ORDER BY a.id;
SELECT setval(pg_get_serial_sequence('gis_core_address', 'id'),
              (SELECT max(id) FROM gis_core_address));
"""

_ADDRESS_HISTORY = f"""
INSERT INTO gis_core_addressstatuschange (address_id, from_status, to_status, actor_id, reason,
                                          changed_at)
SELECT a.id, ({_array(STATUSES)})[s], ({_array(STATUSES)})[s + 1], NULL, 'bench county',
       a.status_changed_at - interval '7 days'
                             * (array_position({_array(STATUSES)}, a.status) - 1 - s)
  FROM gis_core_address AS a
 CROSS JOIN LATERAL generate_series(1, array_position({_array(STATUSES)}, a.status) - 1) AS s
 WHERE a.status <> 'planned'
 ORDER BY a.id, s
"""

_EXTERNAL_REFERENCES = f"""
INSERT INTO gis_core_externalreference (address_id, system, external_id)
SELECT id, '{EXTERNAL_SYSTEM}', 'bench-' || lpad(id::text, 7, '0')
  FROM gis_core_address ORDER BY id
"""

_MARKER = """
CREATE TABLE IF NOT EXISTS bench_county (
    version integer NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now(),
    build_seconds double precision NOT NULL,
    addresses integer NOT NULL,
    areas integer NOT NULL
)
"""

BUILD_STEPS = [
    ("clear", _CLEAR),
    ("settlements", _SETTLEMENTS),
    ("areas", _AREAS),
    ("area history", _AREA_HISTORY),
    ("addresses (with their area)", _ADDRESSES),
    ("address history", _ADDRESS_HISTORY),
    ("external references", _EXTERNAL_REFERENCES),
]


@dataclass(frozen=True)
class County:
    """The county in place: its database and what building (or finding) it took."""

    database: str
    addresses: int
    areas: int
    built: bool
    seconds: float


def _marker(conn: psycopg.Connection) -> tuple[int, int, int] | None:
    exists = conn.execute("SELECT to_regclass('bench_county')").fetchone()
    if not exists or exists[0] is None:
        return None
    row = conn.execute(
        "SELECT version, addresses, areas FROM bench_county ORDER BY built_at DESC LIMIT 1"
    ).fetchone()
    return tuple(row) if row else None


def _counts(conn: psycopg.Connection) -> tuple[int, int]:
    addresses = conn.execute("SELECT count(*) FROM gis_core_address").fetchone()[0]
    areas = conn.execute("SELECT count(*) FROM areas_area").fetchone()[0]
    return addresses, areas


def ensure_county(*, rebuild: bool = False) -> County:
    """The county database, migrated, with the current generator's rows (built if missing)."""
    name = databases.bench_database_name()
    if not databases.database_exists(name):
        with step(f"creating database {name}"):
            databases.create_database(name)
    with step(f"migrating {name}"):
        databases.migrate(name)
    with databases.connect(name) as conn:
        marker = _marker(conn)
        if not rebuild and marker and marker[0] == VERSION:
            addresses, areas = _counts(conn)
            if (addresses, areas) == (marker[1], marker[2]):
                say(
                    f"· county v{VERSION} found in {name}: {addresses:,} addresses, {areas:,} areas"
                )
                return County(name, addresses, areas, built=False, seconds=0.0)
            say(f"· county in {name} was changed ({addresses:,} addresses): rebuilding")
        return _build(conn, name)


def _build(conn: psycopg.Connection, name: str) -> County:
    size = f"{ADDRESSES:,} addresses, {COLUMNS * ROWS:,} areas"
    say(f"· building county v{VERSION} in {name} ({size})")
    started = time.perf_counter()
    with tqdm(total=len(BUILD_STEPS) + 1, desc="county", unit="step") as bar:
        with conn.transaction():
            conn.execute(_MARKER)
            conn.execute("DELETE FROM bench_county")
            conn.execute("SET LOCAL work_mem = '256MB'")
            for label, statement in BUILD_STEPS:
                bar.set_postfix_str(label)
                lap = time.perf_counter()
                conn.execute(statement)
                bar.write(f"  {label}: {time.perf_counter() - lap:.1f} s")
                bar.update()
        bar.set_postfix_str("vacuum analyze")
        lap = time.perf_counter()
        for table in ("areas_area", "gis_core_address", "gis_core_externalreference",
                      "gis_core_addressstatuschange", "areas_areaphasechange"):  # fmt: skip
            conn.execute(f"VACUUM (ANALYZE) {table}")
        bar.write(f"  vacuum analyze: {time.perf_counter() - lap:.1f} s")
        bar.update()
    addresses, areas = _counts(conn)
    invalid = conn.execute("SELECT count(*) FROM areas_area WHERE NOT ST_IsValid(boundary)")
    if invalid.fetchone()[0]:
        raise RuntimeError("the county generator made invalid area boundaries")
    if addresses != ADDRESSES or areas != COLUMNS * ROWS:
        raise RuntimeError(f"the county has {addresses} addresses and {areas} areas")
    seconds = time.perf_counter() - started
    conn.execute(
        "INSERT INTO bench_county (version, build_seconds, addresses, areas)"
        " VALUES (%s, %s, %s, %s)",
        [VERSION, seconds, addresses, areas],
    )
    say(f"  county built in {seconds:.1f} s")
    return County(name, addresses, areas, built=True, seconds=seconds)


# --- files made from the county, for the import row -------------------------------------------


def _pg_source(name: str) -> tuple[str, dict[str, str]]:
    """An OGR PostgreSQL source for `name` and the environment that carries the password."""
    settings = databases.configured_settings()
    parts = [f"dbname={name}"]
    for key, setting in (("host", "HOST"), ("port", "PORT"), ("user", "USER")):
        if settings.get(setting):
            parts.append(f"{key}={settings[setting]}")
    env = dict(os.environ)
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings["PASSWORD"])
    return "PG:" + " ".join(parts), env


# The properties an OSM-style address export carries, from the county's addresses.
EXPORT_SQL = f"""
SELECT e.external_id AS id, a.street, a.house_number AS housenumber,
       NULLIF(a.unit, '') AS unit, a.postcode, a.city, a.country,
       a.premises_type, a.units, a.location
  FROM gis_core_address AS a
  JOIN gis_core_externalreference AS e ON e.address_id = a.id AND e.system = '{EXTERNAL_SYSTEM}'
 ORDER BY a.id
"""


def geojson_path() -> Path:
    """The county's addresses as GeoJSON Sequence (one feature a line), made once."""
    return CACHE / f"county-v{VERSION}-addresses.geojsonl"


def ensure_geojson(county: County, *, rebuild: bool = False) -> Path:
    """Export the county's addresses with ogr2ogr, unless the file for this version exists."""
    path = geojson_path()
    if path.exists() and not rebuild:
        say(f"· reusing {path.name} ({path.stat().st_size / 1e6:,.0f} MB)")
        return path
    CACHE.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    source, env = _pg_source(county.database)
    with step(f"exporting {county.addresses:,} addresses to {path.name} with ogr2ogr"):
        subprocess.run(
            [
                "ogr2ogr",
                "-f",
                "GeoJSONSeq",
                str(partial),
                source,
                "-sql",
                EXPORT_SQL,
                "-nln",
                "addresses",
                "-lco",
                "COORDINATE_PRECISION=7",
            ],
            env=env,
            check=True,
        )
    partial.replace(path)
    return path
