"""Reading the change log: pages of changes behind a cursor that never skips a late commit.

A change's place in the feed is (xid, id): the writing transaction's id, then the log row's.
A page holds only rows whose transaction is older than the reader's snapshot horizon
(`xid < pg_snapshot_xmin(pg_current_snapshot())`, narrowed to this database's transactions:
HORIZON_SQL): every transaction below the horizon that could write here has ended, so those
rows are final, and any row committed later comes from a transaction at or
above the horizon, which sorts after every row served. The cursor is the (xid, id) of the
last row served. (The log row id alone would not do: a transaction that took its ids early
can commit after a younger one whose higher ids were already served.)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.db import connection, transaction
from django.db.models import Prefetch

from areas.models import Area
from common.errors import DomainError
from gis_core.models import Address, ExternalReference
from integrations.sync.models import Change, ChangeEntity, ChangeOp, ChangePrune

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
START = "0"
CURSOR_PATTERN = re.compile(r"^(\d{1,19})\.(\d{1,19})$")


@dataclass(frozen=True)
class Cursor:
    xid: int
    id: int

    def __str__(self) -> str:
        return f"{self.xid}.{self.id}"


def parse_cursor(text: str | None) -> Cursor:
    """The position after which to read: `0` (or nothing) is the start of the feed."""
    text = (text or "").strip()
    if text in ("", START):
        return Cursor(0, 0)
    match = CURSOR_PATTERN.match(text)
    if not match:
        raise DomainError(
            f"since must be 0 or a next_cursor this feed returned (such as 812.4031), not {text!r}",
            code="invalid",
            field="since",
        )
    return Cursor(int(match[1]), int(match[2]))


def parse_limit(text: str | None) -> int:
    if text in (None, ""):
        return DEFAULT_LIMIT
    if not str(text).isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise DomainError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}",
            code="invalid",
            field="limit",
        )
    return int(text)


class CursorExpired(DomainError):
    """The changes after the reader's cursor were pruned: it must take a full copy again."""

    code = "cursor_expired"
    status_code = 410


@transaction.atomic
def changes_prune(*, keep_days: int | None = None) -> int:
    """Forget the changes older than `keep_days` (SYNC_CHANGES_KEEP_DAYS), in one DELETE.

    What goes is everything up to the newest old change below the reader's horizon, so the
    log never has a hole: a reader behind that point gets 410 (`CursorExpired`) instead of a
    feed that skips. Returns the rows deleted.
    """
    days = settings.SYNC_CHANGES_KEEP_DAYS if keep_days is None else keep_days
    table = Change._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT xid, id FROM {table}
             WHERE changed_at < now() - make_interval(days => %s) AND xid < ({HORIZON_SQL})
             ORDER BY xid DESC, id DESC
             LIMIT 1
            """,
            [days],
        )
        through = cursor.fetchone()
        if through is None:
            return 0
        cursor.execute(f"DELETE FROM {table} WHERE (xid, id) <= (%s, %s)", list(through))
        deleted = cursor.rowcount
    ChangePrune.objects.create(through_xid=through[0], through_id=through[1], rows=deleted)
    return deleted


@dataclass
class Page:
    changes: list[dict]
    next_cursor: Cursor
    has_more: bool


def changes_page(*, since: Cursor, limit: int = DEFAULT_LIMIT) -> Page:
    """Up to `limit` changes after `since`, each with its entity's current state (None
    once the entity is gone: its delete follows). At most four queries whatever the page
    holds: the change rows, the addresses, their external references, the areas. A cursor
    older than the log's last pruning is refused (`CursorExpired`)."""
    pruned, rows = _change_rows(since, limit + 1)
    if pruned is not None and (since.xid, since.id) < (pruned.xid, pruned.id):
        raise CursorExpired(
            f"the changes after {since} were pruned (the log keeps"
            f" {settings.SYNC_CHANGES_KEEP_DAYS} days): take a full copy (the OGC API at /ogc/),"
            f" then read on with since={pruned}",
            field="since",
        )
    has_more = len(rows) > limit
    rows = rows[:limit]
    address_ids = {r[1] for r in rows if r[0] == ChangeEntity.ADDRESS and r[2] != ChangeOp.DELETE}
    area_ids = {r[1] for r in rows if r[0] == ChangeEntity.AREA and r[2] != ChangeOp.DELETE}
    addresses = _addresses(address_ids)
    areas = _areas(area_ids)
    changes = []
    for entity, entity_id, op, xid, change_id, changed_at in rows:
        states = addresses if entity == ChangeEntity.ADDRESS else areas
        changes.append(
            {
                "cursor": str(Cursor(xid, change_id)),
                "entity": entity,
                "id": entity_id,
                "op": op,
                "changed_at": changed_at,
                "feature": None if op == ChangeOp.DELETE else states.get(entity_id),
            }
        )
    next_cursor = Cursor(rows[-1][3], rows[-1][4]) if rows else since
    return Page(changes=changes, next_cursor=next_cursor, has_more=has_more)


