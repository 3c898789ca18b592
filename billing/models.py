"""The billing layer's tables.

- who invoices whom: billing providers and each ISP's billing arrangement;
- invoices with their rows, gap-free numbers per provider, payments and refunds, reminders;
- connection charges: a signup's connection cost turned into a deposit invoice and
  installment rows, once, when its stage is reached;
- subscriptions (the commercial contract) that follow services (the network contract),
  with their price segments and promotions;
- revenue assurance: exceptions for finance and the audited manual price overrides;
- wholesale settlement statements per ISP and month;
- billing runs (what ran, when, with what counts).

Money is `Decimal` in the provider's currency (ARCHITECTURE.md, Money).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from billing.lifecycle import (
    BillingModel,
    ConnectionChargeStatus,
    ExceptionKind,
    ExceptionStatus,
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    OverrideField,
    OverrideStatus,
    PaymentKind,
    PaymentProcessor,
    PromotionKind,
    PromotionScope,
    ReasonCode,
    RunKind,
    RunStatus,
    Severity,
    StatementStatus,
    SubscriptionStatus,
)
from common.models import TimeStampedModel

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


# --- who invoices whom ----------------------------------------------------------------------


class BillingProvider(TimeStampedModel):
    """A party that issues invoices: the network owner or an ISP, with its own currency,
    payment processor settings and invoice numbering (gap-free, per provider)."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="billing_providers"
    )
    name = models.CharField(max_length=200, help_text="As printed on the invoices.")
    currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code.")
    invoice_prefix = models.CharField(
        max_length=12, unique=True, help_text="Invoice numbers read PREFIX-YEAR-000001."
    )
    payment_processor = models.CharField(
        max_length=30, choices=PaymentProcessor.choices, default=PaymentProcessor.BANK_TRANSFER
    )
    processor_settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="The processor's account settings (IBAN, merchant id…); never secrets.",
    )
    payment_terms_days = models.PositiveSmallIntegerField(default=14)
    tax_rate = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0.00"), help_text="VAT in percent."
    )
    address_lines = models.TextField(blank=True, help_text="Sender address on the invoices.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # one active provider per organisation: "the organisation's provider" is unambiguous
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(is_active=True),
                name="billing_provider_one_active_per_organisation",
            ),
            models.CheckConstraint(
                condition=Q(tax_rate__gte=0, tax_rate__lt=100), name="billing_provider_tax_rate"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InvoiceSequence(models.Model):
    """The next invoice number of a provider, per year; locked while numbers are handed out,
    so numbers never skip or repeat."""

    provider = models.ForeignKey(BillingProvider, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "year"], name="invoice_sequence_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}/{self.year}: {self.last_number}"


class BillingArrangement(TimeStampedModel):
    """How one ISP's business is billed: the billing model, who invoices its customers'
    subscriptions, who invoices the ISP its wholesale fees, and how settlement counts days."""

    isp = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="billing_arrangement"
    )
    model = models.CharField(
        max_length=30, choices=BillingModel.choices, default=BillingModel.ISP_BILLS_CUSTOMER
    )
    subscription_provider = models.ForeignKey(
        BillingProvider,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who invoices the customers' subscriptions (the ISP's own, or the owner's).",
    )
    wholesale_provider = models.ForeignKey(
        BillingProvider,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The owner's provider that invoices this ISP its wholesale fees.",
    )
    half_day_min_hours = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=Decimal("7"),
        help_text="A day active at least this long (and not above the full-day hours) counts half.",
    )
    full_day_min_hours = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=Decimal("12"),
        help_text="A day active longer than this counts in full.",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(half_day_min_hours__gte=0)
                & Q(full_day_min_hours__gte=F("half_day_min_hours"))
                & Q(full_day_min_hours__lte=24),
                name="billing_arrangement_day_hours",
            )
        ]

    def __str__(self) -> str:
        return f"{self.isp}: {self.get_model_display()}"


# --- invoices -------------------------------------------------------------------------------


