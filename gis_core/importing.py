"""Bulk address import: any GIS file → addresses, upserted by external reference, in SQL.

The file is staged by ogr2ogr (`gis_core.staging`), or rows already in memory (a sync's page
of features, `import_address_rows`) are staged with COPY into a table of the same shape; then,
in one transaction, one statement maps and checks every row (a reason for each rejected one),
matches it to the stored address with the same (system, external id) and decides whether it
is written (new, or different from what is stored). The `addresses.staged` event lets higher
layers record what gis_core cannot know (the areas app: each written row's area, in one join);
then three statements write only what changed: an UPDATE of the changed addresses, an
INSERT … SELECT of the new ones and of their external references. The `addresses.imported`
event closes the run, naming the areas the written rows left or joined.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from common.events import publish
from gis_core.events import (
    ADDRESSES_IMPORTED,
    ADDRESSES_REINSTATED,
    ADDRESSES_STAGED,
    AddressesImported,
    AddressesReinstated,
    AddressesStaged,
)
from gis_core.lifecycle import AddressStatus, PremisesType
from gis_core.models import Address, ExternalReference
from gis_core.staging import (
    GEOMETRY_COLUMN,
    ROW_COLUMN,
    WGS84,
    ImportFailed,
    ImportReport,
    ProgressCallback,
    Rejection,
    StagingTable,
    check_mapping_targets,
    json_object_sql,
    quote,
    require_mapped,
    resolve_mapping,
    srid_label,
    staged_file,
    staged_rows,
    to_wgs84_sql,
)

__all__ = [
    "ADDRESS_FIELDS",
    "ImportFailed",
    "ImportReport",
    "import_address_rows",
    "import_addresses",
]

logger = logging.getLogger(__name__)

# Target field → the file properties it is read from by default (first one present wins).
ADDRESS_FIELDS: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id", "id"),
    "street": ("street", "addr:street", "addr_street"),
    "house_number": ("house_number", "housenumber", "addr:housenumber", "addr_housenumber"),
    "unit": ("unit", "addr:unit", "addr_unit", "flat"),
    "postcode": ("postcode", "postal_code", "zip", "addr:postcode", "addr_postcode"),
    "city": ("city", "addr:city", "addr_city"),
    "country": ("country", "country_code", "addr:country", "addr_country"),
    "premises_type": ("premises_type",),
    "units": ("units",),
    "circuit_ref": ("circuit_ref",),
    "circuit_name": ("circuit_name",),
}
TEXT_FIELDS = ("street", "house_number", "unit", "postcode", "city", "country")
# The circuit a GIS of record links to the address: not part of its label; written only by
# a file that maps it (an IQGeo import), kept as it is by any other.
CIRCUIT_FIELDS = ("circuit_ref", "circuit_name")
# The stored label joins these with at most 6 separator characters.
LABEL_MAX = Address._meta.get_field("label").output_field.max_length - 6
SYSTEM_PATTERN = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
LOCK_NAME = "oanm.import_addresses"  # one address import at a time
WORK_TABLE = "pg_temp.oanm_address_import"  # schema-qualified: handlers get it as is
AREA_TABLE = "pg_temp.oanm_address_import_area"  # (file_row, area_id) from the handlers
# The area a written row gets: the one a handler recorded (NULL: in no area), else its own.
RESOLVED_AREA_SQL = (
    "CASE WHEN found.file_row IS NULL THEN work.previous_area_id ELSE found.area_id END"
)
TEMP_BUFFERS = "1GB"  # an upper bound: PostgreSQL takes the memory as the tables grow


def import_addresses(
    path: str | os.PathLike,
    *,
    system: str = "osm",
    mapping: Mapping[str, str] | None = None,
    srs: str | None = None,
    where: str | None = None,
    layer: str | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Create or update the addresses of a GIS file, keyed by (system, external id).

    Running the same file twice changes nothing the second time. Rows that cannot be
    stored are returned in `report.rejected` with their reason; they change nothing.
    Raises ImportFailed (nothing changed) when the file cannot be read or mapped.
    """
    started = time.monotonic()
    check_mapping_targets(mapping, ADDRESS_FIELDS)
    _check_system(system)
    report = ImportReport(import_id=str(uuid.uuid4()))
    with staged_file(
        path, prefix="addresses", srs=srs, where=where, layer=layer, progress=progress
    ) as staged:
        resolved = resolve_mapping(staged.columns, mapping, ADDRESS_FIELDS)
        require_mapped(resolved, "external_id", columns=staged.columns)
        require_mapped(resolved, "street", columns=staged.columns)
        report.read = staged.rows
        with transaction.atomic():
            _upsert(staged, resolved, system=system, report=report, progress=progress)
    report.elapsed = time.monotonic() - started
    logger.debug("address import %s from %s: %s", report.import_id, path, report.summary())
    return report


