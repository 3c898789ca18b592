"""The billing runs: the daily run (Celery beat) and a month's subscriptions on demand.

A run is one `BillingRun` row per (kind, period), found or made under a transaction-level
advisory lock on its key. Each step runs in its own transaction, which takes the same lock,
skips the step if the run's counts say it is done, and records the step's counts with its
work: so running twice, or two workers at once, creates nothing twice, and a run that
failed resumes at the steps not done.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from billing.assurance import exceptions_detect
from billing.connection import connection_charges_unblock, installments_invoice_due
from billing.invoices import invoices_remind_overdue
from billing.kpis import kpi_months_refresh
from billing.lifecycle import RunKind, RunStatus
from billing.models import BillingRun
from billing.periods import add_months
from billing.settlement import statements_generate
from billing.subscriptions import subscriptions_bill_month

Step = tuple[str, Callable[..., dict]]
Progress = Callable[[str, int, int], None]


def subscriptions_bill_current_month(*, on: dt.date, run: BillingRun | None) -> dict:
    """Bill `on`'s month for the subscriptions not yet billed for it (on the 1st the whole
    month; any later day catches up what a missed day left)."""
    return subscriptions_bill_month(month=on.replace(day=1), run=run, on=on)


def settlement_last_month(*, on: dt.date, run: BillingRun | None) -> dict:
    """Settle the month before `on` with every ISP (issued once; later days change nothing)."""
    last_month = add_months(on, -1)
    return statements_generate(month=last_month, run=run, on=on)


def settlement_month_so_far(*, on: dt.date, run: BillingRun | None) -> dict:
    """Regenerate the draft statements of `on`'s month: today's live services projected to the
    month's end (corrected by every later day's run until the month is over and issued)."""
    return statements_generate(month=on.replace(day=1), run=run, on=on, issue=False)


# The daily steps, in order: (label, callable(on=, run=) -> counts). Add a step with one line.
# Revenue assurance runs first, so a subscription whose ONT binding broke is held back
# from the same run's billing.
DAILY_STEPS: list[Step] = [
    ("revenue assurance", exceptions_detect),
    ("subscriptions", subscriptions_bill_current_month),
    ("blocked connection charges", connection_charges_unblock),
    ("connection installments", installments_invoice_due),
    ("settlement of last month", settlement_last_month),
    ("settlement so far", settlement_month_so_far),
    ("reminders", invoices_remind_overdue),
    ("board KPIs", kpi_months_refresh),
]


def _lock(kind: str, period: dt.date) -> None:
    """Serialise everyone working on this run, until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)",
            [zlib.crc32(f"billing-run:{kind}".encode()) & 0x7FFFFFFF, period.toordinal()],
        )


def _run_row(kind: str, period: dt.date, actor) -> BillingRun:
    with transaction.atomic():
        _lock(kind, period)
        run, _ = BillingRun.objects.get_or_create(
            kind=kind, period=period, defaults={"triggered_by": actor}
        )
        return run


@transaction.atomic
def billing_run_request(*, on: dt.date, actor=None) -> tuple[BillingRun, bool]:
    """Make (or find) the daily run of `on` for a worker to carry out; (run, to_start):
    `to_start` is False when it is done already."""
    _lock(RunKind.DAILY, on)
    run, _ = BillingRun.objects.get_or_create(
        kind=RunKind.DAILY, period=on, defaults={"triggered_by": actor}
    )
    return run, run.status != RunStatus.DONE


def billing_run(
    *,
    kind: str,
    period: dt.date,
    steps: list[Step],
    on: dt.date,
    actor=None,
    progress: Progress | None = None,
) -> BillingRun:
    """Carry out the run of (kind, period): each step not done yet, in its own transaction.
    A failing step marks the run failed with its error (and is raised again)."""
    run = _run_row(kind, period, actor)
    if run.status == RunStatus.DONE:
        return run
    total = len(steps)
    BillingRun.objects.filter(pk=run.pk, status=RunStatus.FAILED).update(
        status=RunStatus.RUNNING, error="", finished_at=None
    )
    for done, (label, function) in enumerate(steps):
        if progress:
            progress(label, done, total)
        try:
            with transaction.atomic():
                _lock(kind, period)
                run = BillingRun.objects.select_for_update().get(pk=run.pk)
                if label in run.counts.get("steps", {}):
                    continue
                started = timezone.now()
                counts = function(on=on, run=run)
                steps_done = dict(run.counts.get("steps", {}))
                steps_done[label] = {
                    **counts,
                    "seconds": round((timezone.now() - started).total_seconds(), 3),
                }
                run.counts = {**run.counts, "steps": steps_done}
                run.save(update_fields=["counts"])
        except Exception as exc:
            BillingRun.objects.filter(pk=run.pk).update(
                status=RunStatus.FAILED,
                error=f"{label}: {type(exc).__name__}: {exc}"[:5000],
                finished_at=timezone.now(),
            )
            raise
    if progress:
        progress("done", total, total)
    with transaction.atomic():
        _lock(kind, period)
        run = BillingRun.objects.select_for_update().get(pk=run.pk)
        if run.status != RunStatus.DONE:
            run.status = RunStatus.DONE
            run.finished_at = timezone.now()
            run.error = ""
            run.save(update_fields=["status", "finished_at", "error"])
    return run


def billing_run_daily(*, on: dt.date, actor=None, progress: Progress | None = None) -> BillingRun:
    """The daily billing run of `on`: every step of DAILY_STEPS, once."""
    return billing_run(
        kind=RunKind.DAILY, period=on, steps=DAILY_STEPS, on=on, actor=actor, progress=progress
    )


def billing_run_monthly(
    *, month: dt.date, on: dt.date | None = None, actor=None, progress: Progress | None = None
) -> BillingRun:
    """Bill one month's subscriptions (e.g. a month the daily run could not reach), once."""
    month = month.replace(day=1)

    def bill(*, on: dt.date, run: BillingRun) -> dict:
        return subscriptions_bill_month(month=month, run=run, on=on)

    return billing_run(
        kind=RunKind.MONTHLY,
        period=month,
        steps=[("subscriptions", bill)],
        on=on or timezone.localdate(),
        actor=actor,
        progress=progress,
    )


def billing_run_start(*, actor=None) -> tuple[BillingRun, bool]:
    """Today's daily run, handed to a worker after commit unless it is done already:
    (run, started)."""
    from billing.tasks import billing_daily_run_task

    on = timezone.localdate()
    with transaction.atomic():
        run, to_start = billing_run_request(on=on, actor=actor)
        if to_start:
            actor_id = getattr(actor, "pk", None)
            transaction.on_commit(lambda: billing_daily_run_task.delay(on.isoformat(), actor_id))
    return run, to_start


def runs_list():
    """The billing runs, newest first."""
    return BillingRun.objects.order_by("-started_at", "-id")
