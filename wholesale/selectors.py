"""Reusable reads of the wholesale app."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.utils import timezone

from wholesale.models import InstallationSlot, Order


def available_slots(order: Order) -> QuerySet[InstallationSlot]:
    """The installation windows the order can book: in its address's area, not yet begun,
    with room left; earliest first."""
    return InstallationSlot.objects.filter(
        area_id=order.address.area_id,
        starts_at__gt=timezone.now(),
        booked__lt=F("capacity"),
    ).order_by("starts_at", "pk")
