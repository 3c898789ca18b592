"""The order lifecycle (ARCHITECTURE.md).

received → awaiting_infrastructure → ready_for_activation → active → terminated,
or cancelled at any point before active.
"""

from django.db import models

from common.lifecycle import TransitionMap


class OrderStatus(models.TextChoices):
    RECEIVED = "received", "received"
    AWAITING_INFRASTRUCTURE = "awaiting_infrastructure", "awaiting infrastructure"
    READY_FOR_ACTIVATION = "ready_for_activation", "ready for activation"
    ACTIVE = "active", "active"
    TERMINATED = "terminated", "terminated"
    CANCELLED = "cancelled", "cancelled"


# Orders that still count as demand (a signup in the areas' book).
LIVE_ORDER_STATUSES = (
    OrderStatus.RECEIVED,
    OrderStatus.AWAITING_INFRASTRUCTURE,
    OrderStatus.READY_FOR_ACTIVATION,
    OrderStatus.ACTIVE,
)

ORDER_TRANSITIONS = TransitionMap(
    "order",
    {
        OrderStatus.RECEIVED: {
            OrderStatus.AWAITING_INFRASTRUCTURE,
            OrderStatus.READY_FOR_ACTIVATION,
            OrderStatus.CANCELLED,
        },
        OrderStatus.AWAITING_INFRASTRUCTURE: {
            OrderStatus.READY_FOR_ACTIVATION,
            OrderStatus.CANCELLED,
        },
        OrderStatus.READY_FOR_ACTIVATION: {OrderStatus.ACTIVE, OrderStatus.CANCELLED},
        OrderStatus.ACTIVE: {OrderStatus.TERMINATED},
        OrderStatus.TERMINATED: set(),
        OrderStatus.CANCELLED: set(),
    },
)


class BookingStatus(models.TextChoices):
    BOOKED = "booked", "booked"
    RESCHEDULED = "rescheduled", "rescheduled (replaced by another booking)"
    CANCELLED = "cancelled", "cancelled"


BOOKING_TRANSITIONS = TransitionMap(
    "booking",
    {
        BookingStatus.BOOKED: {BookingStatus.RESCHEDULED, BookingStatus.CANCELLED},
        BookingStatus.RESCHEDULED: set(),
        BookingStatus.CANCELLED: set(),
    },
)


class InvoicingStage(models.TextChoices):
    """When a signup's connection-cost installments are invoiced (ARCHITECTURE.md)."""

    NOT_ACTIVE = "not_active", "when you sign up (your home joins the build queue)"
    DEPLOYMENT = "deployment", "when the build of your connection is scheduled"
    ACTIVATED = "activated", "when your connection is ready"