def import_address_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    system: str = "osm",
    srid: int = WGS84,
    mapping: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Create or update addresses from rows already in memory, keyed by (system, external id).

    The same import as `import_addresses`, for a caller that holds the features itself (a
    sync paging through a remote API): each row is a GeoJSON feature (`geometry`, and
    `properties` named as in a file); the rows are staged with COPY into a temporary table
    of the shape ogr2ogr gives a file (every property as text, the geometry as given in
    `srid`, `ogc_row` = position, 1 = first) and go through the same checks and upsert.
    No ogr2ogr process, no file. Bad rows are rejected with their reason, exactly as from a
    file; raises ImportFailed (nothing changed) when the rows cannot be mapped.
    """
    started = time.monotonic()
    check_mapping_targets(mapping, ADDRESS_FIELDS)
    _check_system(system)
    report = ImportReport(import_id=str(uuid.uuid4()))
    rows = list(rows)
    if not rows:
        return report  # nothing to stage: no event, nothing touched
    with transaction.atomic():
        if progress:
            progress("loading", 0, 100)
        with connection.cursor() as cursor:
            _keep_temp_tables_in_memory(cursor)
        with staged_rows(rows, srid=srid) as staged:
            if progress:
                progress("loading", 100, 100)
            resolved = resolve_mapping(staged.columns, mapping, ADDRESS_FIELDS)
            require_mapped(resolved, "external_id", columns=staged.columns)
            require_mapped(resolved, "street", columns=staged.columns)
            report.read = staged.rows
            _upsert(staged, resolved, system=system, report=report, progress=progress)
    report.elapsed = time.monotonic() - started
    logger.debug("address import %s of %d rows: %s", report.import_id, len(rows), report.summary())
    return report


def _check_system(system: str) -> None:
    if not SYSTEM_PATTERN.match(system or ""):
        raise ImportFailed(
            f"system must be a short slug such as osm or iqgeo, not {system!r}", field="system"
        )


def _text(column: str | None) -> str:
    return f"coalesce(btrim(staged.{quote(column)}), '')" if column else "''"


def _checks_sql(
    staged: StagingTable, resolved: Mapping[str, str | None], cursor
) -> tuple[str, list[str]]:
    """One statement: every staged row mapped, checked (a reason or NULL) and matched.

    The work table it fills has the values to store (attributes already merged with the
    stored ones), `reject_reason`, the id of the stored address with the same external id
    (`address_id`), a fresh id for a new one (`new_id`), whether the row is written
    (`is_written`: new, or different from the stored address) and moves it (`is_moved`), and
    the stored address's area (`previous_area_id`). `OFFSET 0` keeps each layer from being
    inlined, so no expression runs twice.
    """
    mapped = {target: column for target, column in resolved.items() if column}
    attribute_columns = [c for c in staged.columns if c not in set(mapped.values())]
    attributes_sql, attribute_params = json_object_sql(attribute_columns, "staged")
    location_sql = to_wgs84_sql("mapped.source_geom", staged.srid, cursor)
    lengths = {
        name: Address._meta.get_field(name).max_length for name in (*TEXT_FIELDS, *CIRCUIT_FIELDS)
    }
    external_id_max = ExternalReference._meta.get_field("external_id").max_length
    single_family = PremisesType.SINGLE_FAMILY.value

    premises_sql = (
        f"coalesce(nullif(lower(btrim(staged.{quote(mapped['premises_type'])})), ''),"
        f" '{single_family}')"
        if "premises_type" in mapped
        else f"'{single_family}'"
    )
    units_sql = (
        "CASE WHEN mapped.units_text = '' THEN 1"
        " WHEN mapped.units_text ~ '^[0-9]{1,9}$' THEN mapped.units_text::integer END"
        if "units" in mapped
        else "1"
    )
    point = "ST_X(windowed.location) || ', lat ' || ST_Y(windowed.location)"
    if staged.srid in (WGS84, 0):
        out_of_range = (
            f"'coordinates out of range (lon ' || {point} || '): lon must be within"
            " -180..180 and lat within -90..90; if the file is projected, give its CRS"
            " with --srs'"
        )
    else:
        out_of_range = (
            "'coordinates out of range after transforming from"
            f" {srid_label(staged.srid)} (lon ' || {point} || ')'"
        )
    checks = [
        ("windowed.external_id = ''", "'missing external id'"),
        ("windowed.source_geom IS NULL", "'no geometry'"),
        (
            "windowed.geometry_type <> 'ST_Point'",
            "'not a point: expected a Point, got a ' || substr(windowed.geometry_type, 4)",
        ),
        ("ST_IsEmpty(windowed.source_geom)", "'empty geometry'"),
        (
            "windowed.location IS NULL",
            "'cannot transform (' || ST_X(windowed.source_geom) || ' '"
            f" || ST_Y(windowed.source_geom) || ') from {srid_label(staged.srid)} to"
            " EPSG:4326: outside the projection''s domain'",
        ),
        (
            "NOT (ST_X(windowed.location) BETWEEN -180 AND 180"
            " AND ST_Y(windowed.location) BETWEEN -90 AND 90)",
            out_of_range,
        ),
        ("windowed.street = ''", "'missing street'"),
        (
            f"length(windowed.external_id) > {external_id_max}",
            f"'external id is longer than {external_id_max} characters'",
        ),
        *(
            (
                f"length(windowed.{name}) > {size}",
                f"'{name.replace('_', ' ')} is longer than {size} characters'",
            )
            for name, size in lengths.items()
            if name != "country"
        ),
        (
            " + ".join(f"length(windowed.{name})" for name in TEXT_FIELDS if name != "country")
            + f" > {LABEL_MAX}",
            f"'the address is too long for its label ({LABEL_MAX} characters)'",
        ),
        (
            "windowed.country !~ '^([A-Z]{2})?$'",
            "'country must be a two-letter ISO code, not ' || quote_literal(windowed.country)",
        ),
        (
            "windowed.premises_type NOT IN ("
            + ", ".join(f"'{value}'" for value in PremisesType.values)
            + ")",
            "'unknown premises type ' || quote_literal(windowed.premises_type)"
            f" || ' (one of {', '.join(PremisesType.values)})'",
        ),
        (
            "windowed.units IS NULL OR windowed.units < 1",
            "'units must be a whole number of at least 1, not '"
            " || quote_literal(windowed.units_text)",
        ),
        (
            f"windowed.premises_type = '{single_family}' AND windowed.units <> 1",
            "'a single-family home has exactly one unit, not ' || windowed.units",
        ),
        (
            "windowed.first_row <> windowed.file_row",
            "'duplicate external id (first in row ' || windowed.first_row || ')'",
        ),
    ]
    if "premises_type" not in mapped:
        checks = [check for check in checks if "premises_type" not in check[0]]
    if "units" not in mapped:
        checks = [check for check in checks if "units" not in check[0]]
    reason_sql = "\n".join(f"WHEN {condition} THEN {reason}" for condition, reason in checks)
    stored = (*TEXT_FIELDS, *CIRCUIT_FIELDS, "premises_type", "units")
    mapped_texts = ", ".join(
        f"{_text(mapped.get(name))} AS {name}"
        for name in (*TEXT_FIELDS, *CIRCUIT_FIELDS)
        if name != "country"
    )
    # A matched row is written when a field the file maps, its location or its merged
    # attributes differ from the stored address (so an unchanged row is never touched).
    compared = _written_fields(resolved)
    differs = (
        f"({''.join(f'matched.current_{name}, ' for name in compared)}matched.current_location,"
        " matched.current_attributes) IS DISTINCT FROM"
        f" ({''.join(f'matched.{name}, ' for name in compared)}matched.location,"
        " matched.attributes)"
    )
    address_table = Address._meta.db_table
    sql = f"""
