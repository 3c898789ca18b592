"""The wholesale layer's tables: the ISPs' side (profile, onboarding, webhooks), the
catalog, connection-cost terms, customers, orders, services (the network contracts),
notifications to ISPs with their webhook deliveries, interests and installation bookings.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from common.models import TimeStampedModel
from wholesale.lifecycle import (
    BookingStatus,
    InvoicingStage,
    IspStatus,
    NotificationKind,
    OrderStatus,
    ServiceChangeKind,
    ServiceStatus,
    WebhookStatus,
)

MONEY = {"max_digits": 14, "decimal_places": 2}
CURRENCY_HELP = "ISO 4217 code, e.g. EUR."


def _valid_period(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
        name=f"{prefix}_valid_period_ordered",
    )


# --- the ISPs' side -------------------------------------------------------------------------


class IspProfile(TimeStampedModel):
    """An ISP's side of the network: its onboarding state, contacts, marketplace face
    (logo, website) and webhook endpoint.

    An ISP without a profile (made before onboarding existed) counts as active.
    """

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="isp_profile"
    )
    status = models.CharField(
        max_length=20, choices=IspStatus.choices, default=IspStatus.ACTIVE, editable=False
    )
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    logo = models.CharField(
        max_length=300,
        blank=True,
        help_text="A static file path (oanm/isp/spree-net.svg) or an absolute URL.",
    )
    website = models.URLField(blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    support_email = models.EmailField(blank=True, help_text="Where the owner's NOC reports faults.")
    webhook_url = models.URLField(
        max_length=500, blank=True, help_text="Where notifications are POSTed; empty: none."
    )
    webhook_secret = models.CharField(
        max_length=100, blank=True, editable=False, help_text="HMAC-SHA256 key of the signature."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=IspStatus.values), name="isp_profile_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"profile of {self.organisation}"


class IspStatusChange(models.Model):
    """History of an ISP's onboarding: who moved it, when, from what to what, and why."""

    profile = models.ForeignKey(IspProfile, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, choices=IspStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=IspStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.profile_id}: {self.from_status or '∅'} → {self.to_status}"


class IspServiceArea(TimeStampedModel):
    """An ISP sells its offerings in an area (the marketplace shows it there)."""

    isp = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="service_areas"
    )
    area = models.ForeignKey("areas.Area", on_delete=models.CASCADE, related_name="isp_services")

    class Meta:
        ordering = ["area", "isp"]
        constraints = [
            models.UniqueConstraint(fields=["area", "isp"], name="isp_service_area_once")
        ]

    def __str__(self) -> str:
        return f"{self.isp} in {self.area}"


# --- the catalog ----------------------------------------------------------------------------


