"""Revenue assurance: every exception type raised by the daily check and cleared by the next
one once its condition is gone; the ONT binding blocks billing until it is repaired; finance
resolves with a note, and a condition that persists is raised again as a new exception."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings

from billing.assurance import CLEARED, exception_resolve, exceptions_detect
from billing.lifecycle import (
    ExceptionKind,
    ExceptionStatus,
    OverrideField,
    OverrideStatus,
    ReasonCode,
    Severity,
    SubscriptionStatus,
)
from billing.models import BillingException, PriceOverride, Subscription
from common.errors import Conflict, DomainError, PermissionDenied
from tests.billing.test_assurance_support import (
    at,
    installation_record,
    live_service,
    subscription_for,
)
from tests.wholesale.factories import ProductFactory
from wholesale.activation import service_change_profile, service_deactivate

pytestmark = pytest.mark.django_db

NOW = at(2024, 5, 10, 12)
ON = NOW.date()


def detect(now=NOW, **kw):
    return exceptions_detect(on=now.date(), now=now, **kw)


def open_exceptions(kind=None):
    rows = BillingException.objects.filter(status=ExceptionStatus.OPEN)
    if kind:
        rows = rows.filter(kind=kind)
    return list(rows.order_by("pk"))


# --- free rider ---------------------------------------------------------------------------------


def test_a_live_service_without_subscription_is_a_free_rider_after_the_grace(town, billing):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 10, 11, 30))

    assert detect()["raised"] == 0  # 30 minutes after activation: within the grace of 60

    counts = detect(now=at(2024, 5, 10, 12, 31))

    (exception,) = open_exceptions()
    assert counts["raised"] == 1
    assert exception.kind == ExceptionKind.FREE_RIDER
    assert exception.severity == Severity.RED
    assert exception.subject == f"service:{service.pk}"
    assert exception.service == service and exception.isp_id == service.isp_id
    assert exception.detail == (
        f"service {service.reference} is active since 2024-05-10 11:30 but has no active"
        " subscription"
    )


@override_settings(BILLING_FREE_RIDER_GRACE_MINUTES=5)
def test_the_grace_is_configurable(town, billing):
    live_service(town, 0, isp=1, when=at(2024, 5, 10, 11, 50))

    assert detect()["raised"] == 1


def test_a_free_rider_is_cleared_once_its_subscription_exists(town, billing):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    detect()
    subscription_for(service, billing)

    counts = detect()

    exception = BillingException.objects.get()
    assert counts["cleared"] == 1
    assert exception.status == ExceptionStatus.RESOLVED
    assert exception.resolution == CLEARED
    assert exception.resolved_by is None


def test_services_of_an_isp_that_bills_itself_outside_oanm_are_no_free_riders(town, billing):
    arrangement = billing.arrangements[town.isps[0].pk]
    arrangement.subscription_provider = None
    arrangement.save()
    live_service(town, 0, isp=0, when=at(2024, 5, 1, 8))

    assert detect()["raised"] == 0


def test_services_of_an_isp_without_arrangement_are_no_free_riders(town):
    live_service(town, 0, isp=0, when=at(2024, 5, 1, 8))

    assert detect()["raised"] == 0


def test_a_second_check_raises_nothing_twice(town, billing):
    live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    detect()

    counts = detect()

    assert counts["raised"] == 0 and counts["open"] == 1
    assert BillingException.objects.count() == 1


# --- billing without a service ------------------------------------------------------------------


def test_billing_after_the_service_ended_is_raised_and_cleared_when_the_subscription_ends(
    town, billing
):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    subscription = subscription_for(service, billing)
    service_deactivate(service=service, at=at(2024, 5, 5, 8))
    # as if the end had never reached billing (a fault the check exists to catch)
    Subscription.objects.filter(pk=subscription.pk).update(
        status=SubscriptionStatus.ACTIVE, ended_at=None
    )

    detect()

    (exception,) = open_exceptions()
    assert exception.kind == ExceptionKind.BILLING_WITHOUT_SERVICE
    assert exception.severity == Severity.RED
    assert exception.subject == f"subscription:{subscription.pk}"
    assert exception.detail == (
        f"subscription {subscription.pk} is billing but its service {service.reference}"
        " ended on 2024-05-05 08:00"
    )

    Subscription.objects.filter(pk=subscription.pk).update(
        status=SubscriptionStatus.ENDED, ended_at=at(2024, 5, 5, 8)
    )
    detect()

    assert open_exceptions() == []


def test_a_subscription_without_any_service_is_raised(town, billing):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    subscription = subscription_for(service, billing, service=None)
    # the service has a subscription by its order: not a free rider

    detect()

    (exception,) = open_exceptions()
    assert exception.kind == ExceptionKind.BILLING_WITHOUT_SERVICE
    assert exception.detail == f"subscription {subscription.pk} is billing but has no service"


# --- plan mismatch ------------------------------------------------------------------------------


def test_a_profile_change_not_followed_by_billing_is_a_plan_mismatch(town, billing):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    subscription = subscription_for(service, billing)
    billed = service.product
    faster = ProductFactory(name="Fibre 1000", code="fibre-1000")
    service_change_profile(service=service, product=faster, at=at(2024, 5, 3, 8))
    # as if billing had missed the change (a fault the check exists to catch)
    Subscription.objects.filter(pk=subscription.pk).update(product=billed)

    detect()

    (exception,) = open_exceptions()
    assert exception.kind == ExceptionKind.PLAN_MISMATCH
    assert exception.severity == Severity.AMBER
    assert exception.subject == f"subscription:{subscription.pk}"
    assert exception.detail == (
        f"subscription {subscription.pk} bills {billed.name} ({billed.code}) but service"
        f" {service.reference} carries Fibre 1000 (fibre-1000)"
    )

    Subscription.objects.filter(pk=subscription.pk).update(product=faster)
    assert detect()["cleared"] == 1
    assert open_exceptions() == []


# --- ONT binding --------------------------------------------------------------------------------


def test_a_service_on_another_ont_than_installed_is_raised_and_blocked_until_repaired(
    town, billing
):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8), serial="ONT-LIVE")
    subscription = subscription_for(service, billing)
    record = installation_record(service.address, "ont-installed")

    counts = detect()

    (exception,) = open_exceptions()
    subscription.refresh_from_db()
    assert counts["blocked"] == 1
    assert exception.kind == ExceptionKind.ONT_BINDING
    assert exception.severity == Severity.RED
    assert exception.subject == f"service:{service.pk}"
    assert exception.detail == (
        f"service {service.reference} uses ONT ONT-LIVE but the installation record of its"
        " address names ONT ONT-INSTALLED"
    )
    assert subscription.billing_blocked is True

    type(record).objects.filter(pk=record.pk).update(ont_serial="ONT-LIVE")  # the repair
    counts = detect()

    subscription.refresh_from_db()
    assert counts["unblocked"] == 1 and counts["cleared"] == 1
    assert subscription.billing_blocked is False
    assert open_exceptions() == []


def test_a_service_whose_ont_is_installed_at_another_address_is_raised(town, billing):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8), serial="ONT-A")
    other = live_service(town, 1, isp=1, when=at(2024, 5, 1, 8), serial="ONT-B")
    subscription_for(service, billing)
    subscription_for(other, billing)
    installation_record(other.address, "ONT-A")  # ONT-A was installed at the other home

    detect()

    kinds = {(e.kind, e.subject) for e in open_exceptions()}
    assert kinds == {
        (ExceptionKind.ONT_BINDING, f"service:{service.pk}"),
        (ExceptionKind.ONT_BINDING, f"service:{other.pk}"),
    }
    mine = BillingException.objects.get(subject=f"service:{service.pk}")
    assert mine.detail == (
        f"service {service.reference} uses ONT ONT-A, which is installed at another address"
        f" ({other.address_id})"
    )
    assert set(Subscription.objects.values_list("billing_blocked", flat=True)) == {True}


def test_a_matching_installation_record_raises_nothing(town, billing):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8), serial="ONT-OK")
    subscription_for(service, billing)
    installation_record(service.address, "ont-ok")

    assert detect()["raised"] == 0


# --- pricing policy -----------------------------------------------------------------------------


def test_a_price_off_the_catalog_without_override_is_raised(town, billing):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    subscription = subscription_for(
        service, billing, monthly_price=Decimal("35.00"), discount=Decimal("2.00")
    )

    detect()

    (exception,) = open_exceptions()
    assert exception.kind == ExceptionKind.PRICING_POLICY
    assert exception.severity == Severity.AMBER
    assert exception.detail == (
        f"subscription {subscription.pk} is billed 35.00 a month against the catalog price"
        " 49.00 and with a discount of 2.00 a month without an applied price override"
    )


def test_an_applied_override_explains_the_price_and_clears_the_exception(town, billing, finance):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    subscription = subscription_for(service, billing, monthly_price=Decimal("45.00"))
    detect()
    assert len(open_exceptions(ExceptionKind.PRICING_POLICY)) == 1

    PriceOverride.objects.create(
        subscription=subscription,
        field=OverrideField.PRICE,
        old_value=Decimal("49.00"),
        new_value=Decimal("45.00"),
        reason_code=ReasonCode.RETENTION,
        status=OverrideStatus.APPLIED,
        requested_by=finance,
    )
    assert detect()["cleared"] == 1

    # a later change by hand that no override explains is raised again
    Subscription.objects.filter(pk=subscription.pk).update(monthly_price=Decimal("40.00"))
    detect()
    assert len(open_exceptions(ExceptionKind.PRICING_POLICY)) == 1


def test_a_pending_override_explains_nothing(town, billing, finance):
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    subscription = subscription_for(service, billing, discount=Decimal("20.00"))
    PriceOverride.objects.create(
        subscription=subscription,
        field=OverrideField.DISCOUNT,
        old_value=Decimal("0"),
        new_value=Decimal("20.00"),
        reason_code=ReasonCode.GOODWILL,
        status=OverrideStatus.PENDING,
        requested_by=finance,
    )

    detect()

    assert len(open_exceptions(ExceptionKind.PRICING_POLICY)) == 1


# --- narrowing, resolving -----------------------------------------------------------------------


def test_the_check_can_be_narrowed_to_one_service(town, billing):
    one = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    live_service(town, 1, isp=1, when=at(2024, 5, 1, 8))

    counts = detect(service_id=one.pk)

    assert counts["raised"] == 1
    assert [e.service_id for e in open_exceptions()] == [one.pk]


def test_finance_resolves_with_a_note_and_a_persisting_condition_is_raised_again(
    town, billing, finance
):
    live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    detect()
    (exception,) = open_exceptions()

    resolved = exception_resolve(exception=exception, resolution="customer called", actor=finance)

    assert resolved.status == ExceptionStatus.RESOLVED
    assert resolved.resolved_by == finance and resolved.resolution == "customer called"
    detect(now=NOW + dt.timedelta(days=1))
    (again,) = open_exceptions()
    assert again.pk != exception.pk and again.subject == exception.subject
    assert BillingException.objects.count() == 2


def test_resolving_needs_a_note_finance_and_an_open_exception(town, billing, finance, planner):
    live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    detect()
    (exception,) = open_exceptions()

    with pytest.raises(DomainError, match="say how"):
        exception_resolve(exception=exception, resolution="  ", actor=finance)
    with pytest.raises(PermissionDenied):
        exception_resolve(exception=exception, resolution="done", actor=planner)
    exception_resolve(exception=exception, resolution="done", actor=finance)
    with pytest.raises(Conflict, match="resolved already"):
        exception_resolve(exception=exception, resolution="again", actor=finance)
