"""Keeping the change log in bounds (beat: "sync-changes-prune", daily)."""

from celery import shared_task

from integrations.sync.feed import changes_prune


@shared_task(soft_time_limit=600, ignore_result=True)
def changes_prune_task() -> int:
    """Forget changes older than SYNC_CHANGES_KEEP_DAYS."""
    return changes_prune()