class Product(TimeStampedModel):
    """The owner's wholesale product: a speed profile with its wholesale fees."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=200)
    download_mbps = models.PositiveIntegerField()
    upload_mbps = models.PositiveIntegerField()
    monthly_fee = models.DecimalField(**MONEY, help_text="Wholesale fee per month, to the ISP.")
    one_time_fee = models.DecimalField(**MONEY, default=0, help_text="Wholesale set-up fee.")
    currency = models.CharField(max_length=3, default="EUR", help_text=CURRENCY_HELP)
    valid_from = models.DateField(default=timezone.localdate)
    valid_to = models.DateField(null=True, blank=True, help_text="Last day; empty: open-ended.")

    class Meta:
        ordering = ["download_mbps", "code"]
        constraints = [
            _valid_period("product"),
            models.CheckConstraint(
                condition=Q(monthly_fee__gte=0, one_time_fee__gte=0), name="product_fees_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.download_mbps}/{self.upload_mbps} Mbit/s)"


class Offering(TimeStampedModel):
    """An ISP's retail offering on a wholesale product, with its price and contract terms.

    Available in every area the ISP serves, unless `areas` restricts it to some of them.
    """

    isp = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="offerings"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="offerings")
    name = models.CharField(max_length=200)
    monthly_price = models.DecimalField(**MONEY)
    setup_fee = models.DecimalField(**MONEY, default=0)
    currency = models.CharField(max_length=3, default="EUR", help_text=CURRENCY_HELP)
    contract_months = models.PositiveSmallIntegerField(default=24)
    notice_days = models.PositiveSmallIntegerField(default=30)
    terms = models.TextField(blank=True)
    valid_from = models.DateField(default=timezone.localdate)
    valid_to = models.DateField(null=True, blank=True, help_text="Last day; empty: open-ended.")
    areas = models.ManyToManyField(
        "areas.Area",
        blank=True,
        related_name="restricted_offerings",
        help_text="Only in these areas (of those the ISP serves); empty: in all of them.",
    )

    class Meta:
        ordering = ["isp", "monthly_price", "id"]
        constraints = [
            _valid_period("offering"),
            models.CheckConstraint(
                condition=Q(monthly_price__gte=0, setup_fee__gte=0),
                name="offering_prices_positive",
            ),
        ]
        indexes = [models.Index(fields=["isp", "valid_from"], name="offering_isp_valid_from")]

    def __str__(self) -> str:
        return f"{self.isp}: {self.name}"


class ConnectionCostTerms(TimeStampedModel):
    """What connecting a home costs its customer, for an area or (overriding it) one address.

    Commercial terms: a total, an optional deposit charged at signup, the rest in monthly
    installments of at most `max_installment`, invoiced once the signup reaches
    `invoicing_starts`, billed by `billed_by`. Snapshotted on each order at signup.
    """

    area = models.OneToOneField(
        "areas.Area",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="connection_cost_terms",
    )
    address = models.OneToOneField(
        "gis_core.Address",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="connection_cost_terms",
        help_text="Set for an address's own terms, which win over its area's.",
    )
    total = models.DecimalField(**MONEY)
    deposit = models.DecimalField(**MONEY, null=True, blank=True)
    max_installment = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Empty: the rest in one installment."
    )
    invoicing_starts = models.CharField(
        max_length=20, choices=InvoicingStage.choices, default=InvoicingStage.NOT_ACTIVE
    )
    billed_by = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(max_length=3, default="EUR", help_text=CURRENCY_HELP)
    connection_only_enabled = models.BooleanField(
        default=False, help_text="Customers may order the connection alone, without a service."
    )

    class Meta:
        verbose_name_plural = "connection cost terms"
        ordering = ["area", "address"]
        constraints = [
            models.CheckConstraint(
                condition=Q(area__isnull=False, address__isnull=True)
                | Q(area__isnull=True, address__isnull=False),
                name="connection_cost_terms_area_or_address",
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0)
                & (Q(deposit__isnull=True) | Q(deposit__gte=0, deposit__lte=F("total")))
                & (Q(max_installment__isnull=True) | Q(max_installment__gt=0)),
                name="connection_cost_terms_amounts",
            ),
            models.CheckConstraint(
                condition=Q(invoicing_starts__in=InvoicingStage.values),
                name="connection_cost_terms_stage_valid",
            ),
        ]

    def __str__(self) -> str:
        where = f"area {self.area}" if self.area_id else f"address {self.address}"
        return f"connection cost {self.total} {self.currency} for {where}"


# --- customers and their signups ------------------------------------------------------------


class Customer(TimeStampedModel):
    """A person who signed up (or registered interest) through the marketplace."""

    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["email"], name="customer_email")]

    def __str__(self) -> str:
        return self.name


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
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    offering = models.ForeignKey(
        Offering,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        help_text="The retail offering chosen; empty for connection-only (or an ISP's API order).",
    )
    # The retail price as it stood when the order was placed (a later offering never alters it).
    monthly_price = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    price_currency = models.CharField(max_length=3, blank=True, editable=False)
    isp_reference = models.CharField(
        max_length=100, blank=True, help_text="The ISP's own reference for the order."
    )
    unit = models.CharField(
        max_length=60,
        blank=True,
        help_text="Flat or unit inside the address, as the customer says.",
    )
    manage_token = models.CharField(
        max_length=64,
        unique=True,
        editable=False,
        help_text="The secret in the customer's link to manage the order.",
    )
    # The connection-cost terms as they stood at signup (later changes never alter them).
    connection_cost_total = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    connection_cost_deposit = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    connection_cost_max_installment = models.DecimalField(
        **MONEY, null=True, blank=True, editable=False
    )
    connection_cost_installments = models.PositiveSmallIntegerField(
        null=True, blank=True, editable=False, help_text="How many monthly rows the rest makes."
    )
    connection_cost_invoicing_starts = models.CharField(
        max_length=20, choices=InvoicingStage.choices, blank=True, editable=False
    )
    connection_cost_billed_by = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    connection_cost_currency = models.CharField(max_length=3, blank=True, editable=False)
    connection_cost_terms = models.ForeignKey(
        ConnectionCostTerms,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="The terms the snapshot was taken from (for reference only).",
    )

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=OrderStatus.values), name="order_status_valid"
            )
        ]
        indexes = [
            models.Index(fields=["status"], name="order_status"),
            models.Index(fields=["address", "unit"], name="order_address_unit"),
            models.Index(fields=["isp", "-placed_at", "-id"], name="order_isp_placed"),
            models.Index(fields=["isp", "status", "-placed_at"], name="order_isp_status_placed"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_connection_only(self) -> bool:
        return self.isp_id is None

    @property
    def demand_key(self) -> str:
        """How the areas' demand book names this order."""
        return f"order:{self.pk}"

    @property
    def has_connection_cost(self) -> bool:
        return self.connection_cost_total is not None

    @property
    def active_booking(self) -> "Booking | None":
        """The installation window currently booked for this order, if any."""
        return self.bookings.filter(status=BookingStatus.BOOKED).select_related("slot").first()


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


