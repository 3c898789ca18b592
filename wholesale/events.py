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
