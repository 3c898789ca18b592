"""Bulk area import: any GIS file → planning areas, upserted by their code, in SQL.

The same staging loader as the address import (`gis_core.staging`); one statement maps and
checks every row (validity with `ST_IsValidReason`, or repair with `ST_MakeValid` when asked),
then only new and changed areas are written. The addresses inside new or reshaped areas are
re-linked once, set-based, and each new or reshaped area publishes its event.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Mapping

from django.db import connection, transaction
from django.utils import timezone

from areas import assignment
from areas.events import AREA_CREATED, AREA_RESHAPED, AreaCreated, AreaReshaped
from areas.figures import refresh_figures
from areas.lifecycle import AreaPhase
from areas.models import Area
from common.events import publish
from gis_core.models import Address
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

__all__ = ["AREA_FIELDS", "ImportFailed", "ImportReport", "import_areas"]

logger = logging.getLogger(__name__)

# Target field → the file properties it is read from by default (first one present wins).
AREA_FIELDS: dict[str, tuple[str, ...]] = {
    "code": ("code", "postcode", "id"),
    "name": ("name",),
    "target_take_rate": ("target_take_rate",),
}
# Columns named like what oanm itself keeps or derives for an area (as its exports and the
# OGC API write them) are never read into the attributes: a file exported from oanm and
# imported back changes only what was edited.
OANM_AREA_PROPERTIES = frozenset(
    {
        "phase", "phase_changed_at", "is_active", "deleted_at", "parent_id", "addresses",
        "homes", "orders", "interests", "take_rate", "expected_connection_from",
        "expected_connection_until", "deploys_at_target", "created_at", "updated_at",
    }
)  # fmt: skip
LOCK_NAME = "oanm.import_areas"  # one area import at a time
WORK_TABLE = "oanm_area_import"
POLYGONAL = ("ST_Polygon", "ST_MultiPolygon")


def import_areas(
    path: str | os.PathLike,
    *,
    mapping: Mapping[str, str] | None = None,
    srs: str | None = None,
    where: str | None = None,
    layer: str | None = None,
    make_valid: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Create or update the planning areas of a GIS file, keyed by their code.

    Invalid polygons are rejected with `ST_IsValidReason`, or repaired with `ST_MakeValid`
    when `make_valid` is set (listed in `report.repaired` and logged). Running the same
    file twice changes nothing the second time. New areas start in planning.
    Raises ImportFailed (nothing changed) when the file cannot be read or mapped.
    """
    started = time.monotonic()
    check_mapping_targets(mapping, AREA_FIELDS)
    report = ImportReport(import_id=str(uuid.uuid4()))
    with staged_file(
        path, prefix="areas", srs=srs, where=where, layer=layer, progress=progress
    ) as staged:
        resolved = resolve_mapping(staged.columns, mapping, AREA_FIELDS)
        require_mapped(resolved, "code", columns=staged.columns)
        report.read = staged.rows
        with transaction.atomic():
            _upsert(staged, resolved, make_valid=make_valid, report=report, progress=progress)
    report.elapsed = time.monotonic() - started
    for row, code, reason in report.repaired:
        logger.info(
            "area %s (row %s) was invalid and repaired with ST_MakeValid: %s", code, row, reason
        )
    logger.debug("area import from %s: %s", path, report.summary())
    return report


