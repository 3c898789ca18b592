"""The address→area link, kept right by one set-based UPDATE (never a Python loop).

An address belongs to the active area that contains it (boundary included); where active
areas overlap, to the oldest one (lowest id), so the answer is deterministic. Addresses
outside every active area get no area. Only rows whose link changes are written.

Each function returns the ids of the areas that lost or gained addresses, so their demand
figures can be refreshed (`areas.figures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from areas.models import Area
from gis_core.models import Address

# Area-driven, not point-driven: the join lets PostGIS test each area's polygon against the
# points in its bounding box (the polygon stays prepared across those tests), and lets the
# planner pick the direction, so a few ids probe the area index while the whole table costs
# about what a bare UPDATE … FROM … ST_Intersects does. A correlated "SELECT … LIMIT 1 per
# address" was evaluated twice per row and cost 3× the bare UPDATE on 1M addresses.
# `linked` are the candidates' current links, `best` their lowest-id containing active area;
# the FULL JOIN keeps only the links that change (set, moved or cleared).
_ASSIGN_SQL = """
WITH candidate AS NOT MATERIALIZED (
    SELECT candidate.id, candidate.location, candidate.area_id
      FROM {address} AS candidate
     {where}
), relinked AS (
    UPDATE {address} AS target
    SET area_id = change.area_id
    FROM (
        SELECT coalesce(best.id, linked.id) AS id, best.area_id, linked.area_id AS old_area_id
          FROM (SELECT id, area_id FROM candidate WHERE area_id IS NOT NULL) AS linked
          FULL JOIN (
              SELECT DISTINCT ON (candidate.id) candidate.id, area.id AS area_id
                FROM candidate
                JOIN {area} AS area
                  ON area.is_active AND ST_Intersects(area.boundary, candidate.location)
               ORDER BY candidate.id, area.id
          ) AS best ON best.id = linked.id
         WHERE linked.area_id IS DISTINCT FROM best.area_id
    ) AS change
    WHERE target.id = change.id
    RETURNING change.old_area_id, change.area_id
)
SELECT (SELECT count(*) FROM relinked),
       (SELECT array_remove(array_agg(DISTINCT touched), NULL)
          FROM relinked,
               LATERAL (VALUES (relinked.old_area_id), (relinked.area_id)) AS side(touched))
"""


@dataclass(frozen=True)
class Relinked:
    """What a re-assignment changed: how many addresses, and which areas lost or gained some."""

    addresses: int = 0
    areas: frozenset[int] = frozenset()


# The same rule and the same area-driven join (`best` above), over the rows an address
# import is about to write (gis_core.events.AddressesStaged): each gets its area in the
# import's area table before anything is written, so the import writes every address
# once, link included. A row that had an area and now lies in none is recorded with NULL;
# a row with no entry keeps its area. The area-driven join needs the points indexed: a
# GiST index on the rows to write takes about as long to build as the join itself, while
# probing the area index once per point instead costs 10-20 times more. Answers are
# inserted into a narrow table rather than written into the wide work table: an UPDATE
# of a million work rows cost more than building the index and the join together.
_STAGED_INDEX = "areas_staged_location"
_ASSIGN_STAGED_SQL = (
    "CREATE INDEX {index} ON {work} USING gist (location) WHERE is_written",
    """
INSERT INTO {areas} (file_row, area_id)
SELECT DISTINCT ON (candidate.file_row) candidate.file_row, area.id
  FROM {work} AS candidate
  JOIN {area} AS area
    ON area.is_active AND ST_Intersects(area.boundary, candidate.location)
 WHERE candidate.is_written
 ORDER BY candidate.file_row, area.id
""",
    """
INSERT INTO {areas} (file_row, area_id)
SELECT departed.file_row, NULL
  FROM {work} AS departed
 WHERE departed.is_written AND departed.previous_area_id IS NOT NULL
   AND NOT EXISTS (SELECT FROM {areas} AS found WHERE found.file_row = departed.file_row)
""",
    "DROP INDEX pg_temp.{index}",
)


def _run(where: str, params: Sequence) -> Relinked:
    sql = _ASSIGN_SQL.format(address=Address._meta.db_table, area=Area._meta.db_table, where=where)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count, touched = cursor.fetchone()
    return Relinked(addresses=count, areas=frozenset(touched or ()))


def assign_all_addresses() -> Relinked:
    """Re-derive the area of every address; returns the areas that lost or gained some."""
    return _run("", [])


def assign_addresses(address_ids: Sequence[int]) -> Relinked:
    """Re-derive the area of the given addresses (after they were created or moved)."""
    if not address_ids:
        return Relinked()
    return _run("WHERE candidate.id = ANY(%s)", [list(address_ids)])


def assign_staged_rows(work_table: str, area_table: str) -> None:
    """Find the area of every row an address import is about to write.

    The tables are the (schema-qualified) ones the `addresses.staged` event names: the
    answers go into `area_table` as (file_row, area_id).
    """
    names = {
        "work": work_table,
        "areas": area_table,
        "area": Area._meta.db_table,
        "index": _STAGED_INDEX,
    }
    with connection.cursor() as cursor:
        for statement in _ASSIGN_STAGED_SQL:
            cursor.execute(statement.format(**names))


def assign_addresses_near_areas(area_ids: Sequence[int]) -> Relinked:
    """Re-derive the area of every address linked to, or lying inside, the given areas.

    Used when areas are created, reshaped, split or retired: only the addresses those
    boundaries (old or new) can affect are looked at.
    """
    if not area_ids:
        return Relinked()
    where = f"""
     WHERE candidate.id IN (
         SELECT linked.id FROM {Address._meta.db_table} AS linked WHERE linked.area_id = ANY(%s)
         UNION
         SELECT inside.id FROM {Address._meta.db_table} AS inside
           JOIN {Area._meta.db_table} AS changed
             ON changed.id = ANY(%s) AND ST_Intersects(changed.boundary, inside.location)
     )"""
    ids = list(area_ids)
    return _run(where, [ids, ids])