class Invoice(TimeStampedModel):
    """An invoice of one provider to one party: a customer, or an ISP (wholesale).

    Drafts carry no number; issuing hands out the provider's next number (no gaps), and a
    voided invoice keeps its number. `total` is the sum of its rows (kept by the services).
    """

    provider = models.ForeignKey(BillingProvider, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=40, null=True, blank=True, editable=False)
    sequence_year = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    sequence = models.PositiveIntegerField(null=True, blank=True, editable=False)
    kind = models.CharField(max_length=20, choices=InvoiceKind.choices)
    status = models.CharField(
        max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT, editable=False
    )
    # the party billed: a customer (with the ISP whose customer they are) or an ISP
    customer = models.ForeignKey(
        "wholesale.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    billed_organisation = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices_received",
        help_text="The ISP billed (wholesale settlement).",
    )
    isp = models.ForeignKey(
        "accounts.Organisation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The ISP the invoice concerns (tenancy: its portal shows it).",
    )
    order = models.ForeignKey(
        "wholesale.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subscription = models.ForeignKey(
        "billing.Subscription",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    credits = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_notes",
        help_text="The invoice a credit note corrects.",
    )
    run = models.ForeignKey(
        "billing.BillingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    currency = models.CharField(max_length=3)
    subtotal = models.DecimalField(**MONEY, default=ZERO)
    tax = models.DecimalField(**MONEY, default=ZERO)
    total = models.DecimalField(**MONEY, default=ZERO)
    amount_paid = models.DecimalField(**MONEY, default=ZERO, editable=False)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True, editable=False)
    due_date = models.DateField(null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(null=True, blank=True, editable=False)
    voided_at = models.DateTimeField(null=True, blank=True, editable=False)
    void_reason = models.CharField(max_length=500, blank=True, editable=False)
    disputed = models.BooleanField(default=False, help_text="The customer disputes it.")
    reminder_level = models.PositiveSmallIntegerField(default=0, editable=False)
    last_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    # what created it, once: a rerun of the same step finds this key and creates nothing
    idempotency_key = models.CharField(max_length=120, unique=True, editable=False)

    class Meta:
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=InvoiceKind.values), name="invoice_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["provider", "sequence_year", "sequence"], name="invoice_number_gap_free"
            ),
            models.CheckConstraint(
                condition=Q(status=InvoiceStatus.DRAFT, sequence__isnull=True)
                | Q(status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PAID], sequence__isnull=False)
                | Q(status=InvoiceStatus.VOID),
                name="invoice_numbered_once_issued",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"], name="invoice_status_due"),
            models.Index(fields=["isp", "-issue_date"], name="invoice_isp_issued"),
            models.Index(fields=["subscription", "period_start"], name="invoice_subscription"),
            models.Index(fields=["order"], name="invoice_order"),
            models.Index(fields=["issue_date"], name="invoice_issued"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.pk}"

    @property
    def balance(self) -> Decimal:
        return self.total - self.amount_paid


class InvoiceLine(models.Model):
    """One row of an invoice, saying what it is for (deposit, installment k of n, a period,
    a proration, the final part, a credit, a discount, wholesale service days)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    description = models.CharField(max_length=300)
    quantity = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal("1"))
    unit_amount = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    subscription = models.ForeignKey(
        "billing.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service = models.ForeignKey(
        "wholesale.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    installment = models.OneToOneField(
        "billing.Installment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_line",
    )
    work_order = models.ForeignKey(
        "workorders.WorkOrder",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A charge for field work (a rework visit charged, say).",
    )
    catalog_unit_amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="The catalog price this row should carry, where one applies.",
    )
    override = models.ForeignKey(
        "billing.PriceOverride", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["invoice", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=LineKind.values), name="line_kind_valid")
        ]
        indexes = [
            models.Index(fields=["subscription", "period_start"], name="line_subscription"),
            # the rows whose period reaches into a month (the open month's KPIs)
            models.Index(
                fields=["period_end"],
                include=["period_start", "subscription", "invoice"],
                name="line_period_end",
            ),
        ]

    def __str__(self) -> str:
        return self.description


class Payment(models.Model):
    """Money received against an invoice, or given back (a refund: kind refund, amount > 0)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=10, choices=PaymentKind.choices, default=PaymentKind.PAYMENT)
    amount = models.DecimalField(**MONEY)
    received_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=30, choices=PaymentProcessor.choices)
    reference = models.CharField(max_length=120, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")
        ]
        indexes = [models.Index(fields=["received_at"], name="payment_received")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} on {self.invoice_id}"