def _checks_sql(
    staged: StagingTable, resolved: Mapping[str, str | None], *, make_valid: bool, cursor
) -> tuple[str, list[str]]:
    """One statement: every staged row mapped, checked (a reason or NULL) and matched by code."""
    mapped = {target: column for target, column in resolved.items() if column}
    attribute_columns = [
        c
        for c in staged.columns
        if c not in set(mapped.values()) and c.lower() not in OANM_AREA_PROPERTIES
    ]
    attributes_sql, attribute_params = json_object_sql(attribute_columns, "staged")
    transformed = to_wgs84_sql("mapped.source_geom", staged.srid, cursor)
    code_max = Area._meta.get_field("code").max_length
    name_max = Area._meta.get_field("name").max_length

    def text(target: str) -> str:
        column = mapped.get(target)
        return f"coalesce(btrim(staged.{quote(column)}), '')" if column else "''"

    if make_valid:
        invalid_check = (
            "ST_IsEmpty(windowed.boundary)",
            "'invalid polygon that ST_MakeValid cannot repair: ' || windowed.invalid_reason",
        )
    else:
        invalid_check = (
            "windowed.invalid_reason IS NOT NULL",
            "'invalid polygon: ' || windowed.invalid_reason",
        )
    hint = (
        "; if the file is projected, give its CRS with --srs" if staged.srid in (WGS84, 0) else ""
    )
    checks = [
        ("windowed.code = ''", "'missing code'"),
        ("windowed.source_geom IS NULL", "'no geometry'"),
        (
            f"windowed.geometry_type NOT IN {POLYGONAL!r}",
            "'not a polygon: expected a Polygon or MultiPolygon, got a '"
            " || substr(windowed.geometry_type, 4)",
        ),
        ("ST_IsEmpty(windowed.source_geom)", "'empty geometry'"),
        (
            "windowed.transformed IS NULL",
            f"'cannot transform from {srid_label(staged.srid)} to EPSG:4326:"
            " outside the projection''s domain'",
        ),
        (
            "NOT (ST_XMin(windowed.transformed) >= -180 AND ST_XMax(windowed.transformed) <= 180"
            " AND ST_YMin(windowed.transformed) >= -90 AND ST_YMax(windowed.transformed) <= 90)",
            "'coordinates out of range (lon ' || ST_XMin(windowed.transformed) || '..'"
            " || ST_XMax(windowed.transformed) || ', lat ' || ST_YMin(windowed.transformed)"
            " || '..' || ST_YMax(windowed.transformed) || '): lon must be within -180..180 and"
            f" lat within -90..90{hint}'",
        ),
        invalid_check,
        (f"length(windowed.code) > {code_max}", f"'code is longer than {code_max} characters'"),
        (
            "windowed.code !~ '^[-a-zA-Z0-9_]+$'",
            "'code must be a slug (letters, digits, - and _), not '"
            " || quote_literal(windowed.code)",
        ),
        (f"length(windowed.name) > {name_max}", f"'name is longer than {name_max} characters'"),
        (
            "windowed.take_rate_text <> '' AND (windowed.take_rate IS NULL"
            " OR windowed.take_rate NOT BETWEEN 0 AND 1)",
            "'target take rate must be between 0 and 1 (e.g. 0.4 for 40%%), not '"
            " || quote_literal(windowed.take_rate_text)",
        ),
        (
            "windowed.first_row <> windowed.file_row",
            "'duplicate code (first in row ' || windowed.first_row || ')'",
        ),
    ]
    reason_sql = "\n".join(f"WHEN {condition} THEN {reason}" for condition, reason in checks)
    repaired = "ST_Multi(ST_CollectionExtract(ST_MakeValid(valid.transformed), 3))"
    sql = f"""
CREATE TEMP TABLE {WORK_TABLE} AS
SELECT checked.file_row, checked.code, checked.name, checked.take_rate, checked.boundary,
       checked.invalid_reason, checked.raw_attributes, checked.reject_reason,
       area.id AS area_id
  FROM (
    SELECT windowed.*, CASE {reason_sql} END AS reject_reason
      FROM (
        SELECT valid.*,
               CASE WHEN valid.invalid_reason IS NULL THEN ST_Multi(valid.transformed)
                    {f"ELSE {repaired}" if make_valid else ""} END AS boundary,
               min(valid.file_row) OVER (PARTITION BY valid.code COLLATE "C") AS first_row
          FROM (
            SELECT polygonal.*,
                   CASE WHEN NOT ST_IsValid(polygonal.transformed)
                        THEN ST_IsValidReason(polygonal.transformed) END AS invalid_reason
              FROM (
                SELECT mapped.*,
                       CASE WHEN mapped.geometry_type IN {POLYGONAL!r}
                             AND NOT ST_IsEmpty(mapped.source_geom)
                            THEN {transformed} END AS transformed,
                       CASE WHEN mapped.take_rate_text ~ '^[0-9]*[.]?[0-9]+$'
                            THEN round(mapped.take_rate_text::numeric, 4) END AS take_rate
                  FROM (
                    SELECT staged.{quote(ROW_COLUMN)} AS file_row,
                           {text("code")} AS code,
                           {text("name")} AS name,
                           {text("target_take_rate")} AS take_rate_text,
                           staged.{quote(GEOMETRY_COLUMN)} AS source_geom,
                           ST_GeometryType(staged.{quote(GEOMETRY_COLUMN)}) AS geometry_type,
                           {attributes_sql} AS raw_attributes
                      FROM {staged.qualified} AS staged
                    OFFSET 0
                  ) AS mapped
                OFFSET 0
              ) AS polygonal
            OFFSET 0
          ) AS valid
        OFFSET 0
      ) AS windowed
    OFFSET 0
  ) AS checked
  LEFT JOIN {Area._meta.db_table} AS area
         ON checked.reject_reason IS NULL AND area.code = checked.code
"""
    return sql, attribute_params


