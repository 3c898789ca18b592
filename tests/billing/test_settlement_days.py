"""Wholesale settlement: days counted in Berlin time (6 h → 0, 7 h → ½, 12 h → ½, 12 h 1 min
→ 1, configurable), month boundaries, a switch of ISP and a profile change within a day,
one-time fees, wholesale promotions, expected vs actual variance, the issued invoice and its
idempotency, drafts regenerated, CSV and PDF."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.lifecycle import (
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    PromotionKind,
    PromotionScope,
    StatementStatus,
)
from billing.models import (
    Invoice,
    Promotion,
    SettlementLine,
    SettlementStatement,
    WholesaleExclusion,
)
from billing.periods import add_months
from billing.settlement import statement_csv, statement_pdf, statements_generate
from common.errors import DomainError
from tests.billing.test_assurance_support import at, live_service, service_on
from tests.wholesale.conftest import build
from tests.wholesale.factories import OfferingFactory, ProductFactory
from wholesale.activation import service_change_profile, service_deactivate
from wholesale.models import Product, Service

pytestmark = pytest.mark.django_db

APRIL = dt.date(2024, 4, 1)  # 30 days, no change of the clocks: 30.00 a month is 1.00 a day


@pytest.fixture
def plans(town, billing):
    """A 30.00 and a 60.00 product with an offering of each ISP on the first."""
    basic = ProductFactory(name="Basic 300", code="basic-300", monthly_fee=Decimal("30.00"))
    fast = ProductFactory(name="Fast 1000", code="fast-1000", monthly_fee=Decimal("60.00"))
    offerings = [
        OfferingFactory(isp=isp, product=basic, name=f"Basic of {isp.name}") for isp in town.isps
    ]
    return {"basic": basic, "fast": fast, "offerings": offerings}


def one_day(town, plans, n, start, end, isp=1):
    service = live_service(town, n, isp=isp, offering=plans["offerings"][isp], when=start)
    return service_deactivate(service=service, at=end)


def line_of(service) -> SettlementLine:
    return SettlementLine.objects.get(service=service, kind=LineKind.WHOLESALE)


@pytest.mark.parametrize(
    ("hours", "minutes", "full", "half", "amount"),
    [
        (6, 0, 0, 0, "0.00"),
        (6, 59, 0, 0, "0.00"),
        (7, 0, 0, 1, "0.50"),
        (12, 0, 0, 1, "0.50"),
        (12, 1, 1, 0, "1.00"),
        (24, 0, 1, 0, "1.00"),
    ],
)
def test_a_day_counts_by_the_hours_active(town, plans, hours, minutes, full, half, amount):
    start = at(2024, 4, 10, 0)
    service = one_day(town, plans, 0, start, start + dt.timedelta(hours=hours, minutes=minutes))

    statements_generate(month=APRIL)

    line = line_of(service)
    assert (line.full_days, line.half_days, line.amount) == (full, half, Decimal(amount))
    assert line.monthly_rate == Decimal("30.00")


def test_days_an_address_is_excluded_from_wholesale_fees_are_not_settled(town, plans):
    service = live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 4, 1))
    WholesaleExclusion.objects.create(
        address=service.address,
        reason="municipal building",
        valid_from=dt.date(2024, 4, 11),
        valid_to=dt.date(2024, 4, 20),
    )

    statements_generate(month=APRIL)

    line = line_of(service)
    assert (line.full_days, line.half_days, line.amount) == (20, 0, Decimal("20.00"))
    statement = SettlementStatement.objects.get()
    assert statement.expected_total == statement.actual_total == Decimal("20.00")


def test_the_thresholds_come_from_the_arrangement(town, plans, billing):
    arrangement = billing.arrangements[town.isps[1].pk]
    arrangement.half_day_min_hours = Decimal("4")
    arrangement.full_day_min_hours = Decimal("8")
    arrangement.save()
    six = one_day(town, plans, 0, at(2024, 4, 10, 8), at(2024, 4, 10, 14))
    nine = one_day(town, plans, 1, at(2024, 4, 10, 8), at(2024, 4, 10, 17))

    statements_generate(month=APRIL)

    assert (line_of(six).half_days, line_of(six).amount) == (1, Decimal("0.50"))
    assert (line_of(nine).full_days, line_of(nine).amount) == (1, Decimal("1.00"))


def test_a_service_live_all_month_pays_the_monthly_fee(town, plans):
    service = live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 1, 9))

    counts = statements_generate(month=APRIL)

    line = line_of(service)
    statement = SettlementStatement.objects.get(isp=town.isps[1])
    assert counts == {"statements": 1, "issued": 1, "lines": 1, "unchanged": 0}
    assert (line.full_days, line.half_days, line.amount) == (30, 0, Decimal("30.00"))
    assert statement.service_days == Decimal("30.0")
    assert statement.actual_total == statement.expected_total == Decimal("30.00")
    assert line.address_id == service.address_id and line.product == plans["basic"]


def test_days_are_cut_at_the_month_boundaries_in_local_time(town, plans):
    # 31 March 20:00 → 1 April 10:00: 10 h of 1 April count ½ in April; 4 h of March none
    early = one_day(town, plans, 0, at(2024, 3, 31, 20), at(2024, 4, 1, 10))
    # 30 April 11:30 → on: 12.5 h of 30 April count 1
    late = live_service(
        town, 1, isp=1, offering=plans["offerings"][1], when=at(2024, 4, 30, 11, 30)
    )

    statements_generate(month=APRIL)

    assert (line_of(early).full_days, line_of(early).half_days) == (0, 1)
    assert (line_of(late).full_days, line_of(late).half_days) == (1, 0)
    assert line_of(late).amount == Decimal("1.00")


def test_a_switch_mid_day_counts_each_isp_by_its_own_hours(town, plans):
    address = build(town.address("live", n=0), "connected")
    old = service_on(town, address, isp=0, offering=plans["offerings"][0], when=at(2024, 3, 1, 9))
    new = service_on(town, address, isp=1, offering=plans["offerings"][1], when=at(2024, 4, 10, 10))
    old.refresh_from_db()
    assert old.ended_at == new.activated_at

    statements_generate(month=APRIL)

    # the losing ISP: 1–9 April in full, 10 h of the 10th: ½
    assert (line_of(old).full_days, line_of(old).half_days) == (9, 1)
    assert line_of(old).amount == Decimal("9.50")
    # the gaining ISP: 14 h of the 10th: 1, then 11–30 April
    assert (line_of(new).full_days, line_of(new).half_days) == (21, 0)
    assert line_of(new).amount == Decimal("21.00")
    totals = dict(SettlementStatement.objects.values_list("isp_id", "actual_total"))
    assert totals == {town.isps[0].pk: Decimal("9.50"), town.isps[1].pk: Decimal("21.00")}


def test_a_profile_change_splits_the_days_by_product(town, plans):
    service = live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 1, 9))
    # 10 April 15:00: the day was 15 h on Basic, 9 h on Fast: it counts for Basic
    service_change_profile(service=service, product=plans["fast"], at=at(2024, 4, 10, 15))

    statements_generate(month=APRIL)

    lines = SettlementLine.objects.filter(service=service).order_by("product__monthly_fee")
    assert [(x.product.code, x.full_days, x.half_days, x.amount) for x in lines] == [
        ("basic-300", 10, 0, Decimal("10.00")),
        ("fast-1000", 20, 0, Decimal("40.00")),
    ]
    statement = SettlementStatement.objects.get()
    assert statement.actual_total == statement.expected_total == Decimal("50.00")
    invoice_rows = list(statement.invoice.lines.values_list("kind", "quantity", "amount"))
    assert invoice_rows == [
        (LineKind.WHOLESALE, Decimal("10.0000"), Decimal("10.00")),
        (LineKind.WHOLESALE, Decimal("20.0000"), Decimal("40.00")),
    ]


def test_the_variance_shows_a_snapshot_fee_that_differs_from_the_catalog(town, plans):
    service = live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 1, 9))
    Product.objects.filter(pk=plans["basic"].pk).update(monthly_fee=Decimal("36.00"))

    statements_generate(month=APRIL)

    statement = SettlementStatement.objects.get()
    assert line_of(service).amount == Decimal("30.00")  # billed at the fee as it stood
    assert statement.actual_total == Decimal("30.00")
    assert statement.expected_total == Decimal("36.00")
    assert statement.variance == Decimal("-6.00")


def test_the_variance_shows_a_service_whose_instants_differ_from_its_history(town, plans):
    service = live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 1, 9))
    # the service's row says it started on 21 April; its history says 1 March
    Service.objects.filter(pk=service.pk).update(activated_at=at(2024, 4, 21, 0))

    statements_generate(month=APRIL)

    statement = SettlementStatement.objects.get()
    assert (statement.actual_total, statement.expected_total) == (
        Decimal("10.00"),
        Decimal("30.00"),
    )


def test_one_time_fees_for_new_activations_but_not_for_a_switch(town, plans):
    Product.objects.filter(pk=plans["basic"].pk).update(one_time_fee=Decimal("99.00"))
    address = build(town.address("live", n=0), "connected")
    first = service_on(town, address, isp=0, offering=plans["offerings"][0], when=at(2024, 4, 1, 0))
    switched = service_on(
        town, address, isp=1, offering=plans["offerings"][1], when=at(2024, 4, 16, 0)
    )
    earlier = live_service(town, 1, isp=0, offering=plans["offerings"][0], when=at(2024, 3, 5, 9))

    statements_generate(month=APRIL)

    one_time = SettlementLine.objects.filter(kind=LineKind.ONE_TIME)
    assert [(x.service_id, x.amount) for x in one_time] == [(first.pk, Decimal("99.00"))]
    assert not SettlementLine.objects.filter(service__in=[switched, earlier], kind="one_time")
    statement = SettlementStatement.objects.get(isp=town.isps[0])
    assert (
        statement.actual_total
        == statement.expected_total
        == Decimal("99.00") + Decimal("15.00") + Decimal("30.00")
    )
    rows = list(statement.invoice.lines.values_list("kind", "description", "amount"))
    assert rows[-1] == (
        LineKind.ONE_TIME,
        "One-time fee Basic 300 (1 activation)",
        Decimal("99.00"),
    )


def test_a_wholesale_promotion_discounts_the_days_within_its_months(town, plans):
    Promotion.objects.create(
        name="Spring launch",
        scope=PromotionScope.WHOLESALE,
        kind=PromotionKind.PERCENT,
        value=Decimal("50"),
        months=1,
        isp=town.isps[1],
        area=town.areas["live"],
        valid_from=dt.date(2024, 4, 1),
        valid_to=dt.date(2024, 4, 30),
    )
    Promotion.objects.create(  # another ISP's: not this one's
        name="Other",
        scope=PromotionScope.WHOLESALE,
        kind=PromotionKind.PERCENT,
        value=Decimal("90"),
        isp=town.isps[0],
        valid_from=dt.date(2024, 1, 1),
    )
    promoted = live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 4, 16, 0))
    before = live_service(town, 1, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 16, 0))

    statements_generate(month=APRIL)

    discount = SettlementLine.objects.get(kind=LineKind.DISCOUNT)
    assert discount.service == promoted
    assert discount.amount == Decimal("-7.50")  # half of 15 days at 1.00
    assert discount.description == f"{promoted.reference} · promotion Spring launch"
    assert not SettlementLine.objects.filter(service=before, kind=LineKind.DISCOUNT).exists()
    statement = SettlementStatement.objects.get()
    assert statement.actual_total == Decimal("15.00") + Decimal("30.00") - Decimal("7.50")
    assert statement.actual_total == statement.expected_total
    rows = list(statement.invoice.lines.values_list("kind", "description", "amount"))
    assert rows[-1] == (LineKind.DISCOUNT, "Promotion Spring launch (1 service)", Decimal("-7.50"))

    # May: 30.00 over 31 days; the promotion runs to 16 May 00:00: 15 days at half
    statements_generate(month=dt.date(2024, 5, 1))
    may = SettlementLine.objects.get(kind=LineKind.DISCOUNT, statement__month=dt.date(2024, 5, 1))
    assert may.amount == Decimal("-7.26")


def test_an_amount_off_promotion_is_prorated_by_day_units(town, plans):
    Promotion.objects.create(
        name="Ten off",
        scope=PromotionScope.WHOLESALE,
        kind=PromotionKind.AMOUNT,
        value=Decimal("10.00"),
        months=6,
        valid_from=dt.date(2024, 1, 1),
    )
    live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 16, 0))

    statements_generate(month=APRIL)

    assert SettlementLine.objects.get(kind=LineKind.DISCOUNT).amount == Decimal("-10.00")


def test_the_statement_is_issued_as_a_settlement_invoice_once(town, plans, billing):
    live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 1, 9))

    statements_generate(month=APRIL, on=dt.date(2024, 5, 2))
    statement = SettlementStatement.objects.get()
    lines = list(SettlementLine.objects.values_list("pk", "amount"))

    assert statement.status == StatementStatus.ISSUED
    invoice = statement.invoice
    assert invoice.kind == InvoiceKind.SETTLEMENT and invoice.status == InvoiceStatus.ISSUED
    assert invoice.provider == billing.owner_provider
    assert invoice.billed_organisation == town.isps[1] and invoice.isp == town.isps[1]
    assert invoice.number == "WFN-2024-000001"
    assert invoice.total == statement.actual_total == Decimal("30.00")
    assert invoice.lines.get().description == (
        "Basic 300: 30 service days in April 2024 (1 service, 30.00 a month)"
    )

    live_service(town, 1, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 1, 9))
    counts = statements_generate(month=APRIL)

    assert counts == {"statements": 0, "issued": 0, "lines": 0, "unchanged": 1}
    assert list(SettlementLine.objects.values_list("pk", "amount")) == lines
    assert Invoice.objects.count() == 1


def test_a_month_not_over_is_a_draft_regenerated_on_every_run(town, plans):
    now = timezone.now()
    this_month = timezone.localdate().replace(day=1)
    live_service(town, 0, isp=1, offering=plans["offerings"][1], when=now - dt.timedelta(seconds=2))

    statements_generate(month=this_month)
    statement = SettlementStatement.objects.get()
    assert statement.status == StatementStatus.DRAFT and statement.invoice is None
    assert statement.lines.count() == 1

    live_service(town, 1, isp=1, offering=plans["offerings"][1], when=now - dt.timedelta(seconds=1))
    statements_generate(month=this_month)

    statement.refresh_from_db()
    assert statement.lines.count() == 2
    assert SettlementStatement.objects.count() == 1
    assert not Invoice.objects.exists()


def test_a_draft_of_the_month_not_over_projects_live_services_to_its_end(town, plans):
    today = timezone.localdate()
    first = today.replace(day=1)
    midnight = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    live_service(town, 0, isp=1, offering=plans["offerings"][1], when=midnight)

    statements_generate(month=first)

    statement = SettlementStatement.objects.get()
    days_in_month = (add_months(first, 1) - first).days
    assert statement.status == StatementStatus.DRAFT
    assert statement.service_days == days_in_month  # every day, today's and those to come


def test_a_month_to_come_cannot_be_settled(billing):
    next_month = (timezone.localdate().replace(day=28) + dt.timedelta(days=5)).replace(day=1)

    with pytest.raises(DomainError, match="has not begun"):
        statements_generate(month=next_month)


def test_an_isp_with_nothing_to_settle_gets_no_statement(town, plans):
    live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 1, 9))

    statements_generate(month=APRIL)

    assert list(SettlementStatement.objects.values_list("isp_id", flat=True)) == [town.isps[1].pk]


def test_csv_has_a_row_per_line_and_the_pdf_is_a_pdf(town, plans):
    service = live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 3, 1, 9))
    statements_generate(month=APRIL)
    statement = SettlementStatement.objects.get()

    rows = list(csv.DictReader(io.StringIO(statement_csv(statement))))

    assert len(rows) == 1
    assert rows[0]["service"] == service.reference
    assert rows[0]["full_days"] == "30" and rows[0]["amount"] == "30.00"
    assert rows[0]["month"] == "2024-04" and rows[0]["kind"] == "wholesale"
    assert statement_pdf(statement).startswith(b"%PDF")


def test_the_day_the_clocks_change_counts_in_full_when_active_all_day(town, plans):
    # 31 March 2024 has 23 hours in Berlin; March has 31 days: 30.00 × 31 / 31
    service = live_service(town, 0, isp=1, offering=plans["offerings"][1], when=at(2024, 2, 1, 9))

    statements_generate(month=dt.date(2024, 3, 1))

    line = line_of(service)
    assert (line.full_days, line.half_days, line.amount) == (31, 0, Decimal("30.00"))
