"""Manual changes to a subscription's monthly price or standing discount: always with a
reason code, always leaving the `PriceOverride` audit row (old and new value, who, when, who
approved), and above the approval limit only once another finance user with the approver
role agrees.

The limit (settings BILLING_OVERRIDE_APPROVAL_LIMIT_PERCENT, default 20) is on the
reduction the change leaves against the catalog price: catalog − price + discount after the
change. A change that leaves the customer more than the limit below the catalog waits for
approval; a price rise never does. Splitting one cut into a price cut and a discount does not
get round it: both count together.

An applied change takes effect from the next billed period: the subscription's price or
discount changes now, and its price segment is split at the instant it is billed until.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.permissions import is_finance
from accounts.roles import Role
from billing.invoicing import money
from billing.lifecycle import OverrideField, OverrideStatus, ReasonCode, SubscriptionStatus
from billing.models import PriceOverride, Subscription, SubscriptionSegment
from common.errors import Conflict, DomainError, PermissionDenied

DEFAULT_LIMIT_PERCENT = 20


def approval_limit_percent() -> Decimal:
    """The reduction below the catalog price (in percent) a finance user may apply alone."""
    return Decimal(
        str(getattr(settings, "BILLING_OVERRIDE_APPROVAL_LIMIT_PERCENT", DEFAULT_LIMIT_PERCENT))
    )


def may_approve(user) -> bool:
    """Approvers: finance users who are operator admins, and superusers."""
    return is_finance(user) and (user.is_superuser or user.role == Role.OPERATOR_ADMIN)


def _value(value) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise DomainError(f"{value!r} is not an amount", field="new_value") from exc
    if not amount.is_finite() or amount < 0:
        raise DomainError("the new value must be an amount of 0 or more", field="new_value")
    if amount != money(amount):
        raise DomainError("the new value has more than two decimals", field="new_value")
    return money(amount)


def reduction_after(subscription: Subscription, field: str, new_value: Decimal) -> Decimal:
    """How far below the catalog price the customer pays once the change is applied."""
    price = new_value if field == OverrideField.PRICE else subscription.monthly_price
    discount = new_value if field == OverrideField.DISCOUNT else subscription.discount
    return subscription.catalog_price - price + discount


def needs_approval(subscription: Subscription, field: str, new_value: Decimal) -> bool:
    """The change leaves the price more than the limit below the catalog price."""
    limit = subscription.catalog_price * approval_limit_percent() / 100
    return reduction_after(subscription, field, new_value) > limit


def _apply(subscription: Subscription, override: PriceOverride) -> None:
    """Set the (locked) subscription's price or discount, from the next billed period; the
    rows billed at it will name the override that authorised it."""
    new_value = override.new_value
    if override.field == OverrideField.DISCOUNT:
        subscription.discount = new_value
        subscription.discount_override = override
        subscription.save(update_fields=["discount", "discount_override", "updated_at"])
        return
    subscription.monthly_price = new_value
    subscription.save(update_fields=["monthly_price", "updated_at"])
    # the open price segment ends where billing has reached; the new price runs from there
    segment = (
        SubscriptionSegment.objects.select_for_update()
        .filter(subscription=subscription, ends_at=None)
        .order_by("-starts_at", "-id")
        .first()
    )
    if segment is None or segment.monthly_price == new_value:
        return
    from_ = subscription.billed_until
    if from_ <= segment.starts_at:
        segment.monthly_price = new_value
        segment.override = override
        segment.save(update_fields=["monthly_price", "override"])
        return
    segment.ends_at = from_
    segment.save(update_fields=["ends_at"])
    SubscriptionSegment.objects.create(
        subscription=subscription,
        product=segment.product,
        monthly_price=new_value,
        catalog_price=segment.catalog_price,
        override=override,
        starts_at=from_,
    )


@transaction.atomic
def price_override_request(
    *,
    subscription: Subscription,
    field: str,
    new_value,
    reason_code: str,
    note: str = "",
    actor: User,
) -> PriceOverride:
    """A finance user changes a subscription's price or discount: applied at once within the
    approval limit, otherwise pending until an approver decides. Leaves the audit row."""
    if not is_finance(actor):
        raise PermissionDenied("only the owner's finance staff may change prices")
    if field not in OverrideField.values:
        raise DomainError(
            f"choose what to change: {', '.join(OverrideField.values)}", field="field"
        )
    if not reason_code:
        raise DomainError("a manual price change needs a reason code", field="reason_code")
    if reason_code not in ReasonCode.values:
        raise DomainError(
            f"{reason_code!r} is not a reason code; choose one of {', '.join(ReasonCode.values)}",
            field="reason_code",
        )
    note = (note or "").strip()
    if len(note) > 500:
        raise DomainError("the note is longer than 500 characters", field="note")
    value = _value(new_value)
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise Conflict(f"subscription {subscription.pk} has ended: its price no longer changes")
    old = subscription.monthly_price if field == OverrideField.PRICE else subscription.discount
    if value == old:
        raise DomainError(f"the {OverrideField(field).label} is {old} already", field="new_value")
    if field == OverrideField.DISCOUNT and value > subscription.monthly_price:
        raise DomainError(
            f"a discount of {value} is more than the monthly price {subscription.monthly_price}",
            field="new_value",
        )
    if field == OverrideField.PRICE and subscription.discount > value:
        raise DomainError(
            f"the price {value} would be below the standing discount {subscription.discount}",
            field="new_value",
        )
    waiting = PriceOverride.objects.filter(
        subscription=subscription, field=field, status=OverrideStatus.PENDING
    ).first()
    if waiting is not None:
        raise Conflict(
            f"a change of the {OverrideField(field).label} waits for approval already"
            f" (override {waiting.pk}): approve or reject it first",
            code="pending",
        )
    pending = needs_approval(subscription, field, value)
    now = timezone.now()
    override = PriceOverride.objects.create(
        subscription=subscription,
        field=field,
        old_value=old,
        new_value=value,
        reason_code=reason_code,
        note=note,
        status=OverrideStatus.PENDING if pending else OverrideStatus.APPLIED,
        requested_by=actor,
        requested_at=now,
        decided_at=None if pending else now,
    )
    if not pending:
        _apply(subscription, override)
    return override


def _decide(override: PriceOverride, actor: User) -> tuple[PriceOverride, Subscription]:
    if not may_approve(actor):
        raise PermissionDenied(
            "only an operator admin of finance (or a superuser) may approve or reject overrides"
        )
    override = PriceOverride.objects.select_for_update().get(pk=override.pk)
    if override.status != OverrideStatus.PENDING:
        raise Conflict(
            f"override {override.pk} is {override.get_status_display()} already", code="decided"
        )
    if override.requested_by_id == actor.pk:
        raise PermissionDenied("another finance user must decide on your own request")
    subscription = Subscription.objects.select_for_update().get(pk=override.subscription_id)
    return override, subscription


@transaction.atomic
def price_override_approve(*, override: PriceOverride, actor: User) -> PriceOverride:
    """An approver (not the requester) applies a pending override."""
    override, subscription = _decide(override, actor)
    if subscription.status != SubscriptionStatus.ACTIVE:
        raise Conflict(f"subscription {subscription.pk} has ended: reject the override instead")
    current = (
        subscription.monthly_price
        if override.field == OverrideField.PRICE
        else subscription.discount
    )
    if current != override.old_value:
        raise Conflict(
            f"the {override.get_field_display()} changed to {current} since the request"
            f" (from {override.old_value}): reject it and ask again",
            code="stale",
        )
    _apply(subscription, override)
    override.status = OverrideStatus.APPLIED
    override.approved_by = actor
    override.decided_at = timezone.now()
    override.save(update_fields=["status", "approved_by", "decided_at"])
    return override


@transaction.atomic
def price_override_reject(*, override: PriceOverride, actor: User) -> PriceOverride:
    """An approver (not the requester) turns a pending override down; nothing changes."""
    override, _ = _decide(override, actor)
    override.status = OverrideStatus.REJECTED
    override.approved_by = actor
    override.decided_at = timezone.now()
    override.save(update_fields=["status", "approved_by", "decided_at"])
    return override
