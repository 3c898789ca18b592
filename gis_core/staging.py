"""Load any file GDAL reads into a per-run staging table, for imports done in set-based SQL.

`ogr2ogr` copies the features (with COPY) into an UNLOGGED table in the `import_staging`
schema of the database Django uses: every property as text, the geometry as it is in the
file (its own SRID, not reprojected, so a row that cannot be transformed gets a reason
instead of being dropped), and `ogc_row`, the feature's position in what was read (1 = first).
The importers (`gis_core.importing`, `areas.importing`) validate and upsert from there in SQL.

Also here, shared by both importers and their commands: the `ImportReport`, field mapping,
the console progress bar and the SQL that transforms geometries without failing on one row.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import secrets
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NamedTuple

from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError

from common.errors import DomainError

logger = logging.getLogger(__name__)

STAGING_SCHEMA = "import_staging"
ROW_COLUMN = "ogc_row"
GEOMETRY_COLUMN = "geom"
WGS84 = 4326
# A staging table older than this belongs to a run that died; the next run drops it.
STALE_AFTER = timedelta(hours=6)
# Single-layer formats: no need to open the file twice just to list its layers.
SINGLE_LAYER_SUFFIXES = {
    ".geojson", ".json", ".geojsonl", ".geojsons", ".csv", ".tsv", ".shp", ".fgb",
}  # fmt: skip
CSV_SUFFIXES = {".csv", ".tsv"}
# Where a CSV keeps its coordinates (GDAL's CSV driver looks for these columns).
CSV_X_NAMES = "lon,lng,long,longitude,x,easting"
CSV_Y_NAMES = "lat,latitude,y,northing"
CSV_GEOMETRY_NAMES = "wkt,geometry,geom,the_geom"
DBF_NAME_LENGTH = 10
# A GDAL connection string or virtual path ("PG:…", "OAPIF:…", "/vsizip/…"), not a local file.
NOT_A_LOCAL_FILE = re.compile(r"^(/vsi|[A-Za-z][A-Za-z0-9+.-]+:)")

# (stage, done, total): called as a stage advances; ConsoleProgress draws it.
ProgressCallback = Callable[[str, float, float], None]


class ImportFailed(DomainError):
    """An import that cannot run at all (unreadable file, bad mapping); nothing was changed."""

    code = "import_failed"


class Rejection(NamedTuple):
    """A row an import refused: its position in the file, its key, and why."""

    row: int
    external_id: str
    reason: str


@dataclass
class ImportReport:
    """What an import did: counts per outcome, every rejected row with its reason, the time."""

    import_id: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    elapsed: float = 0.0
    # Rows whose geometry changed: addresses moved, areas reshaped (part of `updated`).
    moved: int = 0
    # Rows stored after repair (areas with make_valid): position, key, what was wrong.
    repaired: list[Rejection] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float:
        return self.read / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        """One line for the console and the logs."""
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.rejected)} rejected of {self.read} rows "
            f"in {self.elapsed:.1f} s ({self.rows_per_second:,.0f} rows/s)"
        )

    def write_rejects(self, path: str | os.PathLike) -> None:
        """Every rejected row as CSV: row, external_id, reason."""
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "external_id", "reason"])
            writer.writerows(self.rejected)


@dataclass(frozen=True)
class StagingTable:
    """A file loaded by ogr2ogr: where it is, its property columns, its SRID, its row count."""

    schema: str
    name: str
    columns: tuple[str, ...]
    srid: int
    rows: int

    @property
    def qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.name)}"


def quote(identifier: str) -> str:
    """A quoted SQL identifier, safe to put in a query that also takes %s parameters."""
    return '"' + identifier.replace('"', '""').replace("%", "%%") + '"'


def parse_mapping(pairs: Iterable[str] | None) -> dict[str, str]:
    """`["street=addr_street", "unit="]` → `{"street": "addr_street", "unit": ""}`."""
    mapping: dict[str, str] = {}
    for pair in pairs or ():
        target, sep, source = pair.partition("=")
        if not sep or not target.strip():
            raise ImportFailed(f"--map takes FIELD=PROPERTY, not {pair!r}", field="map")
        mapping[target.strip()] = source.strip()
    return mapping


def check_mapping_targets(
    mapping: Mapping[str, str] | None, defaults: Mapping[str, tuple[str, ...]]
) -> None:
    """Refuse a mapping to a field the import does not have (before reading the file)."""
    unknown = sorted(set(mapping or {}) - set(defaults))
    if unknown:
        raise ImportFailed(
            f"cannot map {', '.join(unknown)}: the fields are {', '.join(defaults)}", field="map"
        )


def resolve_mapping(
    columns: Iterable[str],
    mapping: Mapping[str, str] | None,
    defaults: Mapping[str, tuple[str, ...]],
) -> dict[str, str | None]:
    """Which file column feeds each target field: the given mapping, else the first default.

    A mapping to "" leaves the field unmapped. Names match exactly, else case-insensitively.
    """
    columns = list(columns)
    by_lower = {}
    for column in columns:
        by_lower.setdefault(column.lower(), column)

    def find(name: str) -> str | None:
        return name if name in columns else by_lower.get(name.lower())

    def find_default(name: str) -> str | None:
        # A Shapefile (DBF) cuts field names to 10 characters: housenumber → housenumbe.
        return find(name) or (find(name[:DBF_NAME_LENGTH]) if len(name) > DBF_NAME_LENGTH else None)

    mapping = dict(mapping or {})
    check_mapping_targets(mapping, defaults)
    resolved: dict[str, str | None] = {}
    for target, candidates in defaults.items():
        if target in mapping:
            source = mapping[target]
            if source == "":
                resolved[target] = None
                continue
            column = find(source)
            if column is None:
                raise ImportFailed(
                    f"--map {target}={source}: the file has no property {source!r}"
                    f" (it has: {', '.join(columns) or 'none'})",
                    field="map",
                )
            resolved[target] = column
        else:
            resolved[target] = next(
                (column for name in candidates if (column := find_default(name)) is not None),
                None,
            )
    return resolved


def require_mapped(resolved: Mapping[str, str | None], target: str, *, columns: Iterable[str]):
    """Refuse to run when a field every row needs has no column at all."""
    if resolved.get(target) is None:
        raise ImportFailed(
            f"no column for {target}: name it with --map {target}=PROPERTY"
            f" (the file has: {', '.join(columns) or 'no properties'})",
            field="map",
        )


def json_object_sql(columns: Iterable[str], alias: str) -> tuple[str, list[str]]:
    """SQL building a JSON object of `columns` (text) keyed by their names, nulls kept.

    jsonb_build_object takes at most 100 arguments, so wide files are built in pieces.
    """
    columns = list(columns)
    if not columns:
        return "'{}'::jsonb", []
    parts, params = [], []
    for start in range(0, len(columns), 50):
        chunk = columns[start : start + 50]
        parts.append(
            "jsonb_build_object("
            + ", ".join(f"%s::text, {alias}.{quote(column)}" for column in chunk)
            + ")"
        )
        params.extend(chunk)
    return " || ".join(parts), params


TRANSFORM_FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.oanm_try_transform(g geometry, srid integer)
RETURNS geometry LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN ST_Transform(g, srid);
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;  -- outside the projection's domain: the caller rejects the row with a reason
END $$
"""


