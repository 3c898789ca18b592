"""Connection charges: the deposit invoiced at signup, the installment rows generated once when
the snapshotted stage is reached (one address, or many when an area deploys), the plan in SQL
equal to Python's, a missing provider, cancellation, snapshots and the monthly invoicing."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from areas.services import area_deploy
from billing.connection import (
    connection_charge_check,
    connection_charges_check_addresses,
    connection_charges_unblock,
    installment_plan_sql,
    installments_invoice_due,
)
from billing.lifecycle import ConnectionChargeStatus, InvoiceKind, InvoiceStatus, LineKind
from billing.models import BillingProvider, ConnectionCharge, Installment, Invoice
from billing.periods import add_months
from gis_core.lifecycle import AddressStatus
from gis_core.services import address_activate, address_connect
from tests.wholesale.conftest import build
from wholesale.connection_cost import installment_plan
from wholesale.lifecycle import InvoicingStage
from wholesale.models import Order
from wholesale.services import connection_cost_terms_set, order_cancel, signup_place

pytestmark = pytest.mark.django_db

ERIKA = {"name": "Erika Mustermann", "email": "erika@example.org", "phone": "+49 30 123"}
D = Decimal


def sign_up(address, offering=None, **overrides):
    arguments = {
        "address": address,
        "offering": offering,
        "connection_only": offering is None,
        "consent": True,
        **ERIKA,
        **overrides,
    }
    return signup_place(**arguments)


def terms(town, phase="demand_aggregation", stage=InvoicingStage.NOT_ACTIVE, **amounts):
    values = {"total": "5000", "deposit": "1000", "max_installment": "500", **amounts}
    return connection_cost_terms_set(
        area=town.areas[phase], billed_by=town.billing, invoicing_starts=stage, **values
    )


def this_month() -> dt.date:
    return timezone.localdate().replace(day=1)


def rows_of(order) -> list[Installment]:
    return list(Installment.objects.filter(charge__order=order).order_by("number"))


# --- the issue's example ---------------------------------------------------------------------


def test_the_example_deposit_at_signup_and_ten_rows_of_500(town, billing):
    terms(town)

    order = sign_up(town.address("demand_aggregation"), town.offerings[0])

    charge = ConnectionCharge.objects.get(order=order)
    assert charge.status == ConnectionChargeStatus.GENERATED
    assert charge.generated_stage == InvoicingStage.NOT_ACTIVE
    assert charge.provider == billing.owner_provider
    deposit = charge.deposit_invoice
    assert deposit.kind == InvoiceKind.DEPOSIT and deposit.status == InvoiceStatus.ISSUED
    assert (
        deposit.total == D("1000.00") and deposit.number == f"WFN-{deposit.issue_date.year}-000001"
    )
    assert deposit.customer == order.customer and deposit.isp == order.isp
    assert deposit.order == order and deposit.idempotency_key == f"deposit:order:{order.pk}"
    (line,) = deposit.lines.all()
    assert (line.kind, line.description, line.amount) == (
        LineKind.DEPOSIT,
        "Connection deposit",
        D("1000.00"),
    )
    rows = rows_of(order)
    assert [r.amount for r in rows] == [D("500.00")] * 10
    assert sum(r.amount for r in rows) == D("5000.00")  # the deposit does not reduce it
    assert [(r.number, r.of) for r in rows] == [(k, 10) for k in range(1, 11)]
    assert [r.due_month for r in rows] == [add_months(this_month(), k) for k in range(10)]


def test_the_total_is_invoiced_month_by_month_independently_of_the_deposit(town, billing):
    terms(town)
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])
    start = this_month()

    first = installments_invoice_due(on=start)
    again = installments_invoice_due(on=start)
    later = installments_invoice_due(on=add_months(start, 12))

    assert first == {"installment_invoices": 1, "issued": 1}
    assert again == {"installment_invoices": 0, "issued": 0}
    assert later == {"installment_invoices": 9, "issued": 9}
    invoices = Invoice.objects.filter(order=order, kind=InvoiceKind.CONNECTION).order_by(
        "sequence_year", "sequence"
    )
    assert invoices.count() == 10
    assert sum(i.total for i in invoices) == D("5000.00")
    descriptions = [i.lines.get().description for i in invoices]
    assert descriptions[0] == "Connection cost, installment 1 of 10"
    assert descriptions[-1] == "Connection cost, installment 10 of 10"
    assert all(i.lines.get().installment_id for i in invoices)
    numbers = list(
        Invoice.objects.filter(provider=billing.owner_provider)
        .order_by("sequence_year", "sequence")
        .values_list("sequence_year", "sequence")
    )
    later_year = add_months(start, 12).year
    # deposit and installment 1 this year; installments 2..10 in the later run's year
    assert numbers == [(start.year, 1), (start.year, 2)] + [(later_year, n) for n in range(1, 10)]
    assert all(i.status == InvoiceStatus.ISSUED and i.customer == order.customer for i in invoices)


# --- rounding: the plan in Python and in SQL ---------------------------------------------------


@pytest.mark.parametrize(
    ("total", "maximum"),
    [
        ("1000.00", "300"),
        ("99.99", "10"),
        ("5000", "500"),
        ("1234.56", None),
        ("0.05", "0.02"),
        ("100.01", "33.33"),
        ("7", "0.03"),
    ],
)
def test_the_sql_plan_equals_the_python_plan(db, total, maximum):
    maximum = D(maximum) if maximum else None
    python = installment_plan(total=D(total), max_installment=maximum)
    sql = installment_plan_sql(total=D(total), max_installment=maximum)
    assert sql == python
    assert sum(sql) == D(total).quantize(D("0.01"))
    assert maximum is None or max(sql) <= maximum


def test_rows_add_up_exactly_to_an_awkward_total(town, billing):
    terms(town, total="1000.00", deposit=None, max_installment="300")
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])

    rows = rows_of(order)

    assert [r.amount for r in rows] == [D("250.00")] * 4
    assert ConnectionCharge.objects.get(order=order).deposit_invoice is None

    terms(town, total="99.99", deposit=None, max_installment="10")
    other = sign_up(town.address("demand_aggregation", 1), town.offerings[1])
    amounts = [r.amount for r in rows_of(other)]
    assert amounts == [D("10.00")] * 9 + [D("9.99")] and sum(amounts) == D("99.99")


# --- a missing provider ------------------------------------------------------------------------


def test_no_active_provider_blocks_the_charge_with_the_reason(town):
    terms(town)  # no billing fixture: the owner has no provider

    order = sign_up(town.address("demand_aggregation"), town.offerings[0])

    charge = ConnectionCharge.objects.get(order=order)
    assert charge.status == ConnectionChargeStatus.BLOCKED
    assert charge.blocked_reason == "Wedding Fibre Netz has no active billing provider"
    assert charge.deposit_invoice is None and not Installment.objects.exists()
    assert not Invoice.objects.exists()


def test_a_provider_in_another_currency_blocks_it_too(town, billing):
    BillingProvider.objects.filter(pk=billing.owner_provider.pk).update(currency="CHF")
    terms(town)

    order = sign_up(town.address("demand_aggregation"), town.offerings[0])

    charge = ConnectionCharge.objects.get(order=order)
    assert charge.status == ConnectionChargeStatus.BLOCKED
    assert charge.blocked_reason == "Wedding Fibre Netz GmbH invoices in CHF, not EUR"
    assert not Invoice.objects.exists()


def test_a_blocked_charge_starts_once_its_billing_party_can_invoice(town):
    terms(town, total="5000", deposit="1000", max_installment="500")
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])
    other_currency = sign_up(town.address("demand_aggregation", 1), town.offerings[1])
    assert connection_charges_unblock(on=this_month())["unblocked"] == 0  # still no provider

    BillingProvider.objects.create(
        organisation=town.billing, name="Wedding Fibre Netz GmbH", invoice_prefix="WFN"
    )
    Order.objects.filter(pk=other_currency.pk).update(connection_cost_currency="CHF")

    assert connection_charges_unblock(on=this_month()) == {"unblocked": 1}
    charge = ConnectionCharge.objects.get(order=order)
    assert charge.status == ConnectionChargeStatus.GENERATED and charge.blocked_reason == ""
    assert charge.deposit_invoice.total == D("1000.00")
    assert [row.amount for row in rows_of(order)] == [D("500.00")] * 10
    still = ConnectionCharge.objects.get(order=other_currency)
    assert still.status == ConnectionChargeStatus.BLOCKED  # its party cannot bill in CHF
    assert connection_charges_unblock(on=this_month()) == {"unblocked": 0}
    assert Invoice.objects.count() == 1


def test_an_order_without_connection_cost_gets_no_charge(town, billing):
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])
    assert not ConnectionCharge.objects.filter(order=order).exists()


# --- the trigger stages ------------------------------------------------------------------------


def test_deployment_stage_waits_for_the_deployment_and_generates_set_based(town, billing):
    terms(town, stage=InvoicingStage.DEPLOYMENT)
    orders = [
        sign_up(town.address("demand_aggregation", n), town.offerings[n % 2]) for n in range(3)
    ]
    charges = ConnectionCharge.objects.filter(order__in=orders)
    assert {c.status for c in charges} == {ConnectionChargeStatus.WAITING}
    assert not Installment.objects.exists()
    assert all(c.deposit_invoice_id for c in charges)  # the deposits went out at signup

    area_deploy(area=town.areas["demand_aggregation"])  # one addresses.status_changed event

    assert {c.status for c in charges.all()} == {ConnectionChargeStatus.GENERATED}
    assert {c.generated_stage for c in charges.all()} == {InvoicingStage.DEPLOYMENT}
    assert Installment.objects.count() == 30
    for order in orders:
        assert [r.amount for r in rows_of(order)] == [D("500.00")] * 10


def test_activated_stage_waits_for_the_connection(town, billing):
    terms(town, phase="live", stage=InvoicingStage.ACTIVATED)
    home = build(town.address("live"), "in_deployment")
    order = sign_up(home, town.offerings[0])
    charge = ConnectionCharge.objects.get(order=order)
    assert charge.status == ConnectionChargeStatus.WAITING

    address_connect(address=home)  # one address.status_changed event

    charge.refresh_from_db()
    assert charge.status == ConnectionChargeStatus.GENERATED
    assert charge.generated_stage == InvoicingStage.ACTIVATED
    assert len(rows_of(order)) == 10


def test_an_address_already_past_the_stage_generates_at_signup(town, billing):
    terms(town, phase="live", stage=InvoicingStage.ACTIVATED)
    home = build(town.address("live"), "connected")

    order = sign_up(home, town.offerings[0])

    assert ConnectionCharge.objects.get(order=order).status == ConnectionChargeStatus.GENERATED
    assert len(rows_of(order)) == 10


def test_deployment_stage_in_a_deploying_area_is_reached_at_signup(town, billing):
    terms(town, phase="in_deployment", stage=InvoicingStage.DEPLOYMENT)

    order = sign_up(town.address("in_deployment"), town.offerings[0])

    order.address.refresh_from_db()
    assert order.address.status == AddressStatus.IN_DEPLOYMENT
    charge = ConnectionCharge.objects.get(order=order)
    assert charge.status == ConnectionChargeStatus.GENERATED
    assert len(rows_of(order)) == 10


def test_rows_are_generated_once_whatever_happens_after(town, billing):
    terms(town, phase="live", stage=InvoicingStage.ACTIVATED)
    home = build(town.address("live"), "in_deployment")
    order = sign_up(home, town.offerings[0])
    address_connect(address=home)
    charge = ConnectionCharge.objects.get(order=order)
    first = list(Installment.objects.filter(charge=charge).values_list("pk", "due_month"))

    address_activate(address=home)  # a later stage
    connection_charge_check(charge=charge, on=add_months(this_month(), 5))  # a retry
    connection_charges_check_addresses(address_ids=[home.pk], on=add_months(this_month(), 5))
    ConnectionCharge.objects.filter(pk=charge.pk).update(status=ConnectionChargeStatus.WAITING)
    connection_charges_check_addresses(address_ids=[home.pk])  # even past the status guard

    assert list(Installment.objects.filter(charge=charge).values_list("pk", "due_month")) == first


def test_connection_only_signups_are_billed_the_same_way(town, billing):
    connection_cost_terms_set(
        area=town.areas["live"],
        total="5000",
        deposit="1000",
        max_installment="500",
        billed_by=town.billing,
        connection_only_enabled=True,
    )

    order = sign_up(town.address("live"))

    assert order.is_connection_only
    charge = ConnectionCharge.objects.get(order=order)
    assert charge.deposit_invoice.total == D("1000.00") and charge.deposit_invoice.isp is None
    assert len(rows_of(order)) == 10 and charge.status == ConnectionChargeStatus.GENERATED


# --- cancelling --------------------------------------------------------------------------------


def test_cancelling_before_the_stage_cancels_the_charge_and_keeps_the_deposit(town, billing):
    terms(town, stage=InvoicingStage.DEPLOYMENT)
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])

    order_cancel(order=order, reason="changed my mind")

    charge = ConnectionCharge.objects.get(order=order)
    assert charge.status == ConnectionChargeStatus.CANCELLED
    assert charge.deposit_invoice.status == InvoiceStatus.ISSUED  # finance may credit it
    connection_charges_check_addresses(address_ids=[order.address_id])
    assert not Installment.objects.exists()


def test_cancelling_after_generation_keeps_the_rows(town, billing):
    terms(town)
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])

    order_cancel(order=order, reason="moving away")

    charge = ConnectionCharge.objects.get(order=order)
    assert charge.status == ConnectionChargeStatus.GENERATED
    assert len(rows_of(order)) == 10


# --- the snapshot and the address's own terms --------------------------------------------------


def test_changing_the_terms_later_never_changes_an_existing_charge(town, billing):
    terms(town, stage=InvoicingStage.DEPLOYMENT)
    first = sign_up(town.address("demand_aggregation", 0), town.offerings[0])

    terms(town, stage=InvoicingStage.NOT_ACTIVE, total="1200", deposit="200", max_installment="100")
    second = sign_up(town.address("demand_aggregation", 1), town.offerings[1])

    assert ConnectionCharge.objects.get(order=first).status == ConnectionChargeStatus.WAITING
    assert [r.amount for r in rows_of(second)] == [D("100.00")] * 12
    assert ConnectionCharge.objects.get(order=second).deposit_invoice.total == D("200.00")

    area_deploy(area=town.areas["demand_aggregation"])

    assert [r.amount for r in rows_of(first)] == [D("500.00")] * 10  # its own snapshot
    assert ConnectionCharge.objects.get(order=first).deposit_invoice.total == D("1000.00")
    assert len(rows_of(second)) == 12


def test_an_addresses_own_terms_win_over_its_areas(town, billing):
    terms(town)
    home = town.address("demand_aggregation")
    connection_cost_terms_set(
        address=home, total="600", deposit="50", max_installment="250", billed_by=town.billing
    )

    order = sign_up(home, town.offerings[0])

    assert [r.amount for r in rows_of(order)] == [D("200.00")] * 3
    assert ConnectionCharge.objects.get(order=order).deposit_invoice.total == D("50.00")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_invoice_each_installment_once(town, billing):
    terms(town)
    for n in range(4):
        sign_up(town.address("demand_aggregation", n), town.offerings[n % 2])
    on = add_months(this_month(), 2)  # installments 1..3 of each signup are due
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            barrier.wait()
            results.append(installments_invoice_due(on=on)["installment_invoices"])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == [0, 12]
    invoices = Invoice.objects.filter(kind=InvoiceKind.CONNECTION)
    assert invoices.count() == 12
    by_year: dict[int, list[int]] = {}
    for year, sequence in Invoice.objects.order_by("sequence").values_list(
        "sequence_year", "sequence"
    ):
        by_year.setdefault(year, []).append(sequence)
    assert sum(len(numbers) for numbers in by_year.values()) == 16  # 4 deposits + 12
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in by_year.values())