class InvoiceReminder(models.Model):
    """A dunning step taken for an overdue invoice (reminder 1, 2, final notice)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="reminders")
    level = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)
    days_overdue = models.PositiveIntegerField()
    fee = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        ordering = ["invoice", "level"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "level"], name="reminder_once_per_level")
        ]

    def __str__(self) -> str:
        return f"reminder {self.level} of {self.invoice_id}"


# --- connection charges ---------------------------------------------------------------------


class ConnectionCharge(TimeStampedModel):
    """A signup's connection cost on its way to invoices (one per order with a connection
    cost): the deposit invoiced at signup, the installment rows generated once, when the
    snapshotted stage is reached. Blocked, with the reason shown, without a valid provider."""

    order = models.OneToOneField(
        "wholesale.Order", on_delete=models.PROTECT, related_name="connection_charge"
    )
    provider = models.ForeignKey(
        BillingProvider, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=20,
        choices=ConnectionChargeStatus.choices,
        default=ConnectionChargeStatus.WAITING,
        editable=False,
    )
    blocked_reason = models.CharField(max_length=300, blank=True, editable=False)
    deposit_invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    generated_at = models.DateTimeField(null=True, blank=True, editable=False)
    generated_stage = models.CharField(max_length=20, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="connection_charge_status")]

    def __str__(self) -> str:
        return f"connection charge of {self.order_id}"


class Installment(models.Model):
    """Installment k of n of a signup's connection cost, invoiced in month `due_month`."""

    charge = models.ForeignKey(
        ConnectionCharge, on_delete=models.CASCADE, related_name="installments"
    )
    number = models.PositiveSmallIntegerField()
    of = models.PositiveSmallIntegerField()
    amount = models.DecimalField(**MONEY)
    due_month = models.DateField(help_text="First day of the month it is invoiced in.")

    class Meta:
        ordering = ["charge", "number"]
        constraints = [
            models.UniqueConstraint(fields=["charge", "number"], name="installment_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="installment_positive"),
        ]
        indexes = [models.Index(fields=["due_month"], name="installment_due_month")]

    def __str__(self) -> str:
        return f"installment {self.number} of {self.of}"


# --- subscriptions: the commercial contract --------------------------------------------------


class Promotion(TimeStampedModel):
    """A discount for a while from each activation (retail: on subscriptions) or on the
    wholesale fees (per ISP and/or area). It starts and stops on activation timestamps."""

    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=20, choices=PromotionScope.choices)
    kind = models.CharField(max_length=20, choices=PromotionKind.choices)
    value = models.DecimalField(**MONEY, help_text="Percent, or amount per month.")
    months = models.PositiveSmallIntegerField(
        default=1, help_text="How long from the activation it runs."
    )
    isp = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    area = models.ForeignKey(
        "areas.Area", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    offering = models.ForeignKey(
        "wholesale.Offering", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    valid_from = models.DateField(help_text="For activations from this day…")
    valid_to = models.DateField(null=True, blank=True, help_text="…to this day (empty: open).")

    class Meta:
        ordering = ["-valid_from", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gt=0) & (Q(kind=PromotionKind.AMOUNT) | Q(value__lte=100)),
                name="promotion_value_valid",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="promotion_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Subscription(TimeStampedModel):
    """The commercial contract of an order: billed from its service's activation to its
    end, monthly, always at the provisioned plan. Made by billing when the service starts."""

    order = models.OneToOneField(
        "wholesale.Order", on_delete=models.PROTECT, related_name="subscription"
    )
    service = models.OneToOneField(
        "wholesale.Service",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subscription",
    )
    provider = models.ForeignKey(
        BillingProvider, on_delete=models.PROTECT, related_name="subscriptions"
    )
    isp = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        "wholesale.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey(
        "wholesale.Product",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The plan billed (the provisioned profile).",
    )
    offering = models.ForeignKey(
        "wholesale.Offering", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    catalog_price = models.DecimalField(**MONEY, help_text="Monthly price from the catalog.")
    monthly_price = models.DecimalField(**MONEY, help_text="Monthly price billed.")
    discount = models.DecimalField(
        **MONEY, default=ZERO, help_text="Standing manual discount per month."
    )
    discount_override = models.ForeignKey(
        "billing.PriceOverride",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The authorised override that set the standing discount.",
    )
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=10,
        choices=SubscriptionStatus.choices,
        default=SubscriptionStatus.ACTIVE,
        editable=False,
    )
    started_at = models.DateTimeField(help_text="The service's activation instant.")
    ended_at = models.DateTimeField(null=True, blank=True)
    billed_until = models.DateTimeField(
        help_text="Billed up to this instant (in advance: the end of the current month)."
    )
    promotion = models.ForeignKey(
        Promotion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    promotion_ends_at = models.DateTimeField(null=True, blank=True)
    billing_blocked = models.BooleanField(
        default=False, help_text="Held back from billing by revenue assurance (ONT binding)."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SubscriptionStatus.values),
                name="subscription_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="subscription_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "billed_until"], name="subscription_due"),
            models.Index(fields=["isp", "status"], name="subscription_isp_status"),
        ]

    def __str__(self) -> str:
        return f"subscription of {self.order_id}"


