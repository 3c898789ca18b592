"""Rows of the IQGeo address import (issue 8): 100,000 features over loopback, then 1 % changed.

- `iqgeo` → two results:
  - **full**: `integrations.iqgeo.importer.sync_iqgeo(full=True)` of 100,000 address features
    served by the IQGeo simulator, in process, on 127.0.0.1 (login, limit/offset paging over
    HTTP, JSON, mapping, per-page upsert with its run record), into empty address tables.
    Against raw SQL: the same rows, already mapped and in EPSG:4326, COPYed into a temporary
    table and written by one `INSERT … SELECT` into the addresses and one into their external
    references, in one transaction (what storing them costs the database, no HTTP).
  - **incremental**: 1,000 of the 100,000 features changed in the simulator since (half moved
    by a few metres, half given a new house number), then `sync_iqgeo()` (incremental: only
    the features changed since the last run's high-water mark). Against raw SQL: those 1,000
    rows COPYed into a temporary table and one `UPDATE … FROM` of the addresses.

The features are synthetic: a town of 20 districts (a postcode each) of 20 streets of 250
addresses, on a 12 m plot grid with a little jitter, in the county's region (so the import
links them to the county's areas), with house-number letters, ranges and flats, and one
extra IQGeo property (`locality`) read into the addresses' attributes.

Where: a scratch database `<county>_iqgeo`, freshly migrated with the county's 2,000 areas and
no addresses (made as the `import` row makes its own), dropped at the end.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from typing import Any

import psycopg

from bench import county, databases
from bench.registry import BenchContext, Goal, Result, row
from bench.timing import say, step

FEATURES = int(os.environ.get("BENCH_IQGEO_FEATURES", 100_000))  # fewer: a quick try
CHANGED_SHARE = 0.01
PAGE_SIZE = int(os.environ.get("BENCH_IQGEO_PAGE_SIZE", 0)) or None  # None: the setting's
SEED = 8
EXTRA_PROPERTIES = ["locality"]

# The town: districts of STREETS streets of PER_STREET addresses (odd numbers north of the
# street, even south), 12 m plots, streets 52 m apart, districts 1.6 × 1.1 km, 5 a row.
PER_STREET = 250
STREETS = 20
DISTRICTS_PER_ROW = 5
ORIGIN = (13.30, 52.05)  # south-west corner, inside the county (lon 12.5–14.5, lat 51.5–53)
METRES_PER_DEGREE_LAT = 111_320.0
METRES_PER_DEGREE_LON = 68_480.0  # at 52.05° N
CITY = "Neustadt an der Spree"
DISTRICT_NAMES = [
    "Mitte", "Nord", "Süd", "Ost", "West", "Altstadt", "Neustadt", "Bahnhofsviertel",
    "Gartenstadt", "Am See", "Heide", "Feldmark", "Kietz", "Vorstadt", "Rosenthal",
    "Lindenau", "Birkenhain", "Mühlenberg", "Schlossviertel", "Hafen",
]  # fmt: skip
STREET_SUFFIXES = ["straße", "weg", "allee", "ring", "damm", "gasse", "steig", "pfad"]

ADDRESS_TABLE = "gis_core_address"
REFERENCE_TABLE = "gis_core_externalreference"
RAW_IMPORT_ID = "00000000-0000-4000-8000-00000000a9e0"
STAGE_COLUMNS = (
    "external_id", "street", "house_number", "unit", "postcode", "city", "country",
    "attributes", "location",
)  # fmt: skip


def town_features(count: int = FEATURES, seed: int = SEED) -> list[dict[str, Any]]:
    """`count` IQGeo address features (geometry in EPSG:4326, IQGeo property names)."""
    rng = random.Random(seed)
    lon0, lat0 = ORIGIN
    features = []
    for index in range(count):
        street_index, plot = divmod(index, PER_STREET)
        district, street_in_district = divmod(street_index, STREETS)
        row_of, column_of = divmod(district, DISTRICTS_PER_ROW)
        number = plot + 1
        x = column_of * 1600 + 20 + (plot // 2) * 12 + rng.uniform(-2, 2)
        y = row_of * 1100 + 40 + street_in_district * 52 + (8 if number % 2 else -8)
        y += rng.uniform(-2, 2)
        stem = county.STREET_STEMS[street_index % len(county.STREET_STEMS)]
        suffix = STREET_SUFFIXES[(street_index // len(county.STREET_STEMS)) % len(STREET_SUFFIXES)]
        properties: dict[str, Any] = {
            "streetName": f"{stem}{suffix}",
            "streetNr": str(number),
            "streetNrSuffix": "a" if number % 23 == 0 else "",
            "streetNrLast": str(number + 2) if number % 37 == 0 else "",
            "streetNrLastSuffix": "",
            "postcode": str(15230 + district),
            "city": CITY,
            "locality": DISTRICT_NAMES[district % len(DISTRICT_NAMES)],
            "country": "DE",
            "unit": f"Whg. {number % 7 + 1}" if number % 41 == 0 else "",
        }
        features.append(
            {
                "geometry": {
                    "type": "Point",
                    "coordinates": [
                        round(lon0 + x / METRES_PER_DEGREE_LON, 7),
                        round(lat0 + y / METRES_PER_DEGREE_LAT, 7),
                    ],
                },
                "properties": properties,
            }
        )
    return features


def _house_number(properties: dict[str, Any]) -> str:
    first = properties["streetNr"] + properties["streetNrSuffix"]
    last = properties["streetNrLast"] + properties["streetNrLastSuffix"]
    return f"{first}-{last}" if last else first


def _copy_text(features: list[dict[str, Any]]) -> bytes:
    """The features as COPY text in STAGE_COLUMNS, mapped as the importer maps them."""
    import json

    def clean(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    lines = []
    for feature in features:
        p = feature["properties"]
        x, y = feature["geometry"]["coordinates"]
        values = [
            str(feature["id"]),
            p["streetName"],
            _house_number(p),
            p["unit"],
            p["postcode"],
            p["city"],
            p["country"],
            json.dumps({name: p[name] for name in EXTRA_PROPERTIES if p.get(name)}),
            f"SRID=4326;POINT({x!r} {y!r})",
        ]
        lines.append("\t".join(clean(value) for value in values))
    return ("\n".join(lines) + "\n").encode()


RAW_STAGE_SQL = """
CREATE TEMP TABLE bench_iqgeo_stage (
    external_id text, street text, house_number text, unit text, postcode text, city text,
    country text, attributes jsonb, location geometry(Point, 4326)
) ON COMMIT DROP
"""
RAW_FULL_SQL = [
    f"""
    INSERT INTO {ADDRESS_TABLE}
           (id, created_at, updated_at, location, street, house_number, unit, postcode, city,
            country, premises_type, units, status, attributes, last_import_id)
    SELECT stage.id, now(), now(), location, street, house_number, unit, postcode, city,
           country, 'single_family', 1, 'planned', attributes, '{RAW_IMPORT_ID}'::uuid
      FROM bench_iqgeo_ids AS stage
    """,
    f"""
    INSERT INTO {REFERENCE_TABLE} (system, external_id, address_id)
    SELECT 'iqgeo', external_id, id FROM bench_iqgeo_ids
    """,
]
RAW_UPDATE_SQL = f"""
UPDATE {ADDRESS_TABLE} AS address
   SET street = stage.street, house_number = stage.house_number, unit = stage.unit,
       postcode = stage.postcode, city = stage.city, country = stage.country,
       location = stage.location, attributes = address.attributes || stage.attributes,
       updated_at = now(), last_import_id = '{RAW_IMPORT_ID}'::uuid
  FROM bench_iqgeo_stage AS stage
  JOIN {REFERENCE_TABLE} AS reference
    ON reference.system = 'iqgeo' AND reference.external_id = stage.external_id
 WHERE address.id = reference.address_id
