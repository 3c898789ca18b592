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


class IspStatus(models.TextChoices):
    """An ISP's onboarding: set up in draft, trading while active, stopped while suspended."""

    DRAFT = "draft", "draft (being onboarded)"
    ACTIVE = "active", "active"
    SUSPENDED = "suspended", "suspended"


ISP_TRANSITIONS = TransitionMap(
    "ISP",
    {
        IspStatus.DRAFT: {IspStatus.ACTIVE},
        IspStatus.ACTIVE: {IspStatus.SUSPENDED},
        IspStatus.SUSPENDED: {IspStatus.ACTIVE},
    },
)


class ServiceStatus(models.TextChoices):
    """A service (the network contract of an active order): live, then ended for good."""

    ACTIVE = "active", "active"
    ENDED = "ended", "ended"


SERVICE_TRANSITIONS = TransitionMap(
    "service",
    {ServiceStatus.ACTIVE: {ServiceStatus.ENDED}, ServiceStatus.ENDED: set()},
)


class ServiceChangeKind(models.TextChoices):
    """What a row of a service's history records."""

    ACTIVATED = "activated", "activated"
    PROFILE_CHANGED = "profile_changed", "profile changed"
    DEACTIVATED = "deactivated", "deactivated"
    SWITCHED_AWAY = "switched_away", "ended: the customer moved to another ISP"
    SWITCHED_IN = "switched_in", "activated: the customer moved here from another ISP"


class NotificationKind(models.TextChoices):
    """What an ISP is told about, in its portal and by webhook."""

    READY_FOR_ACTIVATION = "ready_for_activation", "ready for activation"
    ORDER_CHANGED = "order_changed", "order changed"
    SERVICE_CHANGED = "service_changed", "service changed"
    TEST = "test", "test"


class WebhookStatus(models.TextChoices):
    """A webhook delivery: waiting (or retrying), delivered, or given up on."""

    PENDING = "pending", "pending"
    DELIVERED = "delivered", "delivered"
    FAILED = "failed", "failed (retrying)"
    DEAD = "dead", "gave up"
