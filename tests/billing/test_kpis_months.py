"""Closed months kept by the daily run: the refresh stores what the live statements compute,
the dashboard reads the kept months and computes the open month alone, and the figures are
the same whether or not the refresh ran."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from billing import kpis, runs
from billing.lifecycle import InvoiceKind, PaymentKind
from billing.models import KpiMonth
from tests.billing.test_kpis_figures import (
    _statement,
    _work_order,
    at,
    charge,
    invoice,
    order,
    pay,
    period_line,
    service,
    subscription,
)

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 10, 20)  # October is the open month
OCTOBER, SEPTEMBER = dt.date(2025, 10, 1), dt.date(2025, 9, 1)


@pytest.fixture
def history(town, billing):
    """Six months of everything the KPIs count, reaching into the open month (October)."""
    for month in range(5, 11):
        starts, ends = at(2025, month, 1, 0), at(2025, month + 1, 1, 0)
        billed = service(town, at(2025, month - 1, 10))
        invoice(
            billing,
            dt.date(2025, month, 2),
            [period_line(subscription(billing, billed), starts, ends)],
            subscription=None,
        )
        service(town, at(2025, month, 12))  # active, never billed
        late = subscription(billing, service(town, at(2025, month, 3)))
        invoice(billing, dt.date(2025, month, 6), [charge("10.00")], subscription=late)
        off = invoice(
            billing, dt.date(2025, month, 8), [charge("35.00", catalog_unit_amount=Decimal(50))]
        )
        pay(off, "35.00", at(2025, month, 9 + month))
        big = invoice(billing, dt.date(2025, month, 14), [charge(f"{100 * month}.00")])
        pay(big, f"{40 * month}.00", at(2025, month, 25))
        pay(big, "5.00", at(2025, month, 26), kind=PaymentKind.REFUND)
        invoice(billing, dt.date(2025, month, 15), [charge("70.00")], disputed=month % 2 == 0)
        invoice(
            billing, dt.date(2025, month, 28 if month < 10 else 18), [charge("-12.00")],
            kind=InvoiceKind.CREDIT_NOTE, credits=big,
        )  # fmt: skip
        _work_order(town, at(2025, month, 4), sent_back=[at(2025, month, 9)])
        _work_order(town, at(2025, month, 5))
        _statement(billing, town.isps[0], dt.date(2025, month, 1), "1000.00", f"{1000 + month}.00")
        order(town, placed_at=at(2025, month, 7))
        order(town, placed_at=at(2025, month, 8), phase=None)
    pay(off, "1.00", at(2025, 10, 19, 23, 30))  # today's late evening counts (last rows)


def _snapshot(month: dt.date) -> list:
    return [
        (f.key, f.value, f.numerator, f.denominator, f.status, sorted(f.extra.items()),
         [(p.month, p.value, p.status) for p in f.trend])
        for f in kpis.kpi_figures(month, today=TODAY)
    ]  # fmt: skip


def test_the_kept_months_give_the_figures_the_live_statements_give(history):
    live_open, live_closed = _snapshot(OCTOBER), _snapshot(SEPTEMBER)
    assert not KpiMonth.objects.exists()

    counts = kpis.kpi_months_refresh(on=TODAY)

    assert counts["rows"] == len(kpis.QUERIES) * kpis.REFRESH_MONTHS
    assert KpiMonth.objects.filter(month=SEPTEMBER).count() == len(kpis.QUERIES)
    assert not KpiMonth.objects.filter(month=OCTOBER).exists()  # the open month is never kept
    assert _snapshot(OCTOBER) == live_open
    assert _snapshot(SEPTEMBER) == live_closed
    # and the history has something in every KPI of the open month
    figures = {f.key: f for f in kpis.kpi_figures(OCTOBER, today=TODAY)}
    assert all(f.denominator for f in figures.values())
    assert figures["dso"].extra["change"] is not None


def test_the_dashboard_reads_kept_months_and_computes_the_open_month(history):
    kpis.kpi_months_refresh(on=TODAY)
    kept = KpiMonth.objects.get(month=SEPTEMBER, statement="settlement")
    kept.parts = {**kept.parts, "variance": 500}
    kept.save()

    counter = _Counter()
    with connection.execute_wrapper(counter):
        figure = kpis.kpi_figures(OCTOBER, keys=["settlement-variance"], today=TODAY)[0]

    assert counter.statements == 2  # the kept months, then the open month
    trend = {point.month: point.value for point in figure.trend}
    assert trend[SEPTEMBER] == Decimal(500) * 100 / Decimal("1000.00")  # as kept
    assert figure.value == Decimal("1.0") and figure.numerator == Decimal("10.00")  # live


def test_a_closed_month_with_every_month_kept_is_one_statement(history):
    kpis.kpi_months_refresh(on=TODAY)
    counter = _Counter()
    with connection.execute_wrapper(counter):
        figures = kpis.kpi_figures(SEPTEMBER, today=TODAY)
    assert counter.statements == 1 and len(figures) == len(kpis.KPIS)


def test_a_month_not_kept_is_computed_live(history):
    kpis.kpi_months_refresh(on=TODAY)
    expected = _snapshot(OCTOBER)
    KpiMonth.objects.filter(month=dt.date(2025, 6, 1), statement="money").delete()
    KpiMonth.objects.filter(month=SEPTEMBER, statement="services").delete()
    assert _snapshot(OCTOBER) == expected
    KpiMonth.objects.all().delete()  # the first day after install
    assert _snapshot(OCTOBER) == expected


def test_the_refresh_is_idempotent_and_follows_late_changes(history, billing):
    kpis.kpi_months_refresh(on=TODAY)
    first = {(k.month, k.statement): k.parts for k in KpiMonth.objects.all()}
    kpis.kpi_months_refresh(on=TODAY)
    assert {(k.month, k.statement): k.parts for k in KpiMonth.objects.all()} == first

    late = invoice(billing, dt.date(2025, 9, 30), [charge("999.00")])  # entered late
    kpis.kpi_months_refresh(on=TODAY)
    kept = KpiMonth.objects.get(month=SEPTEMBER, statement="money").parts
    assert Decimal(str(kept["revenue"])) == Decimal(str(first[SEPTEMBER, "money"]["revenue"])) + (
        late.total
    )
    assert KpiMonth.objects.count() == len(first)


def test_the_daily_run_keeps_the_closed_months(history):
    live = _snapshot(OCTOBER)
    assert ("board KPIs", kpis.kpi_months_refresh) in runs.DAILY_STEPS
    runs.billing_run(
        kind="daily", period=TODAY, steps=[("board KPIs", kpis.kpi_months_refresh)], on=TODAY
    )
    assert KpiMonth.objects.filter(month=SEPTEMBER).count() == len(kpis.QUERIES)
    assert _snapshot(OCTOBER) == live


class _Counter:
    """Counts the statements sent (a connection execute wrapper)."""

    def __init__(self):
        self.statements = 0

    def __call__(self, execute, sql, params, many, context):
        self.statements += 1
        return execute(sql, params, many, context)
