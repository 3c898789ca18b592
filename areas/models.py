"""Planning areas: the unit in which demand is gathered and the network is built."""

from decimal import Decimal

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.db.models.functions import Transform
from django.contrib.postgres.indexes import GistIndex
from django.utils import timezone

from areas.lifecycle import AreaPhase
from common.models import TimeStampedModel


class Area(TimeStampedModel):
    """A planning area ("object group", "fiberhood"): a MultiPolygon with a phase and a target."""

    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=60, unique=True, help_text="Short stable key, e.g. 13353.")
    boundary = models.MultiPolygonField(srid=4326, spatial_index=True)
    # Web Mercator copy of `boundary`, kept by the database for vector tiles (areas.tiles).
    boundary_3857 = models.GeneratedField(
        expression=Transform("boundary", 3857),
        output_field=models.MultiPolygonField(srid=3857, spatial_index=False),
        db_persist=True,
    )
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
        default=True, help_text="False once split (its children hold its addresses) or deleted."
    )
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When a planner deleted it: gone from the map and the OGC API, kept in history.",
    )
    deploys_at_target = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Move into deployment on its own once the take rate reaches the target.",
    )
    attributes = models.JSONField(default=dict, blank=True)
    # What customers are told while the area is built (the lookup's "being built" answer).
    expected_connection_from = models.DateField(
        null=True, blank=True, help_text="First day homes here are expected to be connected."
    )
    expected_connection_until = models.DateField(
        null=True, blank=True, help_text="Last day of the expected connection window."
    )

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
            models.CheckConstraint(
                condition=models.Q(expected_connection_from__isnull=True)
                | models.Q(expected_connection_until__isnull=True)
                | models.Q(expected_connection_from__lte=models.F("expected_connection_until")),
                name="area_expected_connection_window_ordered",
            ),
        ]
        indexes = [GistIndex(fields=["boundary_3857"], name="area_boundary_3857")]

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


class Interest(models.Model):
    """A resident's non-binding "I want fibre here" at an address (a survey answer)."""

    address = models.ForeignKey(
        "gis_core.Address", on_delete=models.CASCADE, related_name="interests"
    )
    registered_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=30, blank=True, help_text="web, door-to-door, event …")
    # The address's location in EPSG:3857, copied by a database trigger (demand tiles).
    location_3857 = models.PointField(
        srid=3857, null=True, blank=True, editable=False, spatial_index=False
    )

    class Meta:
        ordering = ["-registered_at"]
        indexes = [
            models.Index(
                fields=["address"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="interest_live_by_address",
            ),
            GistIndex(
                fields=["location_3857"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="interest_live_location",
            ),
        ]

    def __str__(self) -> str:
        return f"interest at {self.address_id} ({self.registered_at:%Y-%m-%d})"

    @property
    def is_live(self) -> bool:
        return self.withdrawn_at is None


class Signup(models.Model):
    """The demand book's record of an order at an address: when placed, whether withdrawn.

    The order itself belongs to the wholesale layer above; `order_key` names it
    ("order:123") so the book never imports that layer.
    """

    address = models.ForeignKey(
        "gis_core.Address", on_delete=models.CASCADE, related_name="signups"
    )
    order_key = models.CharField(max_length=80, unique=True)
    signed_up_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # The address's location in EPSG:3857, copied by a database trigger (demand tiles).
    location_3857 = models.PointField(
        srid=3857, null=True, blank=True, editable=False, spatial_index=False
    )

    class Meta:
        ordering = ["-signed_up_at"]
        indexes = [
            models.Index(
                fields=["address"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="signup_live_by_address",
            ),
            GistIndex(
                fields=["location_3857"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="signup_live_location",
            ),
        ]

    def __str__(self) -> str:
        return f"signup {self.order_key} at {self.address_id}"

    @property
    def is_live(self) -> bool:
        return self.withdrawn_at is None


class AreaFigures(models.Model):
    """An area's demand figures, kept current by set-based SQL on every change (areas.figures)."""

    area = models.OneToOneField(
        Area, on_delete=models.CASCADE, primary_key=True, related_name="figures"
    )
    addresses = models.PositiveIntegerField(default=0)
    homes = models.PositiveIntegerField(default=0, help_text="Addresses, counting MDU units.")
    interests = models.PositiveIntegerField(default=0, help_text="Live interests.")
    orders = models.PositiveIntegerField(default=0, help_text="Live signups.")
    addresses_with_interest = models.PositiveIntegerField(default=0)
    addresses_with_order = models.PositiveIntegerField(default=0)
    take_rate = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        default=Decimal(0),
        help_text="Addresses with a live order ÷ homes.",
    )
    interest_rate = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        default=Decimal(0),
        help_text="Addresses with a live interest ÷ homes.",
    )
    progress = models.DecimalField(
        max_digits=9,
        decimal_places=4,
        default=Decimal(0),
        help_text="Take rate ÷ target take rate (1 = target reached).",
    )
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "area figures"
        indexes = [
            models.Index(fields=["take_rate"], name="area_figures_take_rate"),
            models.Index(fields=["progress"], name="area_figures_progress"),
        ]

    def __str__(self) -> str:
        return f"figures of area {self.area_id}"

    @property
    def is_ready_to_build(self) -> bool:
        return self.homes > 0 and self.progress >= 1


class AreaDailyFigures(models.Model):
    """One day of an area's demand, as it stood at the day's last change (the chart's series)."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="daily_figures")
    day = models.DateField()
    homes = models.PositiveIntegerField(default=0)
    interests = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    addresses_with_order = models.PositiveIntegerField(default=0)
    take_rate = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal(0))
    interest_rate = models.DecimalField(max_digits=7, decimal_places=4, default=Decimal(0))

    class Meta:
        ordering = ["area", "day"]
        constraints = [
            models.UniqueConstraint(fields=["area", "day"], name="area_daily_figures_once_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.area_id} on {self.day}"


class AreaSplit(models.Model):
    """An area split in two: the parent stays in history, its two children replace it."""

    parent = models.OneToOneField(Area, on_delete=models.PROTECT, related_name="split_record")
    first_child = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    second_child = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="+")
    line = models.LineStringField(srid=4326)
    mode = models.CharField(max_length=20, help_text="line, half or share")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    split_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-split_at"]

    def __str__(self) -> str:
        return f"split of {self.parent_id} into {self.first_child_id} and {self.second_child_id}"


class DemandCellCount(models.Model):
    """What one grid cell of the demand-tile pyramid holds at one zoom (areas.tiles).

    Live interests and orders per cell of 1/16 tile, kept by database triggers on the
    demand book (and on address moves); like gis_core.AddressCellCount, a cell's figures
    are the sum of its rows.
    """

    zoom = models.PositiveSmallIntegerField()
    cell_x = models.IntegerField()
    cell_y = models.IntegerField()
    interests = models.IntegerField(default=0)
    orders = models.IntegerField(default=0)
    sum_x = models.FloatField(default=0, help_text="Sum of the demand's EPSG:3857 x.")
    sum_y = models.FloatField(default=0, help_text="Sum of the demand's EPSG:3857 y.")

    class Meta:
        indexes = [
            models.Index(fields=["zoom", "cell_x", "cell_y"], name="demand_cell_count_cell"),
        ]

    def __str__(self) -> str:
        return f"z{self.zoom} cell {self.cell_x}/{self.cell_y}: {self.interests} + {self.orders}"