CREATE TEMP TABLE {WORK_TABLE} AS
SELECT matched.file_row, matched.external_id, matched.reject_reason,
       {", ".join(f"matched.{name}" for name in stored)},
       matched.location, matched.attributes, matched.address_id,
       CASE WHEN matched.reject_reason IS NULL AND matched.address_id IS NULL
            THEN nextval(%s::regclass) END AS new_id,
       matched.reject_reason IS NULL AND (matched.address_id IS NULL OR {differs})
         AS is_written,
       matched.address_id IS NOT NULL AND matched.current_location IS DISTINCT FROM
         matched.location AS is_moved,
       matched.previous_area_id
  FROM (
    SELECT checked.*, reference.address_id,
           {"".join(f"current.{name} AS current_{name}, " for name in compared)}
           current.location AS current_location, current.attributes AS current_attributes,
           current.area_id AS previous_area_id,
           CASE WHEN checked.reject_reason IS NOT NULL THEN NULL
                WHEN current.id IS NULL THEN jsonb_strip_nulls(checked.raw_attributes)
                -- merged: the file's keys replace the stored ones, empty ones remove them
                ELSE jsonb_strip_nulls(current.attributes || checked.raw_attributes)
           END AS attributes
      FROM (
        SELECT windowed.*, CASE {reason_sql} END AS reject_reason
          FROM (
            SELECT mapped.*,
                   CASE WHEN mapped.geometry_type = 'ST_Point' THEN {location_sql} END
                     AS location,
                   {units_sql} AS units,
                   min(mapped.file_row) OVER (PARTITION BY mapped.external_id COLLATE "C")
                     AS first_row
              FROM (
                SELECT staged.{quote(ROW_COLUMN)} AS file_row,
                       {_text(mapped.get("external_id"))} AS external_id,
                       {mapped_texts},
                       upper({_text(mapped.get("country"))}) AS country,
                       {premises_sql} AS premises_type,
                       {_text(mapped.get("units"))} AS units_text,
                       staged.{quote(GEOMETRY_COLUMN)} AS source_geom,
                       ST_GeometryType(staged.{quote(GEOMETRY_COLUMN)}) AS geometry_type,
                       {attributes_sql} AS raw_attributes
                  FROM {staged.qualified} AS staged
                OFFSET 0
              ) AS mapped
            OFFSET 0
          ) AS windowed
        OFFSET 0
      ) AS checked
      LEFT JOIN {ExternalReference._meta.db_table} AS reference
             ON checked.reject_reason IS NULL
            AND reference.system = %s AND reference.external_id = checked.external_id
      LEFT JOIN {address_table} AS current ON current.id = reference.address_id
    OFFSET 0
  ) AS matched