def _upsert(
    staged: StagingTable,
    resolved: Mapping[str, str | None],
    *,
    make_valid: bool,
    report: ImportReport,
    progress: ProgressCallback | None,
) -> None:
    area_table = Area._meta.db_table
    now = timezone.now()
    default_rate = Area._meta.get_field("target_take_rate").default

    def step(stage: str, done: int, total: int) -> None:
        if progress:
            progress(stage, done, total)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [LOCK_NAME])
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{WORK_TABLE}")
        step("validating", 0, 1)
        sql, attribute_params = _checks_sql(staged, resolved, make_valid=make_valid, cursor=cursor)
        cursor.execute(sql, attribute_params)
        cursor.execute(
            f"""
            SELECT file_row, code, reject_reason, invalid_reason FROM {WORK_TABLE}
             WHERE reject_reason IS NOT NULL OR invalid_reason IS NOT NULL ORDER BY file_row
            """
        )
        for row, code, reject_reason, invalid_reason in cursor.fetchall():
            if reject_reason:
                report.rejected.append(Rejection(row, code, reject_reason))
            else:
                report.repaired.append(Rejection(row, code, invalid_reason))
        step("validating", 1, 1)

        step("upserting", 0, 2)
        # Unmapped name and take rate keep their stored values; attributes are merged.
        name = "coalesce(nullif(work.name, ''), work.code)" if resolved["name"] else "current.name"
        rate = "coalesce(work.take_rate, current.target_take_rate)"
        attributes = "jsonb_strip_nulls(current.attributes || work.raw_attributes)"
        cursor.execute(
            f"""
            WITH written AS (
                UPDATE {area_table} AS target
                   SET name = {name}, boundary = work.boundary, target_take_rate = {rate},
                       attributes = {attributes}, updated_at = %s
                  FROM {WORK_TABLE} AS work
                  JOIN {area_table} AS current ON current.id = work.area_id
                 WHERE work.reject_reason IS NULL AND target.id = work.area_id
                   AND (current.name, current.boundary, current.target_take_rate,
                        current.attributes)
                       IS DISTINCT FROM ({name}, work.boundary, {rate}, {attributes})
             RETURNING target.id, current.boundary IS DISTINCT FROM work.boundary AS reshaped
            )
            SELECT id, reshaped FROM written ORDER BY id
            """,
            [now],
        )
        written = cursor.fetchall()
        reshaped = [area_id for area_id, is_reshaped in written if is_reshaped]
        step("upserting", 1, 2)
        cursor.execute(
            f"""
            INSERT INTO {area_table}
                   (created_at, updated_at, name, code, boundary, phase, target_take_rate,
                    is_active, attributes)
            SELECT %s, %s, coalesce(nullif(work.name, ''), work.code), work.code, work.boundary,
                   %s, coalesce(work.take_rate, %s), true, jsonb_strip_nulls(work.raw_attributes)
              FROM {WORK_TABLE} AS work
             WHERE work.reject_reason IS NULL AND work.area_id IS NULL
             ORDER BY work.file_row
            RETURNING id, code
            """,
            [now, now, AreaPhase.PLANNING, default_rate],
        )
        created = sorted(cursor.fetchall())
        cursor.execute(
            f"SELECT count(*) FROM {WORK_TABLE} WHERE reject_reason IS NULL AND area_id IS NOT NULL"
        )
        matched = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {WORK_TABLE}")
        step("upserting", 2, 2)

        report.created = len(created)
        report.updated = len(written)
        report.moved = len(reshaped)
        report.unchanged = matched - report.updated
        if not created and not reshaped:
            return
        step("linking", 0, 1)
        address_table = Address._meta.db_table
        if reshaped:
            cursor.execute("DROP TABLE IF EXISTS pg_temp.oanm_area_links")
            cursor.execute(
                f"CREATE TEMP TABLE oanm_area_links AS"
                f" SELECT id, area_id FROM {address_table} WHERE area_id = ANY(%s)",
                [reshaped],
            )
        changed_ids = [area_id for area_id, _ in created] + reshaped
        relinked = assignment.assign_addresses_near_areas(changed_ids)
        refresh_figures(relinked.areas | set(changed_ids))
        reassigned: dict[int, int] = {}
        if reshaped:
            # Per reshaped area: the addresses that left it plus those that joined it.
            cursor.execute(
                f"""
                SELECT moves.area_id, count(*) FROM (
                    SELECT before.area_id FROM oanm_area_links AS before
                      JOIN {address_table} AS now ON now.id = before.id
                     WHERE now.area_id IS DISTINCT FROM before.area_id
                    UNION ALL
                    SELECT now.area_id FROM {address_table} AS now
                      LEFT JOIN oanm_area_links AS before ON before.id = now.id
                     WHERE now.area_id = ANY(%s)
                       AND now.area_id IS DISTINCT FROM before.area_id
                ) AS moves GROUP BY moves.area_id
                """,
                [reshaped],
            )
            reassigned = dict(cursor.fetchall())
            cursor.execute("DROP TABLE oanm_area_links")
        step("linking", 1, 1)
    for area_id, code in created:
        publish(AREA_CREATED, AreaCreated(area_id=area_id, code=code))
    for area_id in reshaped:
        publish(
            AREA_RESHAPED,
            AreaReshaped(
                area_id=area_id,
                addresses_reassigned=reassigned.get(area_id, 0),
                areas_touched=sorted(relinked.areas),
            ),
        )