def to_wgs84_sql(expression: str, srid: int, cursor) -> str:
    """SQL turning a staged geometry into EPSG:4326; NULL where PROJ cannot transform it.

    SRID 0 (the file named no CRS and no --srs was given) is taken as lon/lat.
    """
    if srid == WGS84:
        return expression
    if srid == 0:
        return f"ST_SetSRID({expression}, {WGS84})"
    # ST_Transform raises on one bad point and would fail the whole statement.
    cursor.execute(TRANSFORM_FUNCTION_SQL)
    return f"pg_temp.oanm_try_transform({expression}, {WGS84})"


def srid_label(srid: int) -> str:
    return "no CRS (taken as EPSG:4326)" if srid == 0 else f"EPSG:{srid}"


class ConsoleProgress:
    """A tqdm bar per stage of an import (loading the file, validating, upserting, …)."""

    def __init__(self, file: IO[str] | None = None, disable: bool = False):
        self.file = file
        self.disable = disable
        self._bar = None
        self._stage = None

    def __call__(self, stage: str, done: float, total: float) -> None:
        from tqdm import tqdm

        if stage != self._stage:
            self.close()
            self._stage = stage
            unit = "%" if total == 100 else " step"
            self._bar = tqdm(
                total=total,
                desc=f"{stage:<12}",
                unit=unit,
                file=self.file,
                disable=self.disable,
                leave=True,
                bar_format="{desc} {bar} {n:.0f}/{total:.0f}{unit} [{elapsed}]",
            )
        bar = self._bar
        bar.update(max(0.0, min(done, total) - bar.n))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None


