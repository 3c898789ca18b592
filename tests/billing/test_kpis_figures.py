"""Each board KPI computed on a constructed history whose right answer is known: orders
through `order_place`, services, subscriptions, invoices through the invoicing core, payments,
work orders, written row by row with instants chosen for the case; and the colours at the
thresholds' edges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import kpis
from billing.invoicing import Line, invoice_create
from billing.lifecycle import InvoiceKind, InvoiceStatus, LineKind, PaymentKind
from billing.models import (
    Invoice,
    Payment,
    PriceOverride,
    Promotion,
    SettlementStatement,
    Subscription,
)
from tests.wholesale.factories import IspFactory, OfferingFactory
from wholesale.models import Customer, Service
from wholesale.services import order_place
from workorders.creation import standard_template
from workorders.models import Task, TaskEvent, WorkOrder, WorkOrderStatusChange

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
PRICE = Decimal("39.90")
_counter = {"n": 0}


def at(year, month, day, hour=12, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def customer(name: str = "Ada") -> Customer:
    _counter["n"] += 1
    return Customer.objects.create(name=name, email=f"c{_counter['n']}@example.org")


def order(town, *, isp: int = 0, placed_at=None, phase="live", with_customer=True,
          with_offering=True, address=None, unit=""):  # fmt: skip
    _counter["n"] += 1
    return order_place(
        address=address or town.address(phase, _counter["n"] % 15),
        isp=town.isps[isp],
        placed_at=placed_at or at(2024, 12, 1),
        customer=customer() if with_customer else None,
        offering=town.offerings[isp] if with_offering else None,
        unit=unit,
    )


def service(town, activated_at, *, ended_at=None, isp: int = 0) -> Service:
    """A service of a new order, active from `activated_at` (ended at `ended_at`)."""
    placed = order(town, isp=isp, placed_at=activated_at - dt.timedelta(days=30))
    _counter["n"] += 1
    n = _counter["n"]
    return Service.objects.create(
        reference=f"SVC-{n:05d}",
        order=placed,
        isp=placed.isp,
        address=placed.address,
        unit=f"u{n}",
        product=town.offerings[isp].product,
        wholesale_monthly_fee=Decimal("18.00"),
        currency="EUR",
        ont_serial=f"ONT{n}",
        status="ended" if ended_at else "active",
        status_changed_at=ended_at or activated_at,
        activated_at=activated_at,
        ended_at=ended_at,
    )


def subscription(billing, svc: Service, *, promotion=None) -> Subscription:
    return Subscription.objects.create(
        order=svc.order,
        service=svc,
        provider=billing.owner_provider,
        isp=svc.isp,
        customer=svc.order.customer,
        product=svc.product,
        offering=svc.order.offering,
        catalog_price=PRICE,
        monthly_price=PRICE,
        currency="EUR",
        started_at=svc.activated_at,
        billed_until=svc.activated_at,
        promotion=promotion,
    )


def invoice(billing, issued: dt.date, lines: list[Line], *, kind=InvoiceKind.SUBSCRIPTION,
            subscription=None, void=False, disputed=False, credits=None) -> Invoice:  # fmt: skip
    """An invoice issued on `issued` with these rows (made void afterwards if asked)."""
    _counter["n"] += 1
    made, _ = invoice_create(
        provider=billing.owner_provider,
        kind=kind,
        idempotency_key=f"kpi-test-{_counter['n']}",
        lines=lines,
        on=issued,
        subscription=subscription,
        credits=credits,
    )
    changes = {}
    if void:
        changes.update(status=InvoiceStatus.VOID, voided_at=at(issued.year, issued.month, 28))
    if disputed:
        changes["disputed"] = True
    if changes:
        Invoice.objects.filter(pk=made.pk).update(**changes)
        made.refresh_from_db()
    return made


def period_line(sub: Subscription, starts, ends, amount=PRICE, **fields) -> Line:
    return Line(
        kind=LineKind.PERIOD,
        description="period",
        unit_amount=amount,
        period_start=starts,
        period_end=ends,
        subscription_id=sub.pk if sub else None,
        catalog_unit_amount=fields.pop("catalog", amount),
        **fields,
    )


def charge(amount: str, **fields) -> Line:
    return Line(kind=LineKind.ONE_TIME, description="fee", unit_amount=Decimal(amount), **fields)


def pay(inv: Invoice, amount: str, received_at, *, kind=PaymentKind.PAYMENT) -> Payment:
    """A payment (or refund) received at `received_at`; the invoice's paid amount follows."""
    payment = Payment.objects.create(
        invoice=inv, kind=kind, amount=Decimal(amount), received_at=received_at,
        method="bank_transfer",
    )  # fmt: skip
    sign = -1 if kind == PaymentKind.REFUND else 1
    inv.amount_paid += sign * Decimal(amount)
    fields = ["amount_paid"]
    if inv.amount_paid >= inv.total and kind == PaymentKind.PAYMENT:
        inv.status, inv.paid_at = InvoiceStatus.PAID, received_at
        fields += ["status", "paid_at"]
    inv.save(update_fields=fields)
    return payment


