"""Subscriptions follow services: start at the activation instant with a prorated first
invoice, follow plan changes (credit + charge), end with a final prorated invoice, and an
ISP switch hands over at one instant."""

from decimal import Decimal

import pytest

from billing.lifecycle import InvoiceKind, InvoiceStatus, LineKind, SubscriptionStatus
from billing.models import Subscription
from tests.billing.test_subscriptions_support import (
    activate,
    at,
    invoices_of,
    lines_of,
    part,
)
from tests.wholesale.factories import OfferingFactory, ProductFactory
from wholesale.activation import service_change_profile, service_deactivate

pytestmark = pytest.mark.django_db

START = at(2026, 3, 14, 9, 30)
MARCH, APRIL, MAY = at(2026, 3, 1), at(2026, 4, 1), at(2026, 5, 1)


def test_activation_starts_the_subscription_with_a_prorated_first_invoice(town, billing):
    service = activate(town, START)

    subscription = Subscription.objects.get(service=service)
    assert subscription.status == SubscriptionStatus.ACTIVE
    assert subscription.started_at == START
    assert subscription.billed_until == APRIL
    assert subscription.monthly_price == subscription.catalog_price == Decimal("39.90")
    assert subscription.product_id == service.product_id
    assert subscription.provider == billing.isp_providers[town.isps[0].pk]
    assert [(s.starts_at, s.ends_at) for s in subscription.segments.all()] == [(START, None)]
    (invoice,) = invoices_of(subscription)
    # 17 days 13.5 hours of March (31 days less the hour of summer time)
    expected = part("39.90", START, APRIL, MARCH, APRIL)
    assert expected == Decimal("22.64")
    assert lines_of(invoice) == [(LineKind.PRORATION, expected)]
    assert invoice.total == expected
    assert invoice.kind == InvoiceKind.SUBSCRIPTION and invoice.status == InvoiceStatus.ISSUED
    assert invoice.number == "ISP1-2026-000001"
    assert invoice.idempotency_key == f"sub:{subscription.pk}:start"
    assert invoice.isp == town.isps[0] and invoice.order_id == service.order_id
    line = invoice.lines.get()
    assert line.description == "Spree 500, 14 Mar 2026 09:30 – 31 Mar 2026, prorated 17.6/31 days"
    assert (line.period_start, line.period_end) == (START, APRIL)


def test_no_arrangement_or_provider_means_no_subscription(town, billing):
    billing.arrangements[town.isps[0].pk].delete()
    arrangement = billing.arrangements[town.isps[1].pk]
    arrangement.subscription_provider = None
    arrangement.save()

    activate(town, START, isp=0, n=0)
    activate(town, START, isp=1, n=1)

    assert not Subscription.objects.exists()


def test_deactivation_credits_the_unused_part_and_ends_the_subscription(town, billing):
    service = activate(town, START)
    end = at(2026, 3, 20, 18, 0)

    service_deactivate(service=service, at=end)

    subscription = Subscription.objects.get(service=service)
    assert subscription.status == SubscriptionStatus.ENDED
    assert subscription.ended_at == end
    first, final = invoices_of(subscription)
    credit = part("39.90", end, APRIL, MARCH, APRIL)
    assert lines_of(final) == [(LineKind.FINAL, -credit)]
    assert final.total == -credit
    # billed START → end, to the cent (each invoice rounds once)
    used = part("39.90", START, end, MARCH, APRIL)
    assert abs(first.total + final.total - used) <= Decimal("0.01")


def test_deactivation_after_what_was_billed_charges_up_to_the_end(town, billing):
    service = activate(town, START)
    end = at(2026, 4, 3, 12, 0)  # the April run has not billed it

    service_deactivate(service=service, at=end)

    subscription = Subscription.objects.get(service=service)
    final = invoices_of(subscription)[-1]
    assert lines_of(final) == [(LineKind.FINAL, part("39.90", APRIL, end, APRIL, MAY))]
    assert subscription.billed_until == end


def test_a_plan_change_credits_the_old_plan_and_charges_the_new(town, billing):
    service = activate(town, START)
    faster = ProductFactory(name="Fibre 1000")
    OfferingFactory(isp=town.isps[0], product=faster, name="Spree 1000", monthly_price="59.90")
    change = at(2026, 3, 22, 15, 45)

    service_change_profile(service=service, product=faster, at=change)

    subscription = Subscription.objects.get(service=service)
    assert subscription.product == faster
    assert subscription.monthly_price == Decimal("59.90")
    segments = [(s.product_id, s.starts_at, s.ends_at) for s in subscription.segments.all()]
    assert segments == [
        (service.product_id, START, change),
        (faster.pk, change, None),
    ]
    _, changed = invoices_of(subscription)
    assert lines_of(changed) == [
        (LineKind.CREDIT, -part("39.90", change, APRIL, MARCH, APRIL)),
        (LineKind.PRORATION, part("59.90", change, APRIL, MARCH, APRIL)),
    ]


def test_a_plan_without_an_offering_keeps_the_price(town, billing):
    service = activate(town, START)
    other = ProductFactory(name="Fibre 250")

    service_change_profile(service=service, product=other, at=at(2026, 3, 22))

    subscription = Subscription.objects.get(service=service)
    assert subscription.product == other and subscription.monthly_price == Decimal("39.90")


def test_a_switch_hands_over_at_one_instant(town, billing):
    old = activate(town, START)
    from wholesale.models import Service

    address = old.address
    switch = at(2026, 3, 25, 11, 15)
    new = activate(town, switch, isp=1, address=address, ont=old.ont_serial)

    old_sub = Subscription.objects.get(service=old)
    new_sub = Subscription.objects.get(service=new)
    assert Service.objects.get(pk=old.pk).ended_at == switch
    assert old_sub.status == SubscriptionStatus.ENDED and old_sub.ended_at == switch
    assert new_sub.started_at == switch == old_sub.ended_at  # no gap, no overlap
    final = invoices_of(old_sub)[-1]
    assert lines_of(final) == [(LineKind.FINAL, -part("39.90", switch, APRIL, MARCH, APRIL))]
    (first,) = invoices_of(new_sub)
    assert lines_of(first) == [(LineKind.PRORATION, part("49.00", switch, APRIL, MARCH, APRIL))]
    assert first.provider == billing.owner_provider  # the owner bills for the second ISP
