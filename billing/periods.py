"""Calendar months as billing counts them: a month is named by its first day, and starts at
local midnight (settings.TIME_ZONE). Instants inside a month (proration) are in
billing.subscriptions."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after `day`'s month (before it, when negative)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def local_midnight(day: dt.date) -> dt.datetime:
    """The instant `day` begins in the billing time zone."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
