"""Billing in the operator admin."""

from django.contrib import admin

from billing.models import BillingRun, Promotion, Subscription, SubscriptionSegment

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
