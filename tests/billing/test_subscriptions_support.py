"""Shared helpers of the subscriptions tests: services activated, changed and ended at fixed
instants (Europe/Berlin), through the wholesale services, as in production."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from billing.models import Invoice
from tests.wholesale.conftest import build
from wholesale.activation import service_activate
from wholesale.services import order_place

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at(year, month, day, hour=0, minute=0) -> dt.datetime:
    """A local instant in Berlin."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def part(price, start, end, month_start, month_end) -> Decimal:
    """The expected proration, computed independently: price × seconds ÷ month seconds."""
    utc = dt.UTC  # Python subtracts datetimes of one zone by wall clock: count real seconds
    seconds = Decimal((end.astimezone(utc) - start.astimezone(utc)).total_seconds())
    month = Decimal((month_end.astimezone(utc) - month_start.astimezone(utc)).total_seconds())
    return (Decimal(price) * seconds / month).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def activate(town, when, *, isp=0, n=0, address=None, ont=None, offering=None):
    """Place an order a month before `when` at a connected home and activate it at `when`."""
    address = address or build(town.address("live", n=n), "connected")
    offering = offering or town.offerings[isp]
    order = order_place(
        address=address,
        isp=offering.isp,
        offering=offering,
        placed_at=when - dt.timedelta(days=30),
    )
    return service_activate(order=order, ont_serial=ont or f"ONT{address.pk}", at=when)


def invoices_of(subscription) -> list[Invoice]:
    return list(Invoice.objects.filter(subscription=subscription).order_by("id"))


def lines_of(invoice) -> list[tuple[str, Decimal]]:
    return [(line.kind, line.amount) for line in invoice.lines.order_by("position")]


def test_part_is_the_share_of_the_month():
    assert part("31.00", at(2026, 1, 1), at(2026, 1, 2), at(2026, 1, 1), at(2026, 2, 1)) == 1
