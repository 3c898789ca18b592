"""Price overrides: a reason code is required; within the approval limit the change applies
at once, above it it waits for another finance user with the approver role; a rejection
changes nothing; every request leaves its audit row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

from accounts.roles import Role
from accounts.services import user_create
from billing.lifecycle import OverrideField, OverrideStatus, ReasonCode, SubscriptionStatus
from billing.models import PriceOverride, Subscription, SubscriptionSegment
from billing.overrides import (
    price_override_approve,
    price_override_reject,
    price_override_request,
)
from common.errors import Conflict, DomainError, PermissionDenied
from tests.billing.test_assurance_support import at, live_service, subscription_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(town, billing) -> Subscription:
    """A subscription at the catalog price of 49.00, billed until 1 June 2024."""
    service = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    subscription = subscription_for(service, billing, billed_until=at(2024, 6, 1, 0))
    SubscriptionSegment.objects.create(
        subscription=subscription,
        product=service.product,
        monthly_price=subscription.monthly_price,
        starts_at=service.activated_at,
    )
    return subscription


@pytest.fixture
def approver(owner):
    return user_create(
        username="controller", organisation=owner, role=Role.OPERATOR_ADMIN, password="x-pass-123"
    )


def request(subscription, actor, field=OverrideField.PRICE, value="45.00", reason="goodwill"):
    return price_override_request(
        subscription=subscription,
        field=field,
        new_value=value,
        reason_code=reason,
        note="fault in May",
        actor=actor,
    )


def test_a_change_within_the_limit_applies_at_once_and_leaves_the_audit_row(subscription, finance):
    override = request(subscription, finance, value="40.00")  # 9.00 off 49.00: 18 %

    subscription.refresh_from_db()
    assert override.status == OverrideStatus.APPLIED
    assert (override.old_value, override.new_value) == (Decimal("49.00"), Decimal("40.00"))
    assert override.reason_code == ReasonCode.GOODWILL and override.note == "fault in May"
    assert override.requested_by == finance and override.approved_by is None
    assert override.decided_at is not None
    assert subscription.monthly_price == Decimal("40.00")
    # from the next billed period: the price segment splits where billing has reached
    segments = list(subscription.segments.values_list("monthly_price", "starts_at", "ends_at"))
    assert segments == [
        (Decimal("49.00"), at(2024, 5, 1, 8), at(2024, 6, 1, 0)),
        (Decimal("40.00"), at(2024, 6, 1, 0), None),
    ]


def test_a_reason_code_is_required(subscription, finance):
    with pytest.raises(DomainError, match="needs a reason code") as missing:
        request(subscription, finance, reason="")
    with pytest.raises(DomainError, match="not a reason code"):
        request(subscription, finance, reason="because")

    assert missing.value.field == "reason_code"
    assert not PriceOverride.objects.exists()
    subscription.refresh_from_db()
    assert subscription.monthly_price == Decimal("49.00")


def test_bad_values_are_refused_with_a_clear_message(subscription, finance):
    for value, message in [
        ("abc", "not an amount"),
        ("-1", "0 or more"),
        ("1.234", "two decimals"),
        ("49.00", "already"),
    ]:
        with pytest.raises(DomainError, match=message):
            request(subscription, finance, value=value)
    with pytest.raises(DomainError, match="more than the monthly price"):
        request(subscription, finance, field=OverrideField.DISCOUNT, value="50.00")
    assert not PriceOverride.objects.exists()


def test_only_finance_may_request(subscription, planner):
    with pytest.raises(PermissionDenied):
        request(subscription, planner)
    assert not PriceOverride.objects.exists()


def test_above_the_limit_it_waits_for_another_approver(subscription, finance, approver):
    override = request(subscription, finance, field=OverrideField.DISCOUNT, value="10.00")

    subscription.refresh_from_db()
    assert override.status == OverrideStatus.PENDING  # 10.00 off 49.00: 20.4 % > 20 %
    assert subscription.discount == Decimal("0.00")

    with pytest.raises(PermissionDenied, match="operator admin"):
        price_override_approve(override=override, actor=finance)  # finance, not an approver
    approved = price_override_approve(override=override, actor=approver)

    subscription.refresh_from_db()
    assert approved.status == OverrideStatus.APPLIED
    assert approved.approved_by == approver and approved.decided_at is not None
    assert subscription.discount == Decimal("10.00")
    with pytest.raises(Conflict, match="already"):
        price_override_approve(override=override, actor=approver)


def test_the_requester_cannot_approve_their_own_request(subscription, approver):
    override = request(subscription, approver, value="30.00")

    with pytest.raises(PermissionDenied, match="another finance user"):
        price_override_approve(override=override, actor=approver)
    assert PriceOverride.objects.get().status == OverrideStatus.PENDING


def test_a_price_cut_and_a_discount_count_together_against_the_limit(subscription, finance):
    request(subscription, finance, value="44.00")  # 5.00 off: applied
    override = request(subscription, finance, field=OverrideField.DISCOUNT, value="6.00")

    assert override.status == OverrideStatus.PENDING  # 11.00 off 49.00 in all


@override_settings(BILLING_OVERRIDE_APPROVAL_LIMIT_PERCENT=50)
def test_the_limit_is_a_setting(subscription, finance):
    assert request(subscription, finance, value="30.00").status == OverrideStatus.APPLIED


def test_a_price_rise_never_needs_approval(subscription, finance):
    assert request(subscription, finance, value="59.00").status == OverrideStatus.APPLIED


def test_a_rejection_changes_nothing_but_the_audit_row(subscription, finance, approver):
    override = request(subscription, finance, value="20.00")

    rejected = price_override_reject(override=override, actor=approver)

    subscription.refresh_from_db()
    assert rejected.status == OverrideStatus.REJECTED
    assert rejected.approved_by == approver
    assert subscription.monthly_price == Decimal("49.00")
    assert subscription.segments.count() == 1


def test_one_pending_change_per_field_at_a_time(subscription, finance):
    request(subscription, finance, value="20.00")

    with pytest.raises(Conflict, match="waits for approval"):
        request(subscription, finance, value="25.00")


def test_an_approval_after_the_value_changed_is_refused(subscription, finance, approver):
    pending = request(subscription, finance, value="20.00")
    Subscription.objects.filter(pk=subscription.pk).update(monthly_price=Decimal("45.00"))

    with pytest.raises(Conflict, match="changed"):
        price_override_approve(override=pending, actor=approver)


def test_an_ended_subscription_takes_no_override(subscription, finance):
    Subscription.objects.filter(pk=subscription.pk).update(
        status=SubscriptionStatus.ENDED, ended_at=at(2024, 5, 20, 8)
    )

    with pytest.raises(Conflict, match="ended"):
        request(subscription, finance)