def _database_environment() -> tuple[str, dict[str, str]]:
    """The PG: connection string and libpq variables for the database Django uses.

    In tests that is the test database. The password goes in the environment, not argv.
    """
    settings = connection.settings_dict
    env = dict(os.environ)
    for key, variable in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
    ):
        value = settings.get(key)
        if value:
            env[variable] = str(value)
        else:
            env.pop(variable, None)
    options = settings.get("OPTIONS") or {}
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "service", "passfile"):
        if options.get(key):
            env["PG" + key.upper()] = str(options[key])
    env["PGAPPNAME"] = "oanm-import"
    name = str(settings["NAME"]).replace("\\", "\\\\").replace("'", "\\'")
    return f"PG:dbname='{name}'", env


def _layers(path: str) -> list[str]:
    from django.contrib.gis.gdal import DataSource, GDALException

    try:
        return [layer.name for layer in DataSource(path)]
    except GDALException as exc:
        raise ImportFailed(f"cannot open {path}: {exc}") from exc


def _check_source(path: str, layer: str | None) -> None:
    """Fail early, with a clear message, on a missing file or an ambiguous layer."""
    if not NOT_A_LOCAL_FILE.match(path) and not os.path.exists(path):
        raise ImportFailed(f"cannot open {path}: no such file")
    if layer is None and Path(path).suffix.lower() not in SINGLE_LAYER_SUFFIXES:
        names = _layers(path)
        if len(names) > 1:
            raise ImportFailed(
                f"{path} has {len(names)} layers ({', '.join(names)}): choose one with --layer"
            )


def _ogr2ogr_command(
    path: str, table: str, *, srs: str | None, where: str | None, layer: str | None
) -> tuple[list[str], dict[str, str]]:
    destination, env = _database_environment()
    command = [
        "ogr2ogr",
        "-update",  # open the database (so -doo applies), add the new table to it
        "-f",
        "PostgreSQL",
        destination,
        path,
        *([layer] if layer else []),
        "-nln",
        f"{STAGING_SCHEMA}.{table}",
        "-doo",
        f"PRELUDE_STATEMENTS=CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}",
        "-lco",
        f"GEOMETRY_NAME={GEOMETRY_COLUMN}",
        "-lco",
        f"FID={ROW_COLUMN}",
        "-lco",
        "SPATIAL_INDEX=NONE",
        "-lco",
        "UNLOGGED=ON",
        "-lco",
        "LAUNDER=NO",
        "-lco",
        "PRECISION=NO",
        "-nlt",
        "GEOMETRY",
        "-dim",
        "XY",
        "-fieldTypeToString",
        "All",
        "--config",
        "PG_USE_COPY",
        "YES",
        "-gt",
        "unlimited",
        "-progress",
    ]
    if where:
        command += ["-where", where]
    if srs:
        command += ["-a_srs", f"EPSG:{srs}" if srs.isdigit() else srs]
    if Path(path).suffix.lower() in CSV_SUFFIXES:
        command += [
            "-oo",
            f"X_POSSIBLE_NAMES={CSV_X_NAMES}",
            "-oo",
            f"Y_POSSIBLE_NAMES={CSV_Y_NAMES}",
            "-oo",
            f"GEOM_POSSIBLE_NAMES={CSV_GEOMETRY_NAMES}",
            "-oo",
            "KEEP_GEOM_COLUMNS=NO",
        ]
    return command, env