def figure(key: str, month: dt.date) -> kpis.Figure:
    return kpis.kpi_figures(month, keys=[key])[0]


def drill(key: str, month: dt.date, column: str) -> list:
    return [row[column] for row in kpis.kpi_rows(key, month, limit=100).rows]


# --- active-but-unbilled ----------------------------------------------------------------------


def test_unbilled_counts_active_services_without_a_row_for_the_month(town, billing):
    march, april = at(2025, 3, 1, 0), at(2025, 4, 1, 0)
    billed = service(town, at(2025, 1, 10))
    invoice(
        billing, dt.date(2025, 3, 1), [period_line(subscription(billing, billed), march, april)]
    )
    void_only = service(town, at(2025, 2, 1))
    sub = subscription(billing, void_only)
    invoice(billing, dt.date(2025, 3, 1), [period_line(sub, march, april)], void=True)
    late_start = service(town, at(2025, 3, 20))
    invoice(
        billing,
        dt.date(2025, 3, 20),
        [period_line(subscription(billing, late_start), at(2025, 3, 20), april)],
    )
    february_only = service(town, at(2024, 11, 1))
    invoice(
        billing,
        dt.date(2025, 2, 1),
        [period_line(subscription(billing, february_only), at(2025, 2, 1, 0), march)],
    )
    service(town, at(2024, 6, 1), ended_at=at(2025, 2, 15))  # ended before March
    service(town, at(2025, 4, 2))  # not yet active
    free_rider = service(town, at(2025, 3, 31, 23))  # no subscription at all

    result = figure("active-but-unbilled", dt.date(2025, 3, 1))

    assert (result.numerator, result.denominator) == (3, 5)
    assert result.value == Decimal(60) and result.status == kpis.BAD
    assert sorted(drill("active-but-unbilled", dt.date(2025, 3, 1), "service")) == sorted(
        [void_only.reference, february_only.reference, free_rider.reference]
    )
    trend = {point.month: point.value for point in result.trend}
    assert len(result.trend) == 12 and result.trend[-1].month == dt.date(2025, 3, 1)
    # February: february_only billed; billed, void_only active unbilled; the ended one active
    assert trend[dt.date(2025, 2, 1)] == Decimal(3) / Decimal(4) * 100


# --- activation-to-invoice lag ----------------------------------------------------------------


def test_lag_is_the_median_days_to_the_first_non_void_invoice(town, billing):
    def activated(when, *issued, void=()):
        svc = service(town, when)
        sub = subscription(billing, svc)
        for day in void:
            invoice(billing, day, [charge("10.00")], subscription=sub, void=True)
        for day in issued:
            invoice(billing, day, [charge("10.00")], subscription=sub)
        return svc

    same_day = activated(at(2025, 4, 2, 10), dt.date(2025, 4, 2), dt.date(2025, 5, 1))
    two_days = activated(at(2025, 4, 5, 23, 30), dt.date(2025, 4, 7), void=[dt.date(2025, 4, 5)])
    five_days = activated(at(2025, 4, 10), dt.date(2025, 4, 15))
    waiting = activated(at(2025, 4, 20))
    activated(at(2025, 3, 31, 23), dt.date(2025, 4, 1))  # a March activation

    result = figure("activation-to-invoice-lag", dt.date(2025, 4, 1))

    assert result.value == Decimal(2) and result.status == kpis.WARN
    assert (result.numerator, result.denominator) == (3, 4)
    assert result.extra["not_invoiced_yet"] == 1
    rows = kpis.kpi_rows("activation-to-invoice-lag", dt.date(2025, 4, 1)).rows
    assert [(r["service"], r["lag_days"]) for r in rows] == [
        (waiting.reference, None),
        (five_days.reference, 5),
        (two_days.reference, 2),
        (same_day.reference, 0),
    ]


# --- pricing-policy exceptions ----------------------------------------------------------------


