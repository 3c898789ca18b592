"""Demand figures counted the slow, obvious way (Python over the ORM's rows), to hold the
set-based SQL of `areas.figures` to: `assert_figures_true()` after anything that moves demand."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from areas.models import Area, AreaDailyFigures, AreaFigures, Interest, Signup
from gis_core.models import Address

FOUR_PLACES = Decimal("0.0001")
FIGURE_FIELDS = (
    "addresses",
    "homes",
    "interests",
    "orders",
    "addresses_with_interest",
    "addresses_with_order",
    "take_rate",
    "interest_rate",
    "progress",
)
DAILY_FIELDS = (
    "homes",
    "interests",
    "orders",
    "addresses_with_order",
    "take_rate",
    "interest_rate",
)


def _share(part: int | Decimal, whole: int | Decimal) -> Decimal:
    return (Decimal(part) / Decimal(whole)).quantize(FOUR_PLACES, ROUND_HALF_UP)


def _figures(area: Area, *, live) -> dict:
    """An area's figures, counting the interests and signups `live(record)` says were live."""
    addresses = list(Address.objects.filter(area=area))
    ids = {address.pk for address in addresses}
    homes = sum(address.units for address in addresses)
    interests = [i for i in Interest.objects.all() if i.address_id in ids and live(i)]
    signups = [s for s in Signup.objects.all() if s.address_id in ids and live(s)]
    with_interest = {interest.address_id for interest in interests}
    with_order = {signup.address_id for signup in signups}
    take_rate = _share(len(with_order), homes) if homes else Decimal(0)
    target = area.target_take_rate
    progress = _share(take_rate, target) if target > 0 else Decimal(1 if homes else 0)
    return {
        "addresses": len(addresses),
        "homes": homes,
        "interests": len(interests),
        "orders": len(signups),
        "addresses_with_interest": len(with_interest),
        "addresses_with_order": len(with_order),
        "take_rate": take_rate,
        "interest_rate": _share(len(with_interest), homes) if homes else Decimal(0),
        "progress": progress,
    }


def recount(area: Area) -> dict:
    """What an area's figures must be now."""
    return _figures(area, live=lambda record: record.withdrawn_at is None)


def recount_day(area: Area, day: date) -> dict:
    """What an area's daily row must say for `day`: the book as it stood at that day's end
    (local time), with today's homes."""
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))

    def began(record) -> datetime:
        return getattr(record, "signed_up_at", None) or record.registered_at

    def live(record) -> bool:
        return began(record) < end and (record.withdrawn_at is None or record.withdrawn_at >= end)

    figures = _figures(area, live=live)
    return {field: figures[field] for field in DAILY_FIELDS}


def stored(area: Area) -> dict:
    row = AreaFigures.objects.get(area=area)
    return {field: getattr(row, field) for field in FIGURE_FIELDS}


def stored_day(area: Area, day: date) -> dict:
    row = AreaDailyFigures.objects.get(area=area, day=day)
    return {field: getattr(row, field) for field in DAILY_FIELDS}


def assert_figures_true() -> None:
    """Every area's stored figures and today's daily row equal the brute-force recount."""
    today = timezone.localdate()
    wrong = {}
    for area in Area.objects.order_by("pk"):
        expected = recount(area)
        if stored(area) != expected:
            wrong[area.code] = (stored(area), expected)
        expected_today = {field: expected[field] for field in DAILY_FIELDS}
        if stored_day(area, today) != expected_today:
            wrong[f"{area.code} today"] = (stored_day(area, today), expected_today)
    assert wrong == {}