"""
    return sql, attribute_params


def _written_fields(resolved: Mapping[str, str | None]) -> list[str]:
    """The address fields an import compares and writes: those the file maps.

    Fields the file does not map keep their stored value, except that premises type and
    units go together (they were checked together): a file mapping one sets both.
    """
    fields = [name for name in (*TEXT_FIELDS, *CIRCUIT_FIELDS) if resolved.get(name)]
    if resolved.get("premises_type") or resolved.get("units"):
        fields += ["premises_type", "units"]
    return fields


def _update_sql(resolved: Mapping[str, str | None]) -> str:
    """Write the matched addresses the work table marks as written: mapped fields, location,
    merged attributes and the area the `addresses.staged` handlers found."""
    return f"""
UPDATE {Address._meta.db_table} AS target
   SET {"".join(f"{name} = work.{name}, " for name in _written_fields(resolved))}
       location = work.location, attributes = work.attributes, area_id = {RESOLVED_AREA_SQL},
       last_import_id = %s, updated_at = %s
  FROM {WORK_TABLE} AS work
  LEFT JOIN {AREA_TABLE} AS found ON found.file_row = work.file_row
 WHERE work.is_written AND work.address_id IS NOT NULL AND target.id = work.address_id
"""


# The matched addresses that were retired: live again (gis_core.services.addresses_reinstate
# does the same for ids; here it is one join on the work table).
_REINSTATE_SQL = f"""
UPDATE {Address._meta.db_table} AS target
   SET retired_at = NULL, retired_reason = '', updated_at = %s
  FROM {WORK_TABLE} AS work
 WHERE work.reject_reason IS NULL AND work.address_id IS NOT NULL
   AND target.id = work.address_id AND target.retired_at IS NOT NULL