def test_pricing_exceptions_are_off_catalog_rows_and_unauthorised_discounts(town, billing, finance):
    may = dt.date(2025, 5, 12)
    plain = subscription(billing, service(town, at(2025, 1, 1)))
    promotion = Promotion.objects.create(
        name="Spring", scope="retail", kind="percent", value=Decimal(10), months=3,
        valid_from=dt.date(2025, 1, 1),
    )  # fmt: skip
    promoted = subscription(billing, service(town, at(2025, 1, 2)), promotion=promotion)

    def override(status):
        return PriceOverride.objects.create(
            subscription=plain, field="price", old_value=PRICE, new_value=Decimal("35.00"),
            reason_code="goodwill", status=status, requested_by=finance,
        )  # fmt: skip

    def priced(unit, **fields):
        return period_line(plain, None, None, Decimal(unit), catalog=PRICE, **fields)

    def discount(sub, **fields):
        return Line(kind=LineKind.DISCOUNT, description="discount", unit_amount=Decimal("-4"),
                    subscription_id=sub.pk, **fields)  # fmt: skip

    invoice(billing, may, [priced("39.90")])
    off_catalog = invoice(billing, may, [priced("39.90"), priced("35.00")])
    invoice(billing, may, [priced("35.00", override_id=override("applied").pk)])
    pending = invoice(billing, may, [priced("35.00", override_id=override("pending").pk)])
    invoice(billing, may, [priced("39.90"), discount(promoted)])
    free_discount = invoice(billing, may, [priced("39.90"), discount(plain)])
    invoice(billing, may, [priced("30.00")], void=True)
    invoice(billing, may, [charge("-5.00")], kind=InvoiceKind.CREDIT_NOTE)
    invoice(billing, dt.date(2025, 6, 1), [priced("30.00")])

    result = figure("pricing-policy-exceptions", dt.date(2025, 5, 1))

    assert (result.numerator, result.denominator) == (3, 6)
    assert result.value == Decimal(50) and result.status == kpis.BAD
    assert drill("pricing-policy-exceptions", dt.date(2025, 5, 1), "invoice") == [
        off_catalog.number, pending.number, free_discount.number,
    ]  # fmt: skip


def test_one_exception_in_a_hundred_invoices_is_at_the_target_edge(billing):
    for k in range(100):
        unit = "35.00" if k == 0 else "39.90"
        invoice(billing, dt.date(2025, 5, 2), [charge(unit, catalog_unit_amount=PRICE)])
    result = figure("pricing-policy-exceptions", dt.date(2025, 5, 1))
    assert result.value == Decimal(1) and result.status == kpis.WARN


# --- credit and refund velocity ---------------------------------------------------------------


def test_velocity_is_credits_and_refunds_over_the_revenue_of_30_days(billing):
    june = dt.date(2025, 6, 10)
    first = invoice(billing, june, [charge("1000.00")])
    invoice(billing, dt.date(2025, 6, 30), [charge("1000.00")])
    invoice(billing, june, [charge("500.00")], void=True)
    invoice(billing, dt.date(2025, 5, 31), [charge("700.00")])  # before the 30 days
    credit = invoice(
        billing, dt.date(2025, 6, 12), [charge("-20.00")], kind=InvoiceKind.CREDIT_NOTE,
        credits=first,
    )  # fmt: skip
    pay(first, "1000.00", at(2025, 6, 11))
    refund = pay(first, "10.00", at(2025, 6, 15), kind=PaymentKind.REFUND)
    pay(first, "3.00", at(2025, 7, 1, 0, 30), kind=PaymentKind.REFUND)  # after the month

    result = figure("credit-refund-velocity", dt.date(2025, 6, 1))

    assert (result.numerator, result.denominator) == (Decimal("30.00"), Decimal("2000.00"))
    assert result.value == Decimal("1.5") and result.status == kpis.WARN
    rows = kpis.kpi_rows("credit-refund-velocity", dt.date(2025, 6, 1)).rows
    assert [(r["what"], r["amount"]) for r in rows] == [
        ("credit note", Decimal("20.00")),
        ("refund", Decimal("10.00")),
    ]
    assert rows[0]["document"] == credit.number and rows[1]["corrects"] == first.number
    assert refund.pk


# --- no-charge rework -------------------------------------------------------------------------