def _run_ogr2ogr(command: list[str], env: dict[str, str], progress: ProgressCallback | None):
    """Run ogr2ogr, turning its `0...10...20` progress dots into percentages."""
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(  # noqa: S603 — a fixed program, arguments as a list
                command, stdout=subprocess.PIPE, stderr=errors, env=env
            )
        except FileNotFoundError as exc:
            raise ImportFailed(
                "ogr2ogr is not installed: imports need GDAL's command-line tools (gdal-bin)"
            ) from exc
        assert process.stdout is not None
        percent, number = 0.0, ""
        while chunk := process.stdout.read1(256):
            for char in chunk.decode("ascii", "replace"):
                if char.isdigit():
                    number += char
                    continue
                if number:  # a number ends: 0, 10, 20, … 100
                    percent, number = float(number), ""
                if char == ".":  # each dot between two numbers is 2.5 %
                    percent += 2.5
            if progress:
                progress("loading", min(percent, 100.0), 100)
        returncode = process.wait()
        errors.seek(0)
        message = errors.read().decode("utf-8", "replace")
    return returncode, message


def _explain_failure(path: str, message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if any("Unable to open datasource" in line for line in lines):
        return f"cannot open {path}: GDAL has no driver that reads it (is it a GIS file?)"
    wanted = [line for line in lines if line.startswith(("ERROR", "FAILURE"))]
    detail = "; ".join((wanted or lines)[:3]) or "ogr2ogr failed"
    return f"cannot load {path}: {detail}"


def _table_facts(table: str) -> tuple[tuple[str, ...], int | None]:
    """The staged table's property columns and its geometry SRID (None: no geometry column)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT attribute.attname, attribute.atttypid = 'geometry'::regtype
              FROM pg_attribute AS attribute
              JOIN pg_class AS relation ON relation.oid = attribute.attrelid
              JOIN pg_namespace AS namespace ON namespace.oid = relation.relnamespace
             WHERE namespace.nspname = %s AND relation.relname = %s
               AND attribute.attnum > 0 AND NOT attribute.attisdropped
             ORDER BY attribute.attnum
            """,
            [STAGING_SCHEMA, table],
        )
        rows = cursor.fetchall()
        columns = tuple(
            name for name, is_geometry in rows if name != ROW_COLUMN and not is_geometry
        )
        if not any(name == GEOMETRY_COLUMN for name, _ in rows):
            return columns, None
        cursor.execute("SELECT Find_SRID(%s, %s, %s)", [STAGING_SCHEMA, table, GEOMETRY_COLUMN])
        return columns, int(cursor.fetchone()[0] or 0)


