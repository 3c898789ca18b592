"""Celery tasks of billing: the daily billing run (beat, and the runs page's button)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from billing.runs import billing_run_daily


@shared_task(soft_time_limit=3600, ignore_result=True)
def billing_daily_run_task(on: str | None = None, actor_id: int | None = None) -> int:
    """Carry out the daily billing run of `on` (ISO date; default today); returns its id.
    Safe to deliver twice or to two workers: the run does nothing twice."""
    day = dt.date.fromisoformat(on) if on else timezone.localdate()
    actor = None
    if actor_id is not None:
        from accounts.models import User

        actor = User.objects.filter(pk=actor_id).first()
    return billing_run_daily(on=day, actor=actor).pk
