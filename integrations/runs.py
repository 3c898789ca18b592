"""Sync runs on demand and on schedule: start one on a worker, carry one out, read them.

A run itself is the system's importer (`integrations.registry`), which records its
`SyncRun` row and commits its counts page by page: the row is the run's progress
(fetched of total), read by the integrations page while the worker is busy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from common.errors import DomainError, NotFound
from common.models import OutboxMessage, OutboxStatus
from integrations.iqgeo.models import SyncRun
from integrations.models import SyncConflict
from integrations.registry import SYSTEMS, SyncSystem, sync_system
from integrations.safety import SyncAlreadyRunning, sync_is_running

logger = logging.getLogger(__name__)


class SyncUnavailable(DomainError):
    """The system cannot be synced now (switched off, not configured, not installed)."""

    code = "sync_unavailable"
    status_code = 409


def _system(key: str) -> SyncSystem:
    system = sync_system(key)
    if system is None:
        raise NotFound(f"there is no GIS system {key!r} (known: {', '.join(SYSTEMS)})")
    return system


def sync_request(*, system: str, full: bool, actor=None) -> datetime:
    """Hand a run of `system` to a worker after commit; returns when it was asked for.

    Refused (SyncUnavailable) when the system is off, not configured or not installed, and
    (SyncAlreadyRunning) while a run of it holds the sync lock. Two requests at once are
    still safe: the sync lock lets only one worker run a system at a time, and the other
    task is skipped.
    """
    from integrations.tasks import sync_run_task

    target = _system(system)
    reason = target.unavailable_reason()
    if reason:
        raise SyncUnavailable(f"{target.label} cannot be synced: {reason}")
    if sync_is_running(system):
        raise SyncAlreadyRunning(
            f"a sync of {target.label} is already running: its progress is shown; start"
            " another one when it has finished"
        )
    requested_at = timezone.now()
    logger.info(
        "%s sync (%s) requested by %s",
        target.label,
        "full" if full else "incremental",
        getattr(actor, "username", "schedule"),
    )
    transaction.on_commit(lambda: sync_run_task.delay(system, full))
    return requested_at


def sync_run(*, system: str, full: bool = False) -> SyncRun | None:
    """Carry out one run of `system` now (a worker's job); None when it was skipped because
    the system is off or another run of it holds the lock (both logged)."""
    target = _system(system)
    reason = target.unavailable_reason()
    if reason:
        logger.info("%s sync skipped: %s", target.label, reason)
        return None
    importer = target.load()
    try:
        return importer(full=full)
    except SyncAlreadyRunning as exc:
        logger.info("%s sync skipped: %s", target.label, exc)
        return None


# --- reads --------------------------------------------------------------------------------


def runs_list(*, system: str = ""):
    """The sync runs, newest first (of one system when given)."""
    runs = SyncRun.objects.order_by("-started_at", "-id")
    return runs.filter(system=system) if system else runs


def run_latest(*, system: str) -> SyncRun | None:
    return runs_list(system=system).first()


def run_is_live(run: SyncRun | None) -> bool:
    """The run is marked running and a process holds its system's sync lock (a run marked
    running without the lock was killed: the next run of its mode resumes it)."""
    return run is not None and run.status == SyncRun.Status.RUNNING and sync_is_running(run.system)


def run_progress(*, system: str, since: datetime | None = None) -> dict:
    """What a progress indicator shows for `system`: its latest run and a state —
    `running`, `finished` (a run ended at or after `since`), `interrupted` (marked running,
    but no process holds the lock; only without `since`) or `waiting` (for a worker)."""
    run = run_latest(system=system)
    if run_is_live(run):
        state = "running"
    elif since is None and run is not None and run.status == SyncRun.Status.RUNNING:
        state = "interrupted"
    elif run is not None and run.finished_at and (since is None or run.finished_at >= since):
        state = "finished"
    else:
        state = "waiting"
    return {"system": system, "state": state, "run": run_as_json(run) if run else None}


def run_as_json(run: SyncRun) -> dict:
    """A run's figures as plain JSON values (the status endpoint's answer)."""
    percent = round(100 * run.fetched / run.total) if run.total else None
    return {
        "id": run.pk,
        "system": run.system,
        "mode": run.mode,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_seconds": round(run.duration_seconds, 3),
        "total": run.total,
        "fetched": run.fetched,
        "percent": min(percent, 100) if percent is not None else None,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "rejected": run.rejected,
        "retired": run.retired,
        "conflicts": run.conflicts,
        "errors": run.errors,
        "resumed": run.resumed,
    }


def runs_recent_figures(*, system: str, count: int = 20) -> list[dict]:
    """The counts and durations of the latest `count` runs of `system`, oldest first (the
    overview's chart)."""
    rows = runs_list(system=system).values(
        "pk",
        "started_at",
        "mode",
        "status",
        "created",
        "updated",
        "rejected",
        "retired",
        "duration_seconds",
    )[:count]
    return [
        {
            "id": row["pk"],
            "label": timezone.localtime(row["started_at"]).strftime("%d %b %H:%M"),
            "mode": row["mode"],
            "status": row["status"],
            "created": row["created"],
            "updated": row["updated"],
            "rejected": row["rejected"],
            "retired": row["retired"],
            "seconds": round(row["duration_seconds"], 2),
        }
        for row in reversed(list(rows))
    ]


@dataclass(frozen=True)
class OutboxBacklog:
    """The write-back messages of one system that have not reached it yet."""

    pending: int
    dead: int
    oldest: datetime | None
    last_error: str
    last_error_attempts: int

    @property
    def is_empty(self) -> bool:
        return not (self.pending or self.dead)


def outbox_backlog(*, system: str) -> OutboxBacklog:
    """Pending and dead outbox deliveries of `system`'s handlers: how many, the oldest, and
    the latest error (so an operator sees that nothing is lost while the other side is
    down). Two statements."""
    target = _system(system)
    waiting = OutboxMessage.objects.filter(
        handler__startswith=target.outbox_prefix,
        status__in=[OutboxStatus.PENDING, OutboxStatus.DEAD],
    )
    figures = waiting.aggregate(
        pending=Count("id", filter=Q(status=OutboxStatus.PENDING)),
        dead=Count("id", filter=Q(status=OutboxStatus.DEAD)),
        oldest=Min("created_at"),
    )
    failed = waiting.exclude(last_error="").order_by("-next_attempt_at", "-id").first()
    return OutboxBacklog(
        pending=figures["pending"],
        dead=figures["dead"],
        oldest=figures["oldest"],
        last_error=failed.last_error if failed else "",
        last_error_attempts=failed.attempts if failed else 0,
    )


# --- the conflict log (written by the importers through integrations.safety) ------------

CONFLICT_STATES = ("open", "resolved", "all")


def conflicts_filtered(*, system: str = "", state: str = "open", run: int | None = None):
    """Conflicts, newest first: open, resolved or all, of one system or run when given."""
    conflicts = SyncConflict.objects.select_related("address", "resolved_by").order_by(
        "-detected_at", "-id"
    )
    if system:
        conflicts = conflicts.filter(system=system)
    if run is not None:
        conflicts = conflicts.filter(run_id=run)
    if state == "open":
        conflicts = conflicts.filter(resolved_at__isnull=True)
    elif state == "resolved":
        conflicts = conflicts.filter(resolved_at__isnull=False)
    return conflicts


def conflicts_open_counts() -> dict[str, int]:
    """Open conflicts per system (one statement)."""
    rows = (
        SyncConflict.objects.filter(resolved_at__isnull=True)
        .values("system")
        .annotate(open=Count("id"))
    )
    return {row["system"]: row["open"] for row in rows}
