"""Writes of the wholesale app: placing and cancelling orders (the order's core)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.roles import OrganisationKind
from areas.services import signup_record, signup_withdraw
from common.errors import DomainError
from common.events import publish
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.services import address_await_deployment, address_return_to_planned
from wholesale.events import ORDER_PLACED, ORDER_STATUS_CHANGED, OrderPlaced, OrderStatusChanged
from wholesale.lifecycle import LIVE_ORDER_STATUSES, ORDER_TRANSITIONS, OrderStatus
from wholesale.models import Order, OrderStatusChange

# Where a new order starts, given what the network has built at its address.
_BUILT = {AddressStatus.CONNECTED, AddressStatus.ACTIVATED}


def _transition(*, order: Order, to: str, actor: User | None, reason: str) -> Order:
    """The one place an order's status is assigned: lock, check, set, history, event."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    source = order.status
    ORDER_TRANSITIONS.check(source, to)
    now = timezone.now()
    order.status = to
    order.status_changed_at = now
    order.save(update_fields=["status", "status_changed_at", "updated_at"])
    OrderStatusChange.objects.create(
        order=order, from_status=source, to_status=to, actor=actor, reason=reason, changed_at=now
    )
    publish(
        ORDER_STATUS_CHANGED,
        OrderStatusChanged(
            order_id=order.pk,
            address_id=order.address_id,
            isp_id=order.isp_id,
            from_status=source,
            to_status=to,
            actor_id=actor.pk if actor else None,
            reason=reason,
        ),
    )
    return order


@transaction.atomic
def order_place(
    *,
    address: Address,
    isp: Organisation | None = None,
    placed_at: datetime | None = None,
    actor: User | None = None,
) -> Order:
    """Place an order at an address (for an ISP's service, or connection-only without one).

    The areas' demand book records the signup, a planned address joins the build queue,
    and the order waits for the infrastructure or, where it is built, for activation.
    """
    address = Address.objects.select_for_update().get(pk=address.pk)
    if isp is not None and (isp.kind != OrganisationKind.ISP or not isp.is_active):
        raise DomainError(f"{isp} is not an active ISP", field="isp")
    placed_at = placed_at or timezone.now()
    order = Order.objects.create(
        reference=f"new-{uuid.uuid4().hex[:16]}", address=address, isp=isp, placed_at=placed_at
    )
    order.reference = f"ORD-{order.pk:06d}"
    order.status_changed_at = placed_at
    order.save(update_fields=["reference", "status_changed_at"])
    OrderStatusChange.objects.create(
        order=order,
        to_status=OrderStatus.RECEIVED,
        actor=actor,
        reason="placed",
        changed_at=placed_at,
    )
    publish(
        ORDER_PLACED, OrderPlaced(order_id=order.pk, address_id=address.pk, isp_id=order.isp_id)
    )
    signup_record(address=address, order_key=order.demand_key, at=placed_at, actor=actor)
    if address.status == AddressStatus.PLANNED:
        address_await_deployment(address=address, actor=actor, reason=f"order {order.reference}")
    next_status = (
        OrderStatus.READY_FOR_ACTIVATION
        if address.status in _BUILT
        else OrderStatus.AWAITING_INFRASTRUCTURE
    )
    return _transition(order=order, to=next_status, actor=actor, reason="address status")


@transaction.atomic
def order_cancel(*, order: Order, actor: User | None = None, reason: str = "") -> Order:
    """Cancel an order before its service is active; its signup leaves the demand book.

    An address whose last live order this was, and which was only queued for the build,
    goes back to planned.
    """
    order = _transition(order=order, to=OrderStatus.CANCELLED, actor=actor, reason=reason)
    signup_withdraw(order_key=order.demand_key, actor=actor)
    address = Address.objects.select_for_update().get(pk=order.address_id)
    still_wanted = (
        Order.objects.filter(address=address, status__in=LIVE_ORDER_STATUSES)
        .exclude(pk=order.pk)
        .exists()
    )
    if not still_wanted and address.status == AddressStatus.AWAITING_DEPLOYMENT:
        address_return_to_planned(
            address=address, actor=actor, reason=f"order {order.reference} cancelled"
        )
    return order