RETURNING target.id
"""


def _upsert(
    staged: StagingTable,
    resolved: Mapping[str, str | None],
    *,
    system: str,
    report: ImportReport,
    progress: ProgressCallback | None,
) -> None:
    address_table = Address._meta.db_table
    now = timezone.now()
    clock = _StageClock(report.import_id)

    def step(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [LOCK_NAME])
        # Sorting and hashing a million external ids stays in memory.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        _keep_temp_tables_in_memory(cursor)
        cursor.execute(f"DROP TABLE IF EXISTS {WORK_TABLE}, {AREA_TABLE}")
        step("validating", 0, 1)
        cursor.execute(f"ANALYZE {staged.qualified}")
        clock.lap("analyze the staging table")
        sql, attribute_params = _checks_sql(staged, resolved, cursor)
        # Parameters in the order they appear: the id sequence, attribute keys, system.
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [address_table])
        sequence = cursor.fetchone()[0]  # looked up once: per row it costs more than nextval
        cursor.execute(sql, [sequence, *attribute_params, system])
        clock.lap("check and match (the work table)")
        cursor.execute(
            f"""
            SELECT count(*) FILTER (WHERE new_id IS NOT NULL),
                   count(*) FILTER (WHERE address_id IS NOT NULL),
                   count(*) FILTER (WHERE address_id IS NOT NULL AND is_written),
                   count(*) FILTER (WHERE is_written AND is_moved)
              FROM {WORK_TABLE}
            """
        )
        report.created, matched, report.updated, report.moved = cursor.fetchone()
        report.unchanged = matched - report.updated
        # A retired address whose reference comes back is live again (written or not).
        cursor.execute(_REINSTATE_SQL, [now])
        reinstated = sorted(row[0] for row in cursor.fetchall())
        if reinstated:
            publish(
                ADDRESSES_REINSTATED, AddressesReinstated(address_ids=reinstated, actor_id=None)
            )
        cursor.execute(
            f"""
            SELECT file_row, external_id, reject_reason FROM {WORK_TABLE}
             WHERE reject_reason IS NOT NULL ORDER BY file_row
            """
        )
        report.rejected = [Rejection(*row) for row in cursor.fetchall()]
        clock.lap("count and list the rejects")
        step("validating", 1, 1)
        if not (report.created or report.updated):
            cursor.execute(f"DROP TABLE {WORK_TABLE}")
            return  # nothing to write: no event, nothing touched

        step("linking", 0, 1)
        # In-transaction handlers above us (the area link) record the rows' areas now, so
        # every written row is written once, with its area.
        cursor.execute(f"CREATE TEMP TABLE {AREA_TABLE} (file_row bigint NOT NULL, area_id bigint)")
        publish(
            ADDRESSES_STAGED,
            AddressesStaged(
                import_id=report.import_id, work_table=WORK_TABLE, area_table=AREA_TABLE
            ),
        )
        clock.lap("addresses.staged handlers")
        step("linking", 1, 1)

        step("upserting", 0, 4)
        if report.updated:
            cursor.execute(_update_sql(resolved), [report.import_id, now])
            clock.lap("update the changed addresses")
        step("upserting", 1, 4)
        bulk = _begin_bulk_load(cursor, adding=report.created)
        fields = (*TEXT_FIELDS, *CIRCUIT_FIELDS, "premises_type", "units")
        cursor.execute(
            f"""
            INSERT INTO {address_table}
                   (id, created_at, updated_at, location, {", ".join(fields)},
                    status, attributes, area_id, last_import_id)
            SELECT work.new_id, %s, %s, work.location,
                   {", ".join(f"work.{name}" for name in fields)},
                   %s, work.attributes, {RESOLVED_AREA_SQL}, %s
              FROM {WORK_TABLE} AS work
              LEFT JOIN {AREA_TABLE} AS found ON found.file_row = work.file_row
             WHERE work.new_id IS NOT NULL
            """,
            [now, now, AddressStatus.PLANNED, report.import_id],
        )
        clock.lap("insert the new addresses")
        if bulk:
            for definition in bulk.indexes:
                cursor.execute(definition)
            clock.lap(f"build {len(bulk.indexes)} indexes again")
        step("upserting", 2, 4)
        cursor.execute(
            f"""
            INSERT INTO {ExternalReference._meta.db_table} (system, external_id, address_id)
            SELECT %s, work.external_id, work.new_id
              FROM {WORK_TABLE} AS work
             WHERE work.new_id IS NOT NULL
            """,
            [system],
        )
        clock.lap("insert their external references")
        if bulk:
            for definition in bulk.foreign_keys:
                cursor.execute(definition)  # validates every reference in one join
            clock.lap("add the references' foreign key again")
        step("upserting", 3, 4)
        # The areas the written rows left or joined: higher layers refresh only those.
        # (The handlers record areas only for rows to be written; a written row with no
        # entry kept its previous area, which the second half names.)
        cursor.execute(
            f"""
            SELECT coalesce(array_agg(touched.area_id ORDER BY touched.area_id), '{{}}')
              FROM (
                SELECT found.area_id FROM {AREA_TABLE} AS found
                 WHERE found.area_id IS NOT NULL
                 UNION
                SELECT work.previous_area_id FROM {WORK_TABLE} AS work
                 WHERE work.is_written AND work.previous_area_id IS NOT NULL
              ) AS touched
            """
        )
        area_ids = list(cursor.fetchone()[0])
        cursor.execute(f"DROP TABLE {WORK_TABLE}, {AREA_TABLE}")
        clock.lap("collect the areas touched")
    # In-transaction handlers above us react to exactly these rows (they carry the run's id).
    publish(
        ADDRESSES_IMPORTED,
        AddressesImported(
            import_id=report.import_id,
            created=report.created,
            updated=report.updated,
            moved=report.moved,
            area_ids=area_ids,
        ),
    )
    clock.lap("addresses.imported handlers")
    step("upserting", 4, 4)


@dataclass(frozen=True)
class _BulkLoad:
    """What a bulk load set aside and builds again: indexes after the address INSERT, the
    references' foreign key after theirs (SQL definitions, as PostgreSQL gives them)."""

    indexes: list[str]
    foreign_keys: list[str]


