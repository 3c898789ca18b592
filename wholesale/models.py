"""Orders: a customer's signup at an address, with an ISP's offering or connection-only.

This is the order's core; the marketplace ([lookup]) and wholesale ([wholesale]) issues add
customers, offerings and services around it.
"""

from django.conf import settings
from django.db import models

from common.models import TimeStampedModel
from wholesale.lifecycle import OrderStatus


class Order(TimeStampedModel):
    """A binding signup at an address, for an ISP's service or for the connection only."""

    reference = models.CharField(max_length=20, unique=True, editable=False)
    address = models.ForeignKey("gis_core.Address", on_delete=models.PROTECT, related_name="orders")
    isp = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        help_text="The ISP whose service was ordered; empty for a connection-only order.",
    )
    status = models.CharField(
        max_length=30, choices=OrderStatus.choices, default=OrderStatus.RECEIVED, editable=False
    )
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    placed_at = models.DateTimeField()

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=OrderStatus.values), name="order_status_valid"
            )
        ]
        indexes = [models.Index(fields=["status"], name="order_status")]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_connection_only(self) -> bool:
        return self.isp_id is None

    @property
    def demand_key(self) -> str:
        """How the areas' demand book names this order."""
        return f"order:{self.pk}"


class OrderStatusChange(models.Model):
    """History of an order: who moved it, when, from what to what, and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=30, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=30, choices=OrderStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '∅'} → {self.to_status}"