def _work_order(town, completed, *, sent_back=(), completed_again=None):
    """A work order first completed at `completed`, a task sent back at each `sent_back`."""
    address = town.address("live", 0)
    work_order = WorkOrder.objects.create(
        address=address, template=standard_template(), status="accepted",
        completed_at=completed_again or completed, reopened=len(sent_back),
    )  # fmt: skip
    WorkOrderStatusChange.objects.create(
        work_order=work_order, from_status="in_progress", to_status="completed",
        changed_at=completed,
    )  # fmt: skip
    if completed_again:
        WorkOrderStatusChange.objects.create(
            work_order=work_order, from_status="in_progress", to_status="completed",
            changed_at=completed_again,
        )  # fmt: skip
    task = Task.objects.create(
        work_order=work_order, position=1, name="Install", category="physical", skill="fibre",
    )  # fmt: skip
    for when in sent_back:
        TaskEvent.objects.create(task=task, kind="rejected", from_status="awaiting_acceptance",
                                 to_status="rework", at=when)  # fmt: skip
    return work_order


def test_rework_counts_jobs_sent_back_within_14_days_at_no_charge(town, billing):
    july = at(2025, 7, 3)
    free = _work_order(town, july, sent_back=[july + dt.timedelta(days=3)])
    _work_order(town, july, sent_back=[july + dt.timedelta(days=20)])
    charged = _work_order(town, july, sent_back=[july + dt.timedelta(days=5)])
    invoice(billing, dt.date(2025, 7, 20), [charge("80.00", work_order_id=charged.pk)])
    _work_order(town, july)
    _work_order(town, at(2025, 6, 28), sent_back=[at(2025, 7, 2)])  # completed in June
    again = _work_order(
        town, at(2025, 7, 2), sent_back=[at(2025, 7, 4)], completed_again=at(2025, 8, 1)
    )

    result = figure("no-charge-rework", dt.date(2025, 7, 1))

    assert (result.numerator, result.denominator) == (2, 5)
    assert result.value == Decimal(40) and result.status == kpis.BAD
    assert drill("no-charge-rework", dt.date(2025, 7, 1), "work_order") == [again.pk, free.pk]


# --- settlement variance ----------------------------------------------------------------------


def _statement(billing, isp, month, expected, actual):
    return SettlementStatement.objects.create(
        isp=isp, provider=billing.owner_provider, month=month, currency="EUR",
        expected_total=Decimal(expected), actual_total=Decimal(actual),
    )  # fmt: skip


def test_settlement_variance_sums_absolute_differences_over_expected(town, billing):
    august = dt.date(2025, 8, 1)
    _statement(billing, town.isps[0], august, "1000.00", "1003.00")
    _statement(billing, town.isps[1], august, "1000.00", "995.00")
    _statement(billing, town.isps[0], dt.date(2025, 7, 1), "1000.00", "1500.00")

    result = figure("settlement-variance", august)

    assert (result.numerator, result.denominator) == (Decimal("8.00"), Decimal("2000.00"))
    assert result.value == Decimal("0.4") and result.status == kpis.OK
    assert drill("settlement-variance", august, "variance") == [Decimal("-5.00"), Decimal("3.00")]
    assert figure("settlement-variance", dt.date(2025, 7, 1)).status == kpis.BAD


# --- DSO ----------------------------------------------------------------------------------------


def test_dso_and_dispute_adjusted_dso_with_their_rise_over_the_quarter(billing):
    early = invoice(billing, dt.date(2025, 6, 10), [charge("300.00")])
    pay(early, "100.00", at(2025, 6, 20))
    pay(early, "200.00", at(2025, 7, 5))
    disputed = invoice(billing, dt.date(2025, 6, 15), [charge("300.00")], disputed=True)
    september = invoice(billing, dt.date(2025, 9, 1), [charge("600.00")])
    pay(september, "400.00", at(2025, 9, 10))
    late = invoice(billing, dt.date(2025, 9, 20), [charge("150.00")], disputed=True)
    invoice(billing, dt.date(2025, 9, 5), [charge("1000.00")], void=True)

    june = kpis.kpi_figures(dt.date(2025, 6, 1), keys=["dso", "dso-dispute-adjusted"])
    assert [(f.value, f.numerator, f.denominator) for f in june] == [
        (Decimal(25), Decimal(500), Decimal(600)),
        (Decimal(10), Decimal(200), Decimal(600)),
    ]
    dso, adjusted = kpis.kpi_figures(dt.date(2025, 9, 1), keys=["dso", "dso-dispute-adjusted"])

    assert (dso.value, dso.numerator, dso.denominator) == (Decimal(26), Decimal(650), 750)
    assert dso.extra["change"] == Decimal(4) and dso.status == kpis.WARN
    assert (adjusted.value, adjusted.numerator) == (Decimal(8), Decimal(200))
    assert adjusted.extra["change"] == Decimal(-20) and adjusted.status == kpis.OK
    assert drill("dso", dt.date(2025, 9, 1), "invoice") == [
        disputed.number, september.number, late.number,
    ]  # fmt: skip
    assert drill("dso", dt.date(2025, 9, 1), "balance") == [300, 200, 150]
    assert drill("dso-dispute-adjusted", dt.date(2025, 9, 1), "invoice") == [september.number]


