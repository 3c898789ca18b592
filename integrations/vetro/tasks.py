"""Celery tasks of the VETRO sync: the scheduled pull (incremental, every few minutes) and
the daily full reconciliation (beat entries "vetro-pull" and "vetro-full" in
config/settings/base.py). Both do nothing while USE_VETRO is off."""

import logging

from celery import shared_task

from integrations.safety import SyncAlreadyRunning
from integrations.vetro.importer import sync_vetro, vetro_enabled

logger = logging.getLogger(__name__)


@shared_task(soft_time_limit=3600, ignore_result=True)
def vetro_sync_task(full: bool = False) -> int | None:
    """Pull from VETRO (resuming a failed run of the same mode); returns the run's id (None
    when VETRO is off or another run of it is going on: the next beat tries again)."""
    if not vetro_enabled():
        return None
    try:
        run = sync_vetro(full=full)
    except SyncAlreadyRunning as busy:
        logger.info("VETRO %s pull skipped: %s", "full" if full else "incremental", busy)
        return None
    if run.status != "succeeded":
        logger.warning("VETRO %s run %s failed: %s", run.mode, run.pk, "; ".join(run.errors))
    return run.pk