# --- services: the network contracts ---------------------------------------------------------


class Service(TimeStampedModel):
    """The network contract of an active order: which ISP carries which speed profile over
    which ONT at an address, with its VLANs, from its activation to its end.

    The activation and end timestamps are exact: billing starts and stops on them. A switch
    to another ISP ends this service and starts the next one at the same instant;
    `previous` links them into one continuous history of the line.
    """

    reference = models.CharField(max_length=20, unique=True, editable=False)
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="service")
    isp = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="services"
    )
    address = models.ForeignKey(
        "gis_core.Address", on_delete=models.PROTECT, related_name="services"
    )
    unit = models.CharField(max_length=60, blank=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="services")
    # the wholesale fee of the product as it stood at activation (or the last profile change)
    wholesale_monthly_fee = models.DecimalField(**MONEY, editable=False)
    currency = models.CharField(max_length=3, editable=False)
    ont_serial = models.CharField(max_length=64, help_text="Serial of the ONT/CPE at the address.")
    c_vlan = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Customer VLAN.")
    s_vlan = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Service VLAN.")
    parameters = models.JSONField(default=dict, blank=True, help_text="Further profile settings.")
    status = models.CharField(
        max_length=20, choices=ServiceStatus.choices, default=ServiceStatus.ACTIVE, editable=False
    )
    status_changed_at = models.DateTimeField(editable=False)
    activated_at = models.DateTimeField(editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    end_reason = models.CharField(max_length=500, blank=True, editable=False)
    previous = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="next",
        editable=False,
        help_text="The service this one took over from (an ISP switch).",
    )

    class Meta:
        ordering = ["-activated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ServiceStatus.values), name="service_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("activated_at")),
                name="service_ends_after_activation",
            ),
            models.CheckConstraint(
                condition=Q(status=ServiceStatus.ACTIVE, ended_at__isnull=True)
                | Q(status=ServiceStatus.ENDED, ended_at__isnull=False),
                name="service_ended_at_iff_ended",
            ),
            models.UniqueConstraint(
                fields=["address", "unit"],
                condition=Q(status=ServiceStatus.ACTIVE),
                name="service_one_active_per_line",
            ),
            models.UniqueConstraint(
                fields=["ont_serial"],
                condition=Q(status=ServiceStatus.ACTIVE),
                name="service_ont_active_once",
            ),
        ]
        indexes = [
            models.Index(fields=["isp", "status", "-activated_at"], name="service_isp_status"),
        ]

    def __str__(self) -> str:
        return self.reference