# --- data quality -----------------------------------------------------------------------------


def test_data_quality_lists_each_failing_order_with_its_first_reason(town, billing):
    october = at(2025, 10, 6)
    good = order(town, placed_at=october)
    outside = order(town, placed_at=october, phase=None)
    no_plan = order(town, placed_at=october, with_offering=False)
    no_customer = order(town, placed_at=october, with_customer=False)
    stranger = IspFactory(name="No Billing Net")
    no_provider = order_place(
        address=town.address("live", 3), isp=stranger, placed_at=october, customer=customer(),
        offering=OfferingFactory(isp=stranger),
    )  # fmt: skip
    shared = town.address("live", 4)
    first = order(town, placed_at=october, address=shared, unit="Whg 1")
    second = order(town, placed_at=october, address=shared, unit=" whg 1")
    order(town, placed_at=at(2025, 9, 30))  # placed in September

    result = figure("data-quality-failures", dt.date(2025, 10, 1))

    assert (result.numerator, result.denominator) == (6, 7)
    rows = kpis.kpi_rows("data-quality-failures", dt.date(2025, 10, 1)).rows
    reasons = {row["order_reference"]: row["reason"] for row in rows}
    assert reasons == {
        outside.reference: kpis.REASONS["address"],
        no_plan.reference: kpis.REASONS["plan"],
        no_customer.reference: kpis.REASONS["customer"],
        no_provider.reference: kpis.REASONS["provider"],
        first.reference: kpis.REASONS["duplicate"],
        second.reference: kpis.REASONS["duplicate"],
    }
    assert good.reference not in reasons


# --- colours at the edges ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "measured", "status"),
    [
        ("active-but-unbilled", "0.2499", kpis.OK),
        ("active-but-unbilled", "0.25", kpis.WARN),
        ("active-but-unbilled", "0.9999", kpis.WARN),
        ("active-but-unbilled", "1", kpis.BAD),
        ("activation-to-invoice-lag", "1", kpis.OK),
        ("activation-to-invoice-lag", "1.5", kpis.WARN),
        ("activation-to-invoice-lag", "3", kpis.WARN),
        ("activation-to-invoice-lag", "3.5", kpis.BAD),
        ("pricing-policy-exceptions", "1", kpis.WARN),
        ("pricing-policy-exceptions", "2", kpis.BAD),
        ("credit-refund-velocity", "1.49", kpis.OK),
        ("credit-refund-velocity", "3", kpis.BAD),
        ("no-charge-rework", "4.99", kpis.OK),
        ("no-charge-rework", "5", kpis.WARN),
        ("no-charge-rework", "8", kpis.BAD),
        ("settlement-variance", "0.5", kpis.OK),
        ("settlement-variance", "1", kpis.WARN),
        ("settlement-variance", "1.01", kpis.BAD),
        ("dso", "-5", kpis.OK),
        ("dso", "2", kpis.OK),
        ("dso", "10", kpis.WARN),
        ("dso", "10.01", kpis.BAD),
        ("data-quality-failures", "0.99", kpis.OK),
        ("data-quality-failures", "2", kpis.BAD),
    ],
)
def test_colour_at_the_thresholds(key, measured, status):
    assert kpis.KPI_BY_KEY[key].status(Decimal(measured)) == status
    assert kpis.KPI_BY_KEY[key].status(None) == kpis.NONE


def test_no_history_gives_no_figures_and_no_colour(db):
    for result in kpis.kpi_figures(dt.date(2025, 1, 1)):
        assert result.value is None and result.status == kpis.NONE
        assert len(result.trend) == 12


def test_one_statement_per_group_whatever_the_history(django_assert_max_num_queries):
    with django_assert_max_num_queries(len(kpis.QUERIES)):
        kpis.kpi_figures(dt.date(2025, 1, 1))


def test_bad_months_are_refused_with_a_message():
    today = dt.date(2025, 11, 20)
    assert kpis.parse_month("2025-03", today=today) == dt.date(2025, 3, 1)
    assert kpis.parse_month("", today=today) == dt.date(2025, 11, 1)
    for text, says in [("2025-13", "YYYY-MM"), ("march", "YYYY-MM"), ("2025-12", "not begun")]:
        with pytest.raises(kpis.DomainError, match=says):
            kpis.parse_month(text, today=today)
