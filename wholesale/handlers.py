"""The wholesale app's reactions to events: orders follow their address (a connected address
makes its orders ready for activation), ISPs are told of their orders and services, and
what leaves the database (emails, webhooks) goes through the outbox."""

from __future__ import annotations

from common.events import IN_TRANSACTION, OUTBOX, Event, subscribe
from gis_core.events import ADDRESS_STATUS_CHANGED
from gis_core.lifecycle import AddressStatus
from wholesale.emails import send_signup_confirmation
from wholesale.events import (
    ISP_NOTIFIED,
    ORDER_SIGNED_UP,
    ORDER_STATUS_CHANGED,
    SERVICE_ACTIVATED,
    SERVICE_DEACTIVATED,
    SERVICE_PROFILE_CHANGED,
    WEBHOOK_REPLAY_REQUESTED,
)
from wholesale.lifecycle import NotificationKind, OrderStatus
from wholesale.models import Order, Service, WebhookDelivery
from wholesale.notifications import isp_notify, webhook_send
from wholesale.services import order_transition

WAITING_FOR_THE_BUILD = (OrderStatus.RECEIVED, OrderStatus.AWAITING_INFRASTRUCTURE)


@subscribe(ORDER_SIGNED_UP, kind=OUTBOX, name="wholesale.signup_confirmation_email")
def signup_confirmation_email(event: Event) -> None:
    """Email the customer the confirmation of their signup, with the link to manage it."""
    send_signup_confirmation(order_id=event.payload["order_id"])


@subscribe(ADDRESS_STATUS_CHANGED, kind=IN_TRANSACTION, name="wholesale.orders_follow_address")
def orders_follow_address(event: Event) -> None:
    """An address became connected: its orders waiting for the build are ready for
    activation (and their ISPs are told, by the order-change reaction below)."""
    if event.payload["to_status"] != AddressStatus.CONNECTED:
        return
    if event.payload["from_status"] == AddressStatus.ACTIVATED:
        return  # its last service ended: nothing is newly ready
    waiting = Order.objects.filter(
        address_id=event.payload["address_id"], status__in=WAITING_FOR_THE_BUILD
    ).order_by("pk")
    for order in waiting:
        order_transition(
            order=order,
            to=OrderStatus.READY_FOR_ACTIVATION,
            actor=None,
            reason="the address is connected",
        )


def _order_data(order: Order, address=None) -> dict:
    address = address or order.address
    return {
        "order": {
            "id": order.pk,
            "reference": order.reference,
            "isp_reference": order.isp_reference,
            "status": order.status,
            "unit": order.unit,
            "offering_id": order.offering_id,
            "placed_at": order.placed_at,
        },
        "address": {
            "id": address.pk,
            "label": address.label,
            "status": address.status,
            "location": list(address.location.coords),
        },
    }


@subscribe(ORDER_STATUS_CHANGED, kind=IN_TRANSACTION, name="wholesale.notify_order_change")
def notify_order_change(event: Event) -> None:
    """Tell the order's ISP: a new order, one ready for activation, one cancelled.

    Activation and termination are told as service changes, so not here.
    """
    payload = event.payload
    if payload["isp_id"] is None or payload["to_status"] in (
        OrderStatus.ACTIVE,
        OrderStatus.TERMINATED,
    ):
        return
    order = Order.objects.select_related("address").get(pk=payload["order_id"])
    to = payload["to_status"]
    if to == OrderStatus.READY_FOR_ACTIVATION:
        kind, topic = NotificationKind.READY_FOR_ACTIVATION, "order.ready_for_activation"
        message = f"{order.address.label}: ready for activation ({order.reference})"
    elif to == OrderStatus.CANCELLED:
        kind, topic = NotificationKind.ORDER_CHANGED, "order.cancelled"
        message = f"Order {order.reference} was cancelled"
    elif payload["from_status"] == OrderStatus.RECEIVED:
        kind, topic = NotificationKind.ORDER_CHANGED, "order.created"
        message = f"New order {order.reference} at {order.address.label}"
    else:
        kind, topic = NotificationKind.ORDER_CHANGED, "order.status_changed"
        message = f"Order {order.reference} is {order.get_status_display()}"
    data = _order_data(order)
    data["order"]["from_status"] = payload["from_status"]
    data["reason"] = payload["reason"]
    isp_notify(
        isp_id=order.isp_id,
        kind=kind,
        topic=topic,
        message=message,
        data=data,
        address_id=order.address_id,
        order_id=order.pk,
    )


SERVICE_MESSAGES = {
    SERVICE_ACTIVATED: "Service {ref} is active at {label}",
    SERVICE_PROFILE_CHANGED: "Service {ref} moved to {product}",
    SERVICE_DEACTIVATED: "Service {ref} ended at {label}",
}


def _notify_service_change(event: Event) -> None:
    payload = event.payload
    service = Service.objects.select_related("address", "product", "order", "isp__isp_profile").get(
        pk=payload["service_id"]
    )
    message = SERVICE_MESSAGES[event.topic].format(
        ref=service.reference, label=service.address.label, product=service.product.name
    )
    if payload.get("switched"):
        message += " (the customer moved to another provider)"
    profile = getattr(service.isp, "isp_profile", None)  # fetched with the service; may be none
    data = _order_data(service.order, service.address)  # the order's address is the service's
    data["service"] = {
        "id": service.pk,
        "reference": service.reference,
        "status": service.status,
        "product": service.product.code,
        "from_product_id": payload.get("from_product_id"),
        "ont_serial": service.ont_serial,
        "c_vlan": service.c_vlan,
        "s_vlan": service.s_vlan,
        "activated_at": service.activated_at,
        "ended_at": service.ended_at,
        "switched": bool(payload.get("switched")),
        "at": payload["at"],
    }
    isp_notify(
        isp_id=service.isp_id,
        kind=NotificationKind.SERVICE_CHANGED,
        topic=event.topic,
        message=message,
        data=data,
        address_id=service.address_id,
        order_id=service.order_id,
        service_id=service.pk,
        has_endpoint=bool(profile and profile.webhook_url),
    )


for _topic in SERVICE_MESSAGES:
    subscribe(_topic, kind=IN_TRANSACTION, name=f"wholesale.notify_{_topic}")(
        _notify_service_change
    )


@subscribe(ISP_NOTIFIED, kind=OUTBOX, name="wholesale.webhook_deliver")
def webhook_deliver(event: Event) -> None:
    """POST the notification to the ISP's webhook endpoint (retried by the outbox)."""
    delivery = WebhookDelivery.objects.filter(
        notification_id=event.payload["notification_id"]
    ).first()
    if delivery is not None:
        webhook_send(delivery_id=delivery.pk)


@subscribe(WEBHOOK_REPLAY_REQUESTED, kind=OUTBOX, name="wholesale.webhook_replay")
def webhook_replay_deliver(event: Event) -> None:
    """POST a delivery again because its ISP asked for it."""
    webhook_send(delivery_id=event.payload["delivery_id"], replay=True)
