"""Planning areas: the unit in which demand is gathered and the network is built."""

from decimal import Decimal

from django.conf import settings
from django.contrib.gis.db import models

from areas.lifecycle import AreaPhase
from common.models import TimeStampedModel


class Area(TimeStampedModel):
    """A planning area ("object group", "fiberhood"): a MultiPolygon with a phase and a target."""

    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=60, unique=True, help_text="Short stable key, e.g. 13353.")
    boundary = models.MultiPolygonField(srid=4326, spatial_index=True)
    phase = models.CharField(
        max_length=30, choices=AreaPhase.choices, default=AreaPhase.PLANNING, editable=False
    )
    phase_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The area this one was split from.",
    )
    target_take_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.4000"),
        help_text="Share of homes that must sign up before building (0–1), fixed early.",
    )
    is_active = models.BooleanField(
        default=True, help_text="False once split: its children hold its addresses."
    )
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(phase__in=AreaPhase.values), name="area_phase_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(target_take_rate__gte=0, target_take_rate__lte=1),
                name="area_target_take_rate_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}" if self.name != self.code else self.code


class AreaPhaseChange(models.Model):
    """History of an area: phase moves (and later splits), who, when, why."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="phase_history")
    from_phase = models.CharField(max_length=30, choices=AreaPhase.choices)
    to_phase = models.CharField(max_length=30, choices=AreaPhase.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.area_id}: {self.from_phase} → {self.to_phase}"
