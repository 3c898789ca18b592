"""`manage.py billing_run [--date YYYY-MM-DD] [--month YYYY-MM]`: the daily billing run (of
today or a given day), or one month's subscriptions, with a progress bar and a summary."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing.runs import billing_run_daily, billing_run_monthly


class Command(BaseCommand):
    help = "Run the daily billing run (default: today), or bill one month's subscriptions."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the day of the daily run, YYYY-MM-DD (default today)")
        parser.add_argument("--month", help="bill this month instead, YYYY-MM (issued on --date)")

    def handle(self, *args, date=None, month=None, **options):
        from tqdm import tqdm

        try:
            day = dt.date.fromisoformat(date) if date else timezone.localdate()
            first = dt.date.fromisoformat(f"{month}-01") if month else None
        except ValueError as exc:
            raise CommandError(f"not a date: {exc}") from exc
        bar = tqdm(total=1, unit="step", disable=options.get("verbosity", 1) == 0)

        def progress(label: str, done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.set_description(label)
            bar.refresh()

        try:
            if first is not None:
                run = billing_run_monthly(month=first, on=day, progress=progress)
            else:
                run = billing_run_daily(on=day, progress=progress)
        finally:
            bar.close()
        self.stdout.write(f"{run} — {run.get_status_display()}")
        self.stdout.write(f"{'step':<20} {'invoices':>9} {'lines':>9} {'amount':>14} {'s':>8}")
        for label, counts in run.counts.get("steps", {}).items():
            self.stdout.write(
                f"{label:<20} {counts.get('invoices', ''):>9} {counts.get('lines', ''):>9}"
                f" {counts.get('amount', ''):>14} {counts.get('seconds', ''):>8}"
            )
        if run.duration_seconds is not None:
            self.stdout.write(f"took {run.duration_seconds:.1f} s")