def _drop(table: str) -> None:
    """Drop a staging table on Django's connection.

    Inside an outer transaction (a caller's atomic block, a test) the drop commits with it;
    a separate connection would wait forever on the lock this transaction holds.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {quote(STAGING_SCHEMA)}.{quote(table)}")
    except (DatabaseError, TransactionManagementError) as exc:  # never hide the real error
        logger.warning("could not drop staging table %s.%s: %s", STAGING_SCHEMA, table, exc)


def drop_stale_staging_tables(older_than: timedelta = STALE_AFTER) -> list[str]:
    """Drop staging tables left by runs that died (their name carries their start time)."""
    cutoff = (datetime.now(UTC) - older_than).strftime("%Y%m%d%H%M%S")
    dropped = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [STAGING_SCHEMA])
        names = [row[0] for row in cursor.fetchall()]
    for name in names:
        match = re.search(r"_(\d{14})_[0-9a-f]+$", name)
        if match and match.group(1) < cutoff:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '1s'")
                    cursor.execute(f"DROP TABLE IF EXISTS {quote(STAGING_SCHEMA)}.{quote(name)}")
                    # A released savepoint keeps SET LOCAL: give the caller's transaction
                    # its own setting back.
                    cursor.execute("SET LOCAL lock_timeout TO DEFAULT")
                dropped.append(name)
            except DatabaseError as exc:  # in use after all: leave it for the next run
                logger.info("stale staging table %s not dropped: %s", name, exc)
    return dropped


@contextmanager
def staged_file(
    path: str | os.PathLike,
    *,
    prefix: str,
    srs: str | None = None,
    where: str | None = None,
    layer: str | None = None,
    progress: ProgressCallback | None = None,
) -> Iterator[StagingTable]:
    """Load one layer of `path` into a new staging table; drop it when the block ends.

    `srs` assigns the CRS of the coordinates (for files that name none, e.g. a CSV; it
    overrides what the file says). `where` is an attribute filter passed to GDAL (OGR SQL,
    e.g. "kind = 'postcode'"), `layer` picks one layer of a multi-layer file.
    Raises ImportFailed, with nothing changed, when the file cannot be read.
    """
    path = os.fspath(path)
    _check_source(path, layer)
    drop_stale_staging_tables()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    table = f"{prefix}_{stamp}_{secrets.token_hex(4)}"
    command, env = _ogr2ogr_command(path, table, srs=srs, where=where, layer=layer)
    try:
        if progress:
            progress("loading", 0, 100)
        returncode, message = _run_ogr2ogr(command, env, progress)
        if returncode != 0:
            raise ImportFailed(_explain_failure(path, message))
        if message.strip():
            logger.debug("ogr2ogr said: %s", message.strip())
        columns, srid = _table_facts(table)
        if srid is None:
            raise ImportFailed(
                f"{path} has no geometry"
                + (
                    f" (a CSV needs coordinate columns named {CSV_X_NAMES.replace(',', '/')}"
                    f" and {CSV_Y_NAMES.replace(',', '/')}, or a WKT column)"
                    if Path(path).suffix.lower() in CSV_SUFFIXES
                    else ""
                )
            )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {quote(STAGING_SCHEMA)}.{quote(table)}")
            rows = cursor.fetchone()[0]
        if progress:
            progress("loading", 100, 100)
        yield StagingTable(STAGING_SCHEMA, table, columns, srid, rows)
    finally:
        _drop(table)


# --- rows already in memory: COPY into a temporary table of the same shape -------------

ROWS_TABLE = "oanm_staged_rows"  # in pg_temp: private to the session, dropped after use
EWKB_POINT = struct.Struct("<BIIdd")  # little endian, Point with SRID, x, y
EWKB_POINT_TYPE = 0x20000001


def _point_ewkb(coordinates: Any, srid: int) -> str | None:
    """Hex EWKB of a GeoJSON Point's coordinates (x, y; a Z is dropped, as `-dim XY` does);
    None when they are not two numbers."""
    if not isinstance(coordinates, list | tuple) or len(coordinates) < 2:
        return None
    x, y = coordinates[0], coordinates[1]
    if type(x) not in (int, float) or type(y) not in (int, float):
        return None
    return EWKB_POINT.pack(1, EWKB_POINT_TYPE, srid, x, y).hex()


def geometry_ewkb(geometry: Any, srid: int) -> str | None:
    """A GeoJSON geometry as hex EWKB in `srid` (coordinates untouched), None when there is
    none or GDAL cannot read it: the checks then reject the row with "no geometry", as a file
    with such a feature gives. Points, by far the most common, skip GDAL."""
    if not isinstance(geometry, Mapping) or not geometry.get("type"):
        return None
    if geometry["type"] == "Point":
        coordinates = geometry.get("coordinates")
        if coordinates == []:
            return f"SRID={srid};POINT EMPTY"
        ewkb = _point_ewkb(coordinates, srid)
        if ewkb is not None:
            return ewkb
    from django.contrib.gis.gdal import GDALException, OGRGeometry

    try:
        ogr = OGRGeometry(json.dumps({k: v for k, v in geometry.items() if k != "crs"}))
        ogr.set_3d(False)
    except (GDALException, TypeError, ValueError):
        return None
    return f"SRID={srid};{ogr.wkt}"


def _text_value(value: Any) -> str | None:
    """A property as the text a staged file column holds (objects and lists as JSON)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@contextmanager
