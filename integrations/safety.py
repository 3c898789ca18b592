"""Sync safety shared by every GIS integration (IQGeo, VETRO, …): one run per system at a
time, who owns which field, the conflict log, and retiring what disappeared.

- `sync_lock(system)`: a PostgreSQL session advisory lock held, on a connection of its own,
  for the whole run; a second run of the same system is refused (`SyncAlreadyRunning`),
  never queued and never run twice. A killed process loses its connection and with it the
  lock, so nothing is left to clean up.
- `OWNERSHIP`: the remote (the GIS of record) owns the address fields, the location and the
  circuit; oanm owns the commercial state (status, ISP, service, dates). An import writes
  only the remote's fields; a write-back sends only oanm's.
- `SyncState` (per system and external id) keeps the values last pulled and last pushed; a
  side changed a field when its value differs from the last synced one. When both changed
  the same field, the owner wins and `conflicts_record` logs both values (`SyncConflict`);
  an operator closes a conflict with `conflict_resolve`.
- `features_retire_missing`: after a complete full run, the addresses of the system whose
  reference the run did not see are retired (never deleted), set-based.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from common.errors import Conflict, DomainError
from gis_core.models import Address, ExternalReference
from gis_core.services import addresses_retire
from integrations.models import SyncConflict, SyncRun

logger = logging.getLogger(__name__)

REMOTE, OANM = SyncConflict.Winner.REMOTE.value, SyncConflict.Winner.OANM.value
# Field → the side that owns it (wins a conflict, and is the only one that writes it).
OWNERSHIP: dict[str, str] = {
    **{
        name: REMOTE
        for name in (
            "street",
            "house_number",
            "unit",
            "postcode",
            "city",
            "country",
            "location",
            "premises_type",
            "units",
            "circuit_ref",
            "circuit_name",
        )
    },
    **{
        name: OANM
        for name in (
            "status",
            "isp",
            "service",
            "service_name",
            "ordered_at",
            "connected_at",
            "activated_at",
        )
    },
}
LOCK_NAMESPACE = "oanm.sync"
SYSTEM_PATTERN = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")
_TABLE_PATTERN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$")


class SyncAlreadyRunning(Conflict):
    """Another run of the same system holds its lock."""

    code = "sync_already_running"


def owner(field: str) -> str:
    """Who owns a field: "remote" (the GIS of record) or "oanm". Unknown fields (extra
    attributes read from the GIS) belong to the remote."""
    return OWNERSHIP.get(field, REMOTE)


def _checked_system(system: str) -> str:
    if not SYSTEM_PATTERN.match(system or ""):
        raise DomainError(f"system must be a short slug such as iqgeo, not {system!r}")
    return system


@contextlib.contextmanager
def sync_lock(system: str) -> Iterator[None]:
    """Hold the sync lock of `system` for the block, or raise `SyncAlreadyRunning`.

    The lock is a session-level advisory lock (keyed by the namespace and the system name)
    taken on a database connection of its own, so the run's own transactions, commits and
    reconnects never drop it; the block's end (or the process's death) releases it.
    """
    system = _checked_system(system)
    holder = connections.create_connection("default")
    try:
        holder.ensure_connection()
        with holder.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))",
                [LOCK_NAMESPACE, system],
            )
            if not cursor.fetchone()[0]:
                raise SyncAlreadyRunning(
                    f"a sync of {system} is already running; this one was not started"
                    " (wait for it to finish, then run again)"
                )
        try:
            yield
        finally:
            with contextlib.suppress(Exception), holder.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))",
                    [LOCK_NAMESPACE, system],
                )
    finally:
        holder.close()


def sync_is_running(system: str) -> bool:
    """Whether some session holds the sync lock of `system` now (for pages and checks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (
                SELECT FROM pg_locks
                 WHERE locktype = 'advisory' AND granted AND database = (
                       SELECT oid FROM pg_database WHERE datname = current_database())
                   AND classid = hashtext(%s)::oid AND objid = hashtext(%s)::oid
                   AND objsubid = 2)
            """,
            [LOCK_NAMESPACE, _checked_system(system)],
        )
        return cursor.fetchone()[0]


CONFLICT_FIELDS = ("external_id", "address_id", "field", "oanm_value", "remote_value", "winner")


@transaction.atomic
def conflicts_record(*, system: str, rows: list[dict[str, Any]], run: SyncRun | None = None) -> int:
    """Log conflicts in one INSERT: each row has external_id, field, oanm_value,
    remote_value, and optionally address_id and winner (default: the field's owner).
    Values are stored as text (None as ""). Returns how many were recorded."""
    system = _checked_system(system)
    if not rows:
        return 0
    now = timezone.now()
    conflicts = []
    for row in rows:
        unknown = set(row) - set(CONFLICT_FIELDS)
        if unknown:
            raise DomainError(f"a conflict has no {', '.join(sorted(unknown))}")
        field = str(row["field"])
        winner = row.get("winner") or owner(field)
        if winner not in SyncConflict.Winner.values:
            raise DomainError(f"a conflict's winner is oanm or remote, not {winner!r}")
        conflicts.append(
            SyncConflict(
                system=system,
                external_id=str(row["external_id"]),
                address_id=row.get("address_id"),
                field=field,
                oanm_value="" if row.get("oanm_value") is None else str(row["oanm_value"]),
                remote_value="" if row.get("remote_value") is None else str(row["remote_value"]),
                winner=winner,
                run=run,
                detected_at=now,
            )
        )
    SyncConflict.objects.bulk_create(conflicts, batch_size=1000)
    return len(conflicts)


@transaction.atomic
def conflict_resolve(
    *, conflict: SyncConflict, actor: User | None = None, note: str = ""
) -> SyncConflict:
    """An operator has looked at a conflict (and fixed what needed fixing): it is closed."""
    conflict = SyncConflict.objects.select_for_update().get(pk=conflict.pk)
    if conflict.resolved_at is not None:
        raise Conflict("this conflict is already resolved", code="already_resolved")
    conflict.resolved_at = timezone.now()
    conflict.resolved_by = actor
    conflict.note = (note or "").strip()
    conflict.save(update_fields=["resolved_at", "resolved_by", "note"])
    return conflict


@transaction.atomic
def conflicts_resolve(*, conflict_ids: list[int], actor: User | None = None, note: str = "") -> int:
    """Close many open conflicts in one UPDATE (already resolved ones are left as they are);
    returns how many it closed."""
    return SyncConflict.objects.filter(pk__in=list(conflict_ids), resolved_at=None).update(
        resolved_at=timezone.now(), resolved_by=actor, note=(note or "").strip()
    )


def _seen_sql(seen: Any) -> tuple[str, list[Any]]:
    """SQL (a one-column `external_id` relation) and its parameters for the seen ids."""
    if isinstance(seen, QuerySet):
        sql, params = seen.query.sql_with_params()
        return f"SELECT seen_query.* FROM ({sql}) AS seen_query(external_id)", list(params)
    if isinstance(seen, str):
        if not _TABLE_PATTERN.match(seen):
            raise DomainError(f"not a table name: {seen!r}")
        return f"SELECT external_id FROM {seen}", []
    if isinstance(seen, Iterable):
        return "SELECT unnest(%s::text[]) AS external_id", [[str(value) for value in seen]]
    raise DomainError("seen ids are a list of ids, a values_list queryset or a table name")


@transaction.atomic
def features_retire_missing(
    *, system: str, seen: Any, run: SyncRun | None = None, actor: User | None = None
) -> int:
    """Retire the live addresses of `system` whose external id is not in `seen`: call it
    after a complete full run only. `seen` is a list of ids, a
    `values_list("external_id", flat=True)` queryset, or the name of a (temp) table with an
    `external_id` column; it may hold hundreds of thousands of ids (one anti-join, no loop).
    Addresses are retired with reason "gone from <system>", never deleted. Returns how many.
    """
    system = _checked_system(system)
    sql, params = _seen_sql(seen)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT address.id
              FROM {ExternalReference._meta.db_table} AS reference
              JOIN {Address._meta.db_table} AS address ON address.id = reference.address_id
             WHERE reference.system = %s AND address.retired_at IS NULL
               AND NOT EXISTS (SELECT FROM ({sql}) AS seen
                                WHERE seen.external_id = reference.external_id)
            """,
            [system, *params],
        )
        missing = [row[0] for row in cursor.fetchall()]
    retired = addresses_retire(address_ids=missing, reason=f"gone from {system}", actor=actor)
    if retired:
        logger.info(
            "%s: %d addresses retired (gone from the source)%s",
            system,
            retired,
            f" after run {run.pk}" if run else "",
        )
    return retired