"""


def _raw_full(conn: psycopg.Connection, text: bytes) -> tuple[float, int]:
    """COPY the mapped rows into a temporary table, give them ids, INSERT … SELECT them into
    the addresses and their references; one transaction, commit included."""
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(RAW_STAGE_SQL)
        with conn.cursor().copy(
            f"COPY bench_iqgeo_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
        ) as copy:
            copy.write(text)
        conn.execute(
            "CREATE TEMP TABLE bench_iqgeo_ids ON COMMIT DROP AS"
            f" SELECT nextval(pg_get_serial_sequence('{ADDRESS_TABLE}', 'id')) AS id, *"
            " FROM bench_iqgeo_stage"
        )
        rows = 0
        for statement in RAW_FULL_SQL:
            rows = max(rows, conn.execute(statement).rowcount)
    return time.perf_counter() - started, rows


def _raw_update(conn: psycopg.Connection, text: bytes) -> tuple[float, int]:
    """COPY the changed rows into a temporary table and UPDATE … FROM the addresses."""
    started = time.perf_counter()
    with conn.transaction():
        conn.execute(RAW_STAGE_SQL)
        with conn.cursor().copy(
            f"COPY bench_iqgeo_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
        ) as copy:
            copy.write(text)
        rows = conn.execute(RAW_UPDATE_SQL).rowcount
    return time.perf_counter() - started, rows


def _empty(conn: psycopg.Connection) -> None:
    conn.execute(
        f"TRUNCATE {ADDRESS_TABLE}, {REFERENCE_TABLE}, gis_core_addressstatuschange,"
        " integrations_sync_run RESTART IDENTITY CASCADE"
    )
    conn.execute("VACUUM ANALYZE")
    conn.execute("CHECKPOINT")


def _change(
    simulator, features: list[dict[str, Any]], share: float, *, shift: int = 0
) -> list[int]:
    """Change every (1/share)-th feature (from a start `shift` moves, so each repeat changes
    others): half moved by ~5 m, half given a new house-number letter."""
    step_size = round(1 / share)
    changed = []
    first = (step_size // 2 + 7 * shift) % step_size + 1
    for number, feature_id in enumerate(range(first, len(features) + 1, step_size)):
        feature = features[feature_id - 1]
        if number % 2:
            x, y = feature["geometry"]["coordinates"]
            simulator.update(
                feature_id,
                geometry={"type": "Point", "coordinates": [round(x + 0.00007, 7), y]},
            )
        else:
            simulator.update(feature_id, streetNrSuffix="b")
        changed.append(feature_id)
    return changed


def _laps_note(laps: list[float], repeat: int) -> str:
    if repeat <= 1:
        return ""
    each = ", ".join(f"{seconds:.2f}" for seconds in laps)
    return f"; best of {repeat} ({each} s; median {statistics.median(laps):.2f} s)"


@row("iqgeo", "IQGeo sync from the simulator on loopback: 100k features, then 1 % changed")
def iqgeo_sync(context: BenchContext) -> list[Result]:
    from django.conf import settings
    from django.test import override_settings

    from bench.spine import scratch_database
    from integrations.iqgeo.importer import sync_iqgeo
    from integrations.iqgeo.simulator import IQGeoSimulator, IQGeoSimulatorServer

    with step(f"iqgeo: {FEATURES:,} synthetic town features"):
        seed = town_features(FEATURES)
        simulator = IQGeoSimulator(seed)
        served = [{**f, "id": s["id"]} for f, s in zip(seed, simulator.features, strict=True)]
        full_text = _copy_text(served)
    server = IQGeoSimulatorServer(simulator).start()
    scratch = scratch_database(context, "iqgeo")
    configured = override_settings(
        USE_IQGEO=True,
        IQGEO_BASE_URL=server.url,
        IQGEO_USER=simulator.user,
        IQGEO_PASSWORD=simulator.password,
        IQGEO_EXTRA_PROPERTIES=EXTRA_PROPERTIES,
    )
    laps: dict[str, list[float]] = {"raw": [], "oanm": []}
    try:
        with configured:
            for attempt in range(context.repeat):
                with databases.connect(scratch) as conn:
                    _empty(conn)
                    seconds, written = _raw_full(conn, full_text)
                    laps["raw"].append(seconds)
                    say(f"  iqgeo: raw COPY + INSERT … SELECT of {written:,} rows: {seconds:.1f} s")
                    _empty(conn)
                with (
                    databases.use_database(scratch),
                    step(f"iqgeo ({attempt + 1}/{context.repeat}): sync_iqgeo(full=True)") as lap,
                ):
                    simulator.log.clear()
                    full = sync_iqgeo(full=True, page_size=PAGE_SIZE)
                    full_requests = len(simulator.log)
                laps["oanm"].append(lap.seconds)
            incremental_laps: list[float] = []
            raw_update_laps: list[float] = []
            for attempt in range(context.repeat):
                changed = _change(simulator, served, CHANGED_SHARE, shift=attempt)
                changed_ids = set(changed)
                with databases.connect(scratch) as conn:
                    conn.execute("VACUUM ANALYZE")
                    conn.execute("CHECKPOINT")
                with (
                    databases.use_database(scratch),
                    step(
                        f"iqgeo ({attempt + 1}/{context.repeat}): sync_iqgeo() with"
                        f" {len(changed):,} features changed"
                    ) as lap,
                ):
                    incremental = sync_iqgeo(page_size=PAGE_SIZE)
                incremental_laps.append(lap.seconds)
                changed_text = _copy_text([f for f in simulator.features if f["id"] in changed_ids])
                with databases.connect(scratch) as conn:
                    seconds, raw_updated = _raw_update(conn, changed_text)
                raw_update_laps.append(seconds)
    finally:
        server.stop()
        databases.drop_database(scratch)

    best, best_raw = min(laps["oanm"]), min(laps["raw"])
    incremental_seconds, raw_update_seconds = min(incremental_laps), min(raw_update_laps)
    page_size = PAGE_SIZE or settings.IQGEO_PAGE_SIZE
    full_result = Result(
        name=f"IQGeo import {FEATURES // 1000}k (full, loopback)",
        unit="features/s",
        higher_is_better=True,
        value=full.created / best,
        seconds=best,
        raw_value=FEATURES / best_raw,
        raw_seconds=best_raw,
        goal=Goal(minimum=5_000),
        raw_label=(
            "the same rows already mapped, COPY into a temp table, INSERT … SELECT into the"
            " addresses and their references, one transaction"
        ),
        note=(
            f"{full.fetched:,} fetched in pages of {page_size:,} ({full_requests:,} requests),"
            f" {full.created:,} created, {full.rejected:,} rejected"
            + _laps_note(laps["oanm"], context.repeat)
        ),
        details={
            "features": FEATURES,
            "oanm_seconds_each": [round(s, 2) for s in laps["oanm"]],
            "raw_seconds_each": [round(s, 2) for s in laps["raw"]],
            "run_duration_seconds": round(full.duration_seconds, 2),
            "requests": full_requests,
        },
    )
    if full.created != FEATURES or full.rejected or full.status != "succeeded":
        full_result.error = (
            f"{full.status}: created {full.created:,} of {FEATURES:,},"
            f" rejected {full.rejected:,} {full.errors[:1]}"
        )
    incremental_result = Result(
        name=f"IQGeo incremental ({len(changed):,} of {FEATURES // 1000}k changed)",
        unit="s",
        value=incremental_seconds,
        raw_value=raw_update_seconds,
        goal=Goal(maximum=5),
        raw_label="the changed rows already mapped, COPY into a temp table, one UPDATE … FROM",
        note=(
            f"{incremental.mode}: {incremental.fetched:,} fetched, {incremental.updated:,}"
            f" updated, {incremental.unchanged:,} unchanged"
            + _laps_note(incremental_laps, context.repeat)
        ),
        details={
            "changed": len(changed),
            "fetched": incremental.fetched,
            "updated": incremental.updated,
            "raw_updated": raw_updated,
            "oanm_seconds_each": [round(s, 2) for s in incremental_laps],
            "raw_seconds_each": [round(s, 2) for s in raw_update_laps],
        },
    )
    if incremental.updated != len(changed) or incremental.mode != "incremental":
        incremental_result.error = (
            f"{incremental.mode} {incremental.status}: updated {incremental.updated:,}"
            f" of {len(changed):,} changed"
        )
    return [full_result, incremental_result]