class ServiceChange(models.Model):
    """History of a service: activation, profile changes and its end, each at its instant."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=20, choices=ServiceChangeKind.choices)
    from_product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ServiceChangeKind.values), name="service_change_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"


# --- telling ISPs: notifications and their webhook deliveries -------------------------------


class IspNotification(models.Model):
    """Something an ISP is told: an address ready for activation, an order or service change.

    Shown in its portal; its webhook delivery (if the ISP has an endpoint) goes through the
    outbox. `uid` is the idempotency key receivers see.
    """

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    isp = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="isp_notifications"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    topic = models.CharField(max_length=100, help_text="The webhook's event type.")
    message = models.CharField(max_length=500)
    address = models.ForeignKey(
        "gis_core.Address", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    data = models.JSONField(default=dict, help_text="The webhook body's `data`.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=NotificationKind.values), name="isp_notification_kind_valid"
            )
        ]
        indexes = [models.Index(fields=["isp", "-created_at"], name="isp_notification_isp_new")]

    def __str__(self) -> str:
        return f"{self.isp_id}: {self.message}"


class WebhookDelivery(models.Model):
    """The delivery of one notification to its ISP's webhook endpoint, with its attempts."""

    notification = models.OneToOneField(
        IspNotification, on_delete=models.CASCADE, related_name="delivery"
    )
    isp = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    status = models.CharField(
        max_length=20, choices=WebhookStatus.choices, default=WebhookStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replays = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=WebhookStatus.values), name="webhook_delivery_status_valid"
            )
        ]
        indexes = [models.Index(fields=["isp", "-created_at"], name="webhook_delivery_isp_new")]

    def __str__(self) -> str:
        return f"webhook {self.notification_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a webhook: where, when, what came back (or what went wrong)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField(default=timezone.now)
    url = models.URLField(max_length=500)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=1000, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    replay = models.BooleanField(default=False)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"attempt {self.pk} of {self.delivery_id}: {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class MaintenanceWindow(TimeStampedModel):
    """Planned work on the network that every ISP may read (an area, or the whole network)."""

    area = models.ForeignKey(
        "areas.Area",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
        help_text="Empty: the whole network.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    service_affecting = models.BooleanField(default=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="maintenance_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.title


class InterestRegistration(TimeStampedModel):
    """Who registered interest at an address through the marketplace (the demand book's
    `Interest` counts it; this keeps the contact, which the book never holds)."""

    interest = models.OneToOneField(
        "areas.Interest", on_delete=models.PROTECT, related_name="registration"
    )
    address = models.ForeignKey(
        "gis_core.Address", on_delete=models.PROTECT, related_name="interest_registrations"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="interest_registrations"
    )
    consented_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"interest of {self.customer} at {self.address_id}"


# --- installation booking -------------------------------------------------------------------


class InstallationSlot(TimeStampedModel):
    """A window in which installers can come to homes of an area, for `capacity` homes."""

    area = models.ForeignKey(
        "areas.Area", on_delete=models.CASCADE, related_name="installation_slots"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    capacity = models.PositiveSmallIntegerField(default=1)
    booked = models.PositiveSmallIntegerField(
        default=0, editable=False, help_text="Live bookings; kept by the booking services."
    )

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="installation_slot_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(booked__lte=F("capacity")), name="installation_slot_within_capacity"
            ),
        ]
        indexes = [models.Index(fields=["area", "starts_at"], name="installation_slot_area_start")]

    def __str__(self) -> str:
        local = timezone.localtime(self.starts_at)
        return f"{local:%Y-%m-%d %H:%M}–{timezone.localtime(self.ends_at):%H:%M}"

    @property
    def spaces_left(self) -> int:
        return max(self.capacity - self.booked, 0)


class Booking(TimeStampedModel):
    """An order's installation appointment in a slot: booked, then rescheduled or cancelled."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="bookings")
    slot = models.ForeignKey(InstallationSlot, on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(
        max_length=20, choices=BookingStatus.choices, default=BookingStatus.BOOKED, editable=False
    )
    status_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    booked_at = models.DateTimeField(default=timezone.now, editable=False)
    replaced_by = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replaces",
        editable=False,
        help_text="For a rescheduled booking: the one that took its place.",
    )

    class Meta:
        ordering = ["-booked_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BookingStatus.values), name="booking_status_valid"
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status=BookingStatus.BOOKED),
                name="booking_one_live_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} in {self.slot} ({self.status})"
