"""The billing tables in the admin. Each part adds its models under its own heading."""

from __future__ import annotations

from django.contrib import admin

from billing.models import (
    BillingArrangement,
    BillingException,
    BillingProvider,
    BillingRun,
    ConnectionCharge,
    Installment,
    Invoice,
    InvoiceLine,
    InvoiceReminder,
    Payment,
    PriceOverride,
    Promotion,
    SettlementLine,
    SettlementStatement,
    Subscription,
    SubscriptionSegment,
    WholesaleExclusion,
)
from common.admin import ReadOnlyAdmin, ReadOnlyInline

# --- who invoices whom: providers and each ISP's arrangement (configured here) ---------------


@admin.register(BillingProvider)
class BillingProviderAdmin(admin.ModelAdmin):
    """A party that invoices: its currency, numbering prefix, processor and terms."""

    list_display = (
        "name",
        "organisation",
        "currency",
        "invoice_prefix",
        "payment_processor",
        "payment_terms_days",
        "tax_rate",
        "is_active",
    )
    list_filter = ("is_active", "payment_processor", "currency")
    list_select_related = ("organisation",)
    search_fields = ("name", "invoice_prefix", "organisation__name")


@admin.register(BillingArrangement)
class BillingArrangementAdmin(admin.ModelAdmin):
    """How an ISP's business is billed: the model, who invoices subscriptions and the
    wholesale fees, how settlement counts days."""

    list_display = (
        "isp",
        "model",
        "subscription_provider",
        "wholesale_provider",
        "half_day_min_hours",
        "full_day_min_hours",
    )
    list_filter = ("model",)
    list_select_related = ("isp", "subscription_provider", "wholesale_provider")


# --- subscriptions (billing.subscriptions, billing.runs) -------------------------------------


class SegmentInline(admin.TabularInline):
    model = SubscriptionSegment
    extra = 0
    can_delete = False
    readonly_fields = ["product", "monthly_price", "starts_at", "ends_at"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Subscriptions are made and changed by the services' events; read here."""

    list_display = ["id", "isp", "product", "monthly_price", "status", "started_at", "billed_until"]
    list_filter = ["status", "billing_blocked", "isp"]
    list_select_related = ["isp", "product"]
    search_fields = ["order__reference", "service__reference"]
    inlines = [SegmentInline]
    readonly_fields = [f.name for f in Subscription._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["name", "scope", "kind", "value", "months", "isp", "valid_from", "valid_to"]
    list_filter = ["scope", "kind"]


@admin.register(BillingRun)
class BillingRunAdmin(admin.ModelAdmin):
    list_display = ["kind", "period", "status", "started_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in BillingRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


# --- assurance: exceptions, price overrides, settlement statements (read-only: services
# write them; finance works on /billing/exceptions/, /billing/overrides/, /billing/settlement/)


@admin.register(BillingException)
class BillingExceptionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "severity", "status", "subject", "isp", "detected_at")
    list_filter = ("status", "severity", "kind")
    search_fields = ("subject", "detail")
    list_select_related = ("isp",)


@admin.register(PriceOverride)
class PriceOverrideAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "subscription",
        "field",
        "old_value",
        "new_value",
        "reason_code",
        "status",
        "requested_by",
        "approved_by",
        "requested_at",
    )
    list_filter = ("status", "field", "reason_code")
    list_select_related = ("subscription", "requested_by", "approved_by")


class SettlementLineInline(ReadOnlyInline):
    model = SettlementLine
    fields = ("kind", "service", "product", "full_days", "half_days", "monthly_rate", "amount")
    show_change_link = False


@admin.register(SettlementStatement)
class SettlementStatementAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "isp",
        "month",
        "status",
        "service_days",
        "expected_total",
        "actual_total",
        "invoice",
    )
    list_filter = ("status", "month")
    list_select_related = ("isp", "invoice")
    inlines = [SettlementLineInline]


# --- connection (invoices, payments, reminders, connection charges) ---------------------------
# Read-only: invoices change only through billing.invoices (the finance pages call them).


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ("position", "kind", "description", "quantity", "unit_amount", "amount")


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("kind", "amount", "received_at", "method", "reference", "recorded_by")


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "kind", "status", "provider", "customer", "total", "amount_paid")
    list_filter = ("status", "kind", "provider")
    list_select_related = ("provider", "customer")
    search_fields = ("number", "customer__name", "customer__email", "idempotency_key")
    date_hierarchy = "issue_date"
    inlines = [InvoiceLineInline, PaymentInline]


@admin.register(InvoiceReminder)
class InvoiceReminderAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "level", "days_overdue", "sent_at")
    list_select_related = ("invoice",)


class InstallmentInline(ReadOnlyInline):
    model = Installment
    fields = ("number", "of", "amount", "due_month")


@admin.register(ConnectionCharge)
class ConnectionChargeAdmin(ReadOnlyAdmin):
    list_display = ("order", "status", "provider", "blocked_reason", "generated_at")
    list_filter = ("status",)
    list_select_related = ("order", "provider")
    search_fields = ("order__reference",)
    inlines = [InstallmentInline]


# --- wholesale exclusions (configured here; settlement leaves their days out) ----------------


@admin.register(WholesaleExclusion)
class WholesaleExclusionAdmin(admin.ModelAdmin):
    list_display = ("address", "reason", "valid_from", "valid_to", "created_by")
    list_select_related = ("address", "created_by")
    raw_id_fields = ("address",)
    readonly_fields = ("created_by",)
    search_fields = ("address__street", "reason")

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
