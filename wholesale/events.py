"""Events the wholesale app publishes. Topics are never renamed or reused."""

from dataclasses import dataclass

ORDER_PLACED = "order.placed"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_SIGNED_UP = "order.signed_up"  # a marketplace signup: the confirmation email follows
BOOKING_MADE = "booking.made"
BOOKING_RESCHEDULED = "booking.rescheduled"
BOOKING_CANCELLED = "booking.cancelled"


@dataclass(frozen=True)
class OrderPlaced:
    order_id: int
    address_id: int
    isp_id: int | None


@dataclass(frozen=True)
class OrderStatusChanged:
    order_id: int
    address_id: int
    isp_id: int | None
    from_status: str
    to_status: str
    actor_id: int | None
    reason: str


@dataclass(frozen=True)
class OrderSignedUp:
    order_id: int
    address_id: int
    offering_id: int | None
    connection_only: bool


@dataclass(frozen=True)
class BookingChanged:
    booking_id: int
    order_id: int
    slot_id: int
    status: str
    previous_slot_id: int | None = None


ISP_STATUS_CHANGED = "isp.status_changed"
SERVICE_ACTIVATED = "service.activated"
SERVICE_PROFILE_CHANGED = "service.profile_changed"
SERVICE_DEACTIVATED = "service.deactivated"
ISP_NOTIFIED = "isp.notified"  # a notification to an ISP: its webhook goes out via the outbox
WEBHOOK_REPLAY_REQUESTED = "webhook.replay_requested"


@dataclass(frozen=True)
class IspStatusChanged:
    isp_id: int
    from_status: str
    to_status: str
    actor_id: int | None
    reason: str


@dataclass(frozen=True)
class ServiceChanged:
    """A service was activated, changed profile or ended, at `at` (exact: billing uses it).

    `previous_service_id` is set on the activation that took over from another ISP's
    service; `switched` on the end of a service that another ISP's took over.
    """

    service_id: int
    order_id: int
    address_id: int
    isp_id: int
    product_id: int
    at: str
    from_product_id: int | None = None
    previous_service_id: int | None = None
    switched: bool = False
    reason: str = ""


@dataclass(frozen=True)
class IspNotified:
    notification_id: int
    isp_id: int
    kind: str


@dataclass(frozen=True)
class WebhookReplayRequested:
    delivery_id: int
    actor_id: int | None
