"""The billing layer's states and kinds: invoices, connection charges, subscriptions,
revenue-assurance exceptions, price overrides and settlement statements."""

from django.db import models

from common.lifecycle import TransitionMap


class PaymentProcessor(models.TextChoices):
    """How a provider collects what it invoices (its settings live beside it)."""

    BANK_TRANSFER = "bank_transfer", "bank transfer"
    SEPA_DIRECT_DEBIT = "sepa_direct_debit", "SEPA direct debit"
    STRIPE = "stripe", "Stripe"
    GOCARDLESS = "gocardless", "GoCardless"
    ADYEN = "adyen", "Adyen"


class BillingModel(models.TextChoices):
    """Who invoices an ISP's customers (DOMAIN.md: billing models)."""

    ISP_BILLS_CUSTOMER = (
        "isp_bills_customer",
        "the ISP bills its customers; the owner bills the ISP",
    )
    OWNER_BILLS_CUSTOMER = (
        "owner_bills_customer",
        "the owner bills the customers on the ISP's behalf",
    )


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    ISSUED = "issued", "issued"
    PAID = "paid", "paid"
    VOID = "void", "void"


INVOICE_TRANSITIONS = TransitionMap(
    "invoice",
    {
        InvoiceStatus.DRAFT: {InvoiceStatus.ISSUED, InvoiceStatus.VOID},
        InvoiceStatus.ISSUED: {InvoiceStatus.PAID, InvoiceStatus.VOID},
        InvoiceStatus.PAID: {InvoiceStatus.ISSUED},  # a refund reopens the balance
        InvoiceStatus.VOID: set(),
    },
)


class InvoiceKind(models.TextChoices):
    """What an invoice is for, as a whole (its rows say in detail)."""

    DEPOSIT = "deposit", "connection deposit"
    CONNECTION = "connection", "connection cost installment"
    SUBSCRIPTION = "subscription", "subscription"
    SETTLEMENT = "settlement", "wholesale settlement"
    CREDIT_NOTE = "credit_note", "credit note"
    CHARGE = "charge", "one-time charge"


class LineKind(models.TextChoices):
    """What one invoice row is for (ARCHITECTURE.md: every row says)."""

    DEPOSIT = "deposit", "deposit"
    INSTALLMENT = "installment", "installment"
    PERIOD = "period", "subscription period"
    PRORATION = "proration", "proration"
    FINAL = "final", "final (prorated)"
    CREDIT = "credit", "credit"
    DISCOUNT = "discount", "discount (promotion)"
    WHOLESALE = "wholesale", "wholesale service days"
    ONE_TIME = "one_time", "one-time fee"
    ADJUSTMENT = "adjustment", "adjustment"


class PaymentKind(models.TextChoices):
    PAYMENT = "payment", "payment"
    REFUND = "refund", "refund"


class ConnectionChargeStatus(models.TextChoices):
    """A signup's connection cost on its way to invoices."""

    WAITING = "waiting", "waiting for its stage"
    GENERATED = "generated", "installments generated"
    BLOCKED = "blocked", "blocked (no valid billing provider)"
    CANCELLED = "cancelled", "cancelled with the signup"


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "active (billing)"
    ENDED = "ended", "ended"


class PromotionScope(models.TextChoices):
    RETAIL = "retail", "customer subscriptions"
    WHOLESALE = "wholesale", "wholesale fees to ISPs"


class PromotionKind(models.TextChoices):
    PERCENT = "percent", "percent off"
    AMOUNT = "amount", "amount off per month"


class ExceptionKind(models.TextChoices):
    """What revenue assurance found (each raised red or amber for finance to resolve)."""

    FREE_RIDER = "free_rider", "active service without a subscription (free rider)"
    BILLING_WITHOUT_SERVICE = "billing_without_service", "billing without an active service"
    PLAN_MISMATCH = "plan_mismatch", "billed plan ≠ provisioned profile"
    ONT_BINDING = "ont_binding", "ONT no longer bound to its address"
    PRICING_POLICY = "pricing_policy", "price off the catalog without an authorised override"


class Severity(models.TextChoices):
    RED = "red", "red"
    AMBER = "amber", "amber"


class ExceptionStatus(models.TextChoices):
    OPEN = "open", "open"
    RESOLVED = "resolved", "resolved"


class OverrideField(models.TextChoices):
    PRICE = "price", "monthly price"
    DISCOUNT = "discount", "discount per month"


class ReasonCode(models.TextChoices):
    """Why a price or discount was changed by hand (required: ARCHITECTURE.md, Money)."""

    GOODWILL = "goodwill", "goodwill after a fault or complaint"
    RETENTION = "retention", "retention offer"
    BILLING_ERROR = "billing_error", "correcting a billing error"
    CONTRACT = "contract", "individual contract (business customer)"
    SOCIAL_TARIFF = "social_tariff", "social tariff"


class OverrideStatus(models.TextChoices):
    APPLIED = "applied", "applied"
    PENDING = "pending", "waiting for approval"
    REJECTED = "rejected", "rejected"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    ISSUED = "issued", "issued"


class RunKind(models.TextChoices):
    DAILY = "daily", "daily billing run"
    MONTHLY = "monthly", "monthly subscriptions"
    SETTLEMENT = "settlement", "monthly settlement"


class RunStatus(models.TextChoices):
    RUNNING = "running", "running"
    DONE = "done", "done"
    FAILED = "failed", "failed"
