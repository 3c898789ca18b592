"""Admin for the billing layer. Each part adds its models' admin under its own heading."""

from django.contrib import admin

from billing.models import (
    ConnectionCharge,
    Installment,
    Invoice,
    InvoiceLine,
    InvoiceReminder,
    Payment,
)
from common.admin import ReadOnlyAdmin

# --- connection (invoices, payments, reminders, connection charges) ---------------------------
# Read-only: invoices change only through billing.invoices (the finance pages call them).


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ("position", "kind", "description", "quantity", "unit_amount", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class PaymentInline(admin.TabularInline):
    model = Payment
    fields = ("kind", "amount", "received_at", "method", "reference", "recorded_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


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


class InstallmentInline(admin.TabularInline):
    model = Installment
    fields = ("number", "of", "amount", "due_month")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ConnectionCharge)
class ConnectionChargeAdmin(ReadOnlyAdmin):
    list_display = ("order", "status", "provider", "blocked_reason", "generated_at")
    list_filter = ("status",)
    list_select_related = ("order", "provider")
    search_fields = ("order__reference",)
    inlines = [InstallmentInline]
