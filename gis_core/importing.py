"""Bulk address import: any GIS file → addresses, upserted by external reference, in SQL.

The file is staged by ogr2ogr (`gis_core.staging`); then, in one transaction, one statement
maps and checks every row (a reason for each rejected one) and matches it to the stored
address with the same (system, external id), and three more write only what changed:
an UPDATE of the changed addresses, an INSERT … SELECT of the new ones and of their
external references. The `addresses.imported` event then lets higher layers react to
exactly those rows (the areas app links them to their area in one statement).
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Mapping

from django.db import connection, transaction
from django.utils import timezone

from common.events import publish
from gis_core.events import ADDRESSES_IMPORTED, AddressesImported
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
    to_wgs84_sql,
)

__all__ = ["ADDRESS_FIELDS", "ImportFailed", "ImportReport", "import_addresses"]

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
}
TEXT_FIELDS = ("street", "house_number", "unit", "postcode", "city", "country")
# The stored label joins these with at most 6 separator characters.
LABEL_MAX = Address._meta.get_field("label").output_field.max_length - 6
SYSTEM_PATTERN = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
LOCK_NAME = "oanm.import_addresses"  # one address import at a time
WORK_TABLE = "oanm_address_import"


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
    if not SYSTEM_PATTERN.match(system or ""):
        raise ImportFailed(
            f"system must be a short slug such as osm or iqgeo, not {system!r}", field="system"
        )
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


def _text(column: str | None) -> str:
    return f"coalesce(btrim(staged.{quote(column)}), '')" if column else "''"


def _checks_sql(
    staged: StagingTable, resolved: Mapping[str, str | None], cursor
) -> tuple[str, list[str]]:
    """One statement: every staged row mapped, checked (a reason or NULL) and matched.

    The work table it fills has the values to store, `reject_reason`, the id of the stored
    address with the same external id (`address_id`) and a fresh id for a new one (`new_id`).
    `OFFSET 0` keeps each layer from being inlined, so no expression runs twice.
    """
    mapped = {target: column for target, column in resolved.items() if column}
    attribute_columns = [c for c in staged.columns if c not in set(mapped.values())]
    attributes_sql, attribute_params = json_object_sql(attribute_columns, "staged")
    location_sql = to_wgs84_sql("mapped.source_geom", staged.srid, cursor)
    lengths = {name: Address._meta.get_field(name).max_length for name in TEXT_FIELDS}
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
    stored = (*TEXT_FIELDS, "premises_type", "units")
    mapped_texts = ", ".join(
        f"{_text(mapped.get(name))} AS {name}" for name in TEXT_FIELDS if name != "country"
    )
    sql = f"""
CREATE TEMP TABLE {WORK_TABLE} AS
SELECT checked.file_row, checked.external_id, checked.reject_reason,
       {", ".join(f"checked.{name}" for name in stored)},
       checked.location, checked.raw_attributes, reference.address_id,
       CASE WHEN checked.reject_reason IS NULL AND reference.address_id IS NULL
            THEN nextval(%s::regclass) END AS new_id
  FROM (
    SELECT windowed.*, CASE {reason_sql} END AS reject_reason
      FROM (
        SELECT mapped.*,
               CASE WHEN mapped.geometry_type = 'ST_Point' THEN {location_sql} END AS location,
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
"""
    return sql, attribute_params


def _update_sql(resolved: Mapping[str, str | None]) -> str:
    """Write the mapped fields, location and attributes of matched addresses that differ.

    Fields the file does not map keep their stored value, except that premises type and
    units go together (they were checked together): a file mapping one sets both. Attributes
    are merged: the file's properties replace the same keys, a property that is now empty
    removes its key, other keys stay. Returns one row per written address: whether it moved.
    """
    fields = [name for name in TEXT_FIELDS if resolved.get(name)]
    if resolved.get("premises_type") or resolved.get("units"):
        fields += ["premises_type", "units"]
    new_attributes = "jsonb_strip_nulls(current.attributes || work.raw_attributes)"
    address_table = Address._meta.db_table
    return f"""
WITH written AS (
    UPDATE {address_table} AS target
       SET {"".join(f"{name} = work.{name}, " for name in fields)}
           location = work.location, attributes = {new_attributes},
           last_import_id = %s, updated_at = %s
      FROM {WORK_TABLE} AS work
      JOIN {address_table} AS current ON current.id = work.address_id
     WHERE work.reject_reason IS NULL AND target.id = work.address_id
       AND ({"".join(f"current.{name}, " for name in fields)}current.location,
            current.attributes)
           IS DISTINCT FROM
           ({"".join(f"work.{name}, " for name in fields)}work.location, {new_attributes})
 RETURNING current.location IS DISTINCT FROM work.location AS moved
)
SELECT count(*), count(*) FILTER (WHERE moved) FROM written
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

    def step(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [LOCK_NAME])
        # Sorting and hashing a million external ids stays in memory.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{WORK_TABLE}")
        step("validating", 0, 1)
        cursor.execute(f"ANALYZE {staged.qualified}")
        sql, attribute_params = _checks_sql(staged, resolved, cursor)
        # Parameters in the order they appear: the id sequence, attribute keys, system.
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [address_table])
        sequence = cursor.fetchone()[0]  # looked up once: per row it costs more than nextval
        cursor.execute(sql, [sequence, *attribute_params, system])
        cursor.execute(
            f"""
            SELECT count(*) FILTER (WHERE new_id IS NOT NULL),
                   count(*) FILTER (WHERE address_id IS NOT NULL)
              FROM {WORK_TABLE}
            """
        )
        report.created, matched = cursor.fetchone()
        cursor.execute(
            f"""
            SELECT file_row, external_id, reject_reason FROM {WORK_TABLE}
             WHERE reject_reason IS NOT NULL ORDER BY file_row
            """
        )
        report.rejected = [Rejection(*row) for row in cursor.fetchall()]
        step("validating", 1, 1)

        step("upserting", 0, 3)
        if matched:
            cursor.execute(_update_sql(resolved), [report.import_id, now])
            report.updated, report.moved = cursor.fetchone()
        report.unchanged = matched - report.updated
        step("upserting", 1, 3)
        fields = (*TEXT_FIELDS, "premises_type", "units")
        cursor.execute(
            f"""
            INSERT INTO {address_table}
                   (id, created_at, updated_at, location, {", ".join(fields)},
                    status, attributes, last_import_id)
            SELECT work.new_id, %s, %s, work.location,
                   {", ".join(f"work.{name}" for name in fields)},
                   %s, jsonb_strip_nulls(work.raw_attributes), %s
              FROM {WORK_TABLE} AS work
             WHERE work.new_id IS NOT NULL
            """,
            [now, now, AddressStatus.PLANNED, report.import_id],
        )
        step("upserting", 2, 3)
        cursor.execute(
            f"""
            INSERT INTO {ExternalReference._meta.db_table} (system, external_id, address_id)
            SELECT %s, work.external_id, work.new_id
              FROM {WORK_TABLE} AS work
             WHERE work.new_id IS NOT NULL
            """,
            [system],
        )
        cursor.execute(f"DROP TABLE {WORK_TABLE}")
        step("upserting", 3, 3)
    if report.created or report.updated:
        step("linking", 0, 1)
        # In-transaction handlers above us (the area link) run now, on exactly these rows.
        publish(
            ADDRESSES_IMPORTED,
            AddressesImported(
                import_id=report.import_id,
                created=report.created,
                updated=report.updated,
                moved=report.moved,
            ),
        )
        step("linking", 1, 1)