# The reader's horizon: the oldest transaction still running in its snapshot that could
# have written this database (`pg_snapshot_xmin`, but without the transactions that
# pg_stat_activity shows connected to another database of the cluster: they cannot write
# here, and a long one elsewhere would hold the feed back). A running transaction whose
# database is not known (another role's session, a prepared transaction) counts as ours:
# it can delay the feed, never make it skip. Activity rows name xids mod 2^32.
HORIZON_SQL = """
    SELECT least(
               pg_snapshot_xmax(s)::text::bigint,
               (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x
                 WHERE mod(x::text::bigint, 4294967296) NOT IN (
                       SELECT backend_xid::text::bigint FROM pg_stat_activity
                        WHERE backend_xid IS NOT NULL
                          AND datname IS DISTINCT FROM current_database())))
      FROM (SELECT pg_current_snapshot() AS s) AS snapshot
"""


def _change_rows(since: Cursor, limit: int) -> tuple[Cursor | None, list[tuple]]:
    """How far the log was pruned, and the rows: one statement, so the horizon, the rows and
    the pruning come from the same snapshot (and a page costs no extra query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT pruned.through_xid, pruned.through_id,
                   change.entity, change.entity_id, change.op, change.xid, change.id,
                   change.changed_at
              FROM (SELECT 1) AS one
              LEFT JOIN (SELECT through_xid, through_id FROM {ChangePrune._meta.db_table}
                          ORDER BY through_xid DESC, through_id DESC LIMIT 1) AS pruned ON true
              LEFT JOIN LATERAL (
                    SELECT entity, entity_id, op, xid, id, changed_at
                      FROM {Change._meta.db_table}
                     WHERE (xid, id) > (%s, %s) AND xid < ({HORIZON_SQL})
                     ORDER BY xid, id
                     LIMIT %s) AS change ON true
             ORDER BY change.xid, change.id
            """,
            [since.xid, since.id, limit],
        )
        found = cursor.fetchall()
    pruned = Cursor(found[0][0], found[0][1]) if found[0][0] is not None else None
    return pruned, [row[2:] for row in found if row[2] is not None]


def _addresses(ids: set[int]) -> dict[int, dict]:
    if not ids:
        return {}
    rows = (
        Address.objects.filter(pk__in=ids)
        .annotate(geojson=AsGeoJSON("location", precision=8))
        .defer("location")
        .prefetch_related(
            Prefetch("external_refs", queryset=ExternalReference.objects.order_by("system"))
        )
        .order_by()
    )
    return {a.pk: address_feature(a) for a in rows}


def address_feature(address: Address) -> dict:
    """An address as a GeoJSON Feature: what a GIS needs to draw, find and key it."""
    return {
        "type": "Feature",
        "id": address.pk,
        "geometry": json.loads(address.geojson),
        "properties": {
            "street": address.street,
            "house_number": address.house_number,
            "unit": address.unit,
            "postcode": address.postcode,
            "city": address.city,
            "country": address.country,
            "label": address.label,
            "premises_type": address.premises_type,
            "units": address.units,
            "status": address.status,
            "status_changed_at": address.status_changed_at,
            "area_id": address.area_id,
            "circuit_ref": address.circuit_ref,
            "circuit_name": address.circuit_name,
            "retired_at": address.retired_at,
            "retired_reason": address.retired_reason,
            "attributes": address.attributes,
            "external_refs": {r.system: r.external_id for r in address.external_refs.all()},
            "updated_at": address.updated_at,
        },
    }


def _areas(ids: set[int]) -> dict[int, dict]:
    if not ids:
        return {}
    rows = (
        Area.objects.filter(pk__in=ids)
        .annotate(geojson=AsGeoJSON("boundary", precision=8))
        .defer("boundary")
        .order_by()
    )
    return {a.pk: area_feature(a) for a in rows}


def area_feature(area: Area) -> dict:
    return {
        "type": "Feature",
        "id": area.pk,
        "geometry": json.loads(area.geojson),
        "properties": {
            "code": area.code,
            "name": area.name,
            "phase": area.phase,
            "phase_changed_at": area.phase_changed_at,
            "is_active": area.is_active,
            "deleted_at": area.deleted_at,
            "parent_id": area.parent_id,
            "target_take_rate": str(area.target_take_rate),
            "expected_connection_from": area.expected_connection_from,
            "expected_connection_until": area.expected_connection_until,
            "attributes": area.attributes,
            "updated_at": area.updated_at,
        },
    }
