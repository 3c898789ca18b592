"""The parts of billing together: what the network does reaches invoices whose rows the
revenue-assurance checks and the board KPIs find in order — each row priced at its own
plan's catalog price, or naming the authorised override that priced it."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from accounts.services import user_create
from billing.assurance import exceptions_detect
from billing.kpis import kpi_figures
from billing.lifecycle import ExceptionKind, ExceptionStatus, LineKind, OverrideStatus, ReasonCode
from billing.models import BillingException, InvoiceLine, Subscription
from billing.overrides import price_override_approve, price_override_request
from billing.subscriptions import subscriptions_bill_month
from tests.billing.test_subscriptions_support import activate, at
from tests.wholesale.factories import OfferingFactory, ProductFactory
from wholesale.activation import service_change_profile

pytestmark = pytest.mark.django_db

START = at(2026, 3, 14, 9, 30)
MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)


def _pricing(month: dt.date):
    (figure,) = kpi_figures(month, keys=["pricing-policy-exceptions"], today=dt.date(2026, 6, 1))
    return figure


def _open_pricing_exceptions() -> list[BillingException]:
    return list(
        BillingException.objects.filter(
            kind=ExceptionKind.PRICING_POLICY, status=ExceptionStatus.OPEN
        )
    )


def test_a_plan_change_bills_each_plan_at_its_own_catalog_price(town, billing):
    service = activate(town, START)
    faster = ProductFactory(name="Fibre 1000")
    OfferingFactory(isp=town.isps[0], product=faster, name="Spree 1000", monthly_price="59.90")

    service_change_profile(service=service, product=faster, at=at(2026, 3, 22, 15, 45))
    subscriptions_bill_month(month=APRIL, run=None, on=APRIL)

    rows = {
        (line.kind, line.unit_amount, line.catalog_unit_amount)
        for line in InvoiceLine.objects.exclude(kind=LineKind.DISCOUNT)
    }
    assert rows == {
        (LineKind.PRORATION, Decimal("39.90"), Decimal("39.90")),  # the first invoice
        (LineKind.CREDIT, Decimal("39.90"), Decimal("39.90")),  # the old plan, credited
        (LineKind.PRORATION, Decimal("59.90"), Decimal("59.90")),  # the new plan
        (LineKind.PERIOD, Decimal("59.90"), Decimal("59.90")),  # April, set-based
    }
    assert _pricing(MARCH).numerator == 0 and _pricing(APRIL).numerator == 0
    exceptions_detect(on=APRIL, now=at(2026, 4, 1, 3))
    assert _open_pricing_exceptions() == []


def test_an_approved_override_prices_the_next_months_and_is_no_policy_exception(
    town, billing, finance, owner
):
    service = activate(town, START)
    approver = user_create(username="boss", organisation=owner, role=Role.OPERATOR_ADMIN)
    subscription = Subscription.objects.get(service=service)
    override = price_override_request(
        subscription=subscription,
        field="price",
        new_value="19.95",
        reason_code=ReasonCode.SOCIAL_TARIFF,
        note="social tariff approved by the city",
        actor=finance,
    )
    assert override.status == OverrideStatus.PENDING  # half the price: above the limit
    price_override_approve(override=override, actor=approver)

    subscriptions_bill_month(month=APRIL, run=None, on=APRIL)

    (april,) = InvoiceLine.objects.filter(kind=LineKind.PERIOD)
    assert (april.unit_amount, april.catalog_unit_amount) == (Decimal("19.95"), Decimal("39.90"))
    assert april.override_id == override.pk
    assert _pricing(APRIL).numerator == 0
    exceptions_detect(on=APRIL, now=at(2026, 4, 1, 3))
    assert _open_pricing_exceptions() == []


def test_a_price_changed_behind_billing_is_a_policy_exception_on_the_kpi(town, billing):
    service = activate(town, START)
    subscription = Subscription.objects.get(service=service)
    # a price typed into the database by hand: no override, no audit row
    Subscription.objects.filter(pk=subscription.pk).update(monthly_price=Decimal("29.90"))
    subscription.segments.update(monthly_price=Decimal("29.90"))

    subscriptions_bill_month(month=APRIL, run=None, on=APRIL)

    assert _pricing(APRIL).numerator == 1
    exceptions_detect(on=APRIL, now=at(2026, 4, 1, 3))
    (exception,) = _open_pricing_exceptions()
    assert exception.subscription_id == subscription.pk
