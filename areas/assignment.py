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


def assign_imported_addresses(import_id: str) -> Relinked:
    """Re-derive the area of the addresses a bulk import created or changed."""
    return _run("WHERE candidate.last_import_id = %s", [import_id])


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