def staged_rows(rows: list[Mapping[str, Any]], *, srid: int = WGS84) -> Iterator[StagingTable]:
    """Stage GeoJSON features held in memory as `staged_file` stages a file's: a temporary
    table with `ogc_row` (1 = first), every property as a text column (in the order they
    first appear), and `geom` in `srid`; loaded with one COPY on Django's connection (so in
    the caller's transaction) and dropped when the block ends."""
    columns: dict[str, None] = {}
    for feature in rows:
        for name in feature.get("properties") or ():
            columns.setdefault(name, None)
    clashes = sorted({ROW_COLUMN, GEOMETRY_COLUMN} & set(columns))
    if clashes:
        raise ImportFailed(
            f"a property may not be named {' or '.join(clashes)}: the staging table uses it"
        )
    names = list(columns)
    table = f"pg_temp.{ROWS_TABLE}"
    definition = ", ".join(
        [
            f"{ROW_COLUMN} bigint",
            *(f"{quote(name)} text" for name in names),
            f"{GEOMETRY_COLUMN} geometry(Geometry, {int(srid)})",
        ]
    )
    copied = ", ".join([ROW_COLUMN, *(quote(name) for name in names), GEOMETRY_COLUMN])
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMP TABLE {ROWS_TABLE} ({definition})")
        try:
            with cursor.copy(f"COPY {table} ({copied}) FROM STDIN") as copy:
                for position, feature in enumerate(rows, start=1):
                    properties = feature.get("properties") or {}
                    copy.write_row(
                        (
                            position,
                            *(_text_value(properties.get(name)) for name in names),
                            geometry_ewkb(feature.get("geometry"), srid),
                        )
                    )
            yield StagingTable("pg_temp", ROWS_TABLE, tuple(names), int(srid), len(rows))
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


# --- the command line, shared by import_addresses and import_areas ----------------------

REJECTS_SHOWN = 20


def add_import_arguments(parser, *, fields: Mapping[str, tuple[str, ...]]) -> None:
    """The options both import commands take."""
    parser.add_argument("path", help="The file (or GDAL data source) to import.")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=PROPERTY",
        help="Read FIELD from the file's PROPERTY (repeatable); FIELD= leaves it unmapped. "
        "Defaults: "
        + "; ".join(f"{target}: {' or '.join(names)}" for target, names in fields.items()),
    )
    parser.add_argument(
        "--srs",
        help="The CRS of the coordinates when the file names none (e.g. a CSV): EPSG:25833 or "
        "25833. It overrides what the file says.",
    )
    parser.add_argument(
        "--where", help="Attribute filter passed to GDAL (OGR SQL), e.g. \"kind='postcode'\"."
    )
    parser.add_argument("--layer", help="The layer to read from a multi-layer file.")
    parser.add_argument(
        "--rejects", metavar="FILE", help="Write every rejected row to this CSV file."
    )
    parser.add_argument("--no-progress", action="store_true", help="Do not draw progress bars.")


def _rows(count: int, what: str = "row") -> str:
    return f"{count} {what}" if count == 1 else f"{count} {what}s"


def print_report(command, report: ImportReport, *, rejects: str | None, key: str) -> None:
    """The closing summary: rejected rows (first 20, all to --rejects) and the counts."""
    out = command.stdout
    if report.repaired:
        out.write(f"Repaired {len(report.repaired)} invalid geometries (--make-valid):")
        for row, external_id, reason in report.repaired[:REJECTS_SHOWN]:
            out.write(f"  row {row}  {key} {external_id or '-'}: {reason}")
    if report.rejected:
        out.write(f"Rejected {_rows(len(report.rejected))}:")
        for row, external_id, reason in report.rejected[:REJECTS_SHOWN]:
            out.write(f"  row {row}  {key} {external_id or '-'}: {reason}")
        if len(report.rejected) > REJECTS_SHOWN and not rejects:
            out.write(
                f"  … and {len(report.rejected) - REJECTS_SHOWN} more: "
                "--rejects FILE writes them all"
            )
    if rejects:
        report.write_rejects(rejects)
        out.write(f"{_rows(len(report.rejected), 'rejected row')} written to {rejects}")
    style = command.style.WARNING if report.rejected else command.style.SUCCESS
    out.write(
        style(
            f"Created {report.created}, updated {report.updated}, "
            f"unchanged {report.unchanged}, rejected {len(report.rejected)}"
        )
    )
    out.write(
        f"{report.read} rows in {report.elapsed:.1f} s ({report.rows_per_second:,.0f} rows/s)"
    )
