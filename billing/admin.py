"""The billing tables in the admin. Each part adds its models under its own heading."""

from __future__ import annotations

from django.contrib import admin

from billing.models import (
    BillingException,
    BillingRun,
    PriceOverride,
    Promotion,
    SettlementLine,
    SettlementStatement,
    Subscription,
    SubscriptionSegment,
)
from common.admin import ReadOnlyAdmin

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


class SettlementLineInline(admin.TabularInline):
    model = SettlementLine
    fields = ("kind", "service", "product", "full_days", "half_days", "monthly_rate", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


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
