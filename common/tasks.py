"""Celery tasks of the infrastructure: the outbox drain (after commit and every minute)."""

from celery import shared_task

from common.outbox import outbox_drain, outbox_prune

DRAIN_BATCH = 500


@shared_task(soft_time_limit=300, ignore_result=True)
def outbox_drain_task() -> int:
    """Deliver due outbox messages; re-queue itself while a full batch was handled."""
    report = outbox_drain(limit=DRAIN_BATCH)
    if report.handled >= DRAIN_BATCH:
        outbox_drain_task.apply_async(retry=False)
    return report.handled


@shared_task(soft_time_limit=600, ignore_result=True)
def outbox_prune_task() -> int:
    """Forget delivered messages past the retention period."""
    return outbox_prune()