def _begin_bulk_load(cursor, *, adding: int) -> _BulkLoad | None:
    """For a bulk load, drop the address table's secondary indexes and the external
    references' foreign key to it; returns what to build again (None: not a bulk load).

    Maintaining a GiST, a trigram GIN (address search) and four btrees row by row costs
    several times what building them afresh does, and checking the foreign key of a
    million references one by one at commit several times what one join validating them
    all does. So an import that adds at least IMPORT_BULK_LOAD_MIN_ROWS rows and more than
    the table holds (a first load, a new region) sets them aside and builds them again right
    after its INSERTs, in the same transaction. Dropping them locks both tables exclusively
    until the import commits; if another session holds a lock on them now, the import does
    not wait (2 s) and keeps them.
    The primary keys and unique constraints always stay.
    """
    table = Address._meta.db_table
    references = ExternalReference._meta.db_table
    if adding < settings.IMPORT_BULK_LOAD_MIN_ROWS:
        return None
    cursor.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [table])
    if adding <= cursor.fetchone()[0]:
        return None
    cursor.execute(
        """
        SELECT index.indexrelid::regclass::text, pg_get_indexdef(index.indexrelid)
          FROM pg_index AS index
         WHERE index.indrelid = %s::regclass AND NOT index.indisunique
           AND NOT index.indisprimary AND index.indisvalid
         ORDER BY 1
        """,
        [table],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        """
        SELECT conname, pg_get_constraintdef(oid)
          FROM pg_constraint
         WHERE conrelid = %s::regclass AND confrelid = %s::regclass AND contype = 'f'
         ORDER BY 1
        """,
        [references, table],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute("SELECT current_setting('lock_timeout')")
    lock_timeout = cursor.fetchone()[0]
    try:
        with transaction.atomic():  # a savepoint: a lock we cannot get must not abort the run
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            if indexes:
                cursor.execute("DROP INDEX " + ", ".join(name for name, _ in indexes))
            for name, _ in foreign_keys:
                cursor.execute(f"ALTER TABLE {references} DROP CONSTRAINT {quote(name)}")
    except DatabaseError as exc:
        logger.info("address import keeps its indexes and constraints (tables in use): %s", exc)
        return None
    finally:
        # A released savepoint keeps SET LOCAL: give the transaction its own setting back.
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [lock_timeout])
    cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")  # for the builds
    return _BulkLoad(
        indexes=[definition for _, definition in indexes],
        foreign_keys=[
            f"ALTER TABLE {references} ADD CONSTRAINT {quote(name)} {definition}"
            for name, definition in foreign_keys
        ],
    )


def _keep_temp_tables_in_memory(cursor) -> None:
    """Let the work table (hundreds of MB for a million rows) live in this session's
    memory rather than pass through the default 8 MB of local buffers page by page.

    PostgreSQL allows it only before the session's first temporary table; a session that
    had one keeps its size (the import is then a little slower, never wrong).
    """
    try:
        with transaction.atomic():  # a savepoint: a refusal must not abort the import
            cursor.execute(f"SET LOCAL temp_buffers = '{TEMP_BUFFERS}'")
    except DatabaseError as exc:
        logger.debug("temp_buffers stays as it is: %s", exc)


class _StageClock:
    """Logs (at DEBUG) how long each statement of an import took, to see where time goes."""

    def __init__(self, import_id: str):
        self.import_id = import_id
        self.last = time.monotonic()

    def lap(self, what: str) -> None:
        now = time.monotonic()
        logger.debug("address import %s: %s %.2f s", self.import_id, what, now - self.last)
        self.last = now
