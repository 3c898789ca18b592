"""Celery tasks of the integrations: a sync run of one GIS system (the page's buttons and
the beat's scheduled pulls)."""

from __future__ import annotations

from celery import shared_task

from integrations.runs import sync_run


@shared_task(soft_time_limit=6 * 3600, ignore_result=True)
def sync_run_task(system: str, full: bool = False) -> int | None:
    """Run (or resume) a sync of `system`; returns the run's id (None when skipped: the
    system is off, or another run of it is going on). A failed run is recorded as failed
    and resumed by the next one, so this task never retries by itself."""
    run = sync_run(system=system, full=full)
    return run.pk if run is not None else None
