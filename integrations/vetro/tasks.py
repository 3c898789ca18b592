"""Celery tasks of the VETRO sync: the scheduled pull (incremental, every few minutes) and
the daily full reconciliation (beat entries "vetro-pull" and "vetro-full" in
config/settings/base.py). Both do nothing while USE_VETRO is off."""

import logging

from celery import shared_task

from integrations.vetro.importer import sync_vetro, vetro_enabled

logger = logging.getLogger(__name__)


@shared_task(soft_time_limit=3600, ignore_result=True)
def vetro_sync_task(full: bool = False) -> int | None:
    """Pull from VETRO (resuming a failed run of the same mode); returns the run's id."""
    if not vetro_enabled():
        return None
    run = sync_vetro(full=full)
    if run.status != "succeeded":
        logger.warning("VETRO %s run %s failed: %s", run.mode, run.pk, "; ".join(run.errors))
    return run.pk