class SubscriptionSegment(models.Model):
    """A stretch of a subscription at one plan and price: [starts_at, ends_at).
    A plan change mid-cycle closes one segment and opens the next at the same instant."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="segments"
    )
    product = models.ForeignKey("wholesale.Product", on_delete=models.PROTECT, related_name="+")
    monthly_price = models.DecimalField(**MONEY)
    catalog_price = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="The catalog's monthly price of this plan (empty: the price billed).",
    )
    override = models.ForeignKey(
        "billing.PriceOverride",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The authorised override that set this price, if one did.",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["subscription", "starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gte=F("starts_at")),
                name="segment_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id}: {self.monthly_price} from {self.starts_at}"


# --- revenue assurance ----------------------------------------------------------------------


class BillingException(TimeStampedModel):
    """Something revenue assurance found that finance must resolve: a free rider, billing
    without a service, a plan that is not the provisioned one, a broken ONT binding, or a
    price off the catalog. At most one open exception per kind and subject."""

    kind = models.CharField(max_length=30, choices=ExceptionKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(
        max_length=10,
        choices=ExceptionStatus.choices,
        default=ExceptionStatus.OPEN,
        editable=False,
    )
    # the subject: "service:12" / "subscription:7"; one open exception per kind and subject
    subject = models.CharField(max_length=60)
    service = models.ForeignKey(
        "wholesale.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="exceptions"
    )
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    isp = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    detail = models.CharField(max_length=500)
    detected_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["status", "severity", "-detected_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=Q(status=ExceptionStatus.OPEN),
                name="billing_exception_one_open",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ExceptionKind.values), name="billing_exception_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"], name="billing_exception_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"


class PriceOverride(models.Model):
    """A manual change to a subscription's price or discount: its reason code, who asked,
    who approved (needed above the limit), and the values before and after: the audit row."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="overrides"
    )
    field = models.CharField(max_length=20, choices=OverrideField.choices)
    old_value = models.DecimalField(**MONEY)
    new_value = models.DecimalField(**MONEY)
    reason_code = models.CharField(max_length=30, choices=ReasonCode.choices)
    note = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=OverrideStatus.choices, editable=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason_code__in=ReasonCode.values), name="override_reason_valid"
            ),
            models.CheckConstraint(
                condition=Q(old_value__gte=0, new_value__gte=0), name="override_values_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.field} {self.old_value} → {self.new_value} ({self.reason_code})"


# --- wholesale settlement -------------------------------------------------------------------


class SettlementStatement(TimeStampedModel):
    """What one ISP owes the owner for one month, from actual activations at the agreed
    wholesale rates; `expected` is the same month recomputed independently from the
    services' history, and the variance between the two is watched."""

    isp = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="settlement_statements"
    )
    provider = models.ForeignKey(BillingProvider, on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="First day of the month settled.")
    status = models.CharField(
        max_length=10,
        choices=StatementStatus.choices,
        default=StatementStatus.DRAFT,
        editable=False,
    )
    currency = models.CharField(max_length=3)
    service_days = models.DecimalField(max_digits=12, decimal_places=1, default=Decimal("0"))
    expected_total = models.DecimalField(**MONEY, default=ZERO)
    actual_total = models.DecimalField(**MONEY, default=ZERO)
    invoice = models.OneToOneField(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="statement"
    )
    generated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "isp"]
        constraints = [
            models.UniqueConstraint(fields=["isp", "month"], name="statement_once_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.isp} {self.month:%Y-%m}"

    @property
    def variance(self) -> Decimal:
        return self.actual_total - self.expected_total


class WholesaleExclusion(TimeStampedModel):
    """An address excluded from wholesale fees for a while (DOMAIN.md: a municipal building,
    a show home): its services' days in that period are not settled with their ISP."""

    address = models.ForeignKey(
        "gis_core.Address",
        on_delete=models.PROTECT,
        related_name="wholesale_exclusions",
        db_index=False,  # the (address, valid_from) index serves it
    )
    reason = models.CharField(max_length=300)
    valid_from = models.DateField(help_text="First day excluded.")
    valid_to = models.DateField(null=True, blank=True, help_text="Last day (empty: open).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["address", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="wholesale_exclusion_period_ordered",
            )
        ]
        indexes = [models.Index(fields=["address", "valid_from"], name="wholesale_exclusion_addr")]

    def __str__(self) -> str:
        return f"{self.address_id} excluded from {self.valid_from}: {self.reason}"


class SettlementLine(models.Model):
    """One row of a statement: a service's days at its rate, a one-time fee, a promotion."""

    statement = models.ForeignKey(
        SettlementStatement, on_delete=models.CASCADE, related_name="lines"
    )
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    service = models.ForeignKey(
        "wholesale.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.ForeignKey(
        "gis_core.Address", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey(
        "wholesale.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    description = models.CharField(max_length=300)
    full_days = models.PositiveSmallIntegerField(default=0)
    half_days = models.PositiveSmallIntegerField(default=0)
    monthly_rate = models.DecimalField(**MONEY, default=ZERO)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["statement", "id"]

    def __str__(self) -> str:
        return self.description


# --- runs -----------------------------------------------------------------------------------


class BillingRun(models.Model):
    """One run of a billing step for one day or month: its counts, errors and duration.
    (kind, period) is unique: a second run of the same step finds the first and does nothing."""

    kind = models.CharField(max_length=20, choices=RunKind.choices)
    period = models.DateField(help_text="The day (daily) or the month's first day (monthly).")
    status = models.CharField(
        max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING, editable=False
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "period"], name="billing_run_once")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


# --- board KPIs ------------------------------------------------------------------------------


class KpiMonth(models.Model):
    """One closed month's row of one board-KPI statement (`billing.kpis.QUERIES`): its counts
    and sums, from which the figures are read exactly as from the live statement. Written by
    the daily run (`kpi_months_refresh`), read by the dashboard instead of recomputing history."""

    month = models.DateField(help_text="The month's first day.")
    statement = models.CharField(max_length=20, help_text="The statement: services, money, …")
    parts = models.JSONField(help_text="The statement's row for the month.")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-month", "statement"]
        constraints = [
            models.UniqueConstraint(fields=["month", "statement"], name="kpi_month_once")
        ]

    def __str__(self) -> str:
        return f"{self.statement} {self.month:%Y-%m}"
