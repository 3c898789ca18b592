"""Admin for orders: read-mostly, with cancellation through the service."""

from django.contrib import admin, messages

from common.errors import DomainError
from wholesale.models import Order, OrderStatusChange
from wholesale.services import order_cancel


class OrderHistoryInline(admin.TabularInline):
    model = OrderStatusChange
    fields = ("changed_at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("reference", "address", "isp", "status", "placed_at")
    list_filter = ("status", "isp")
    list_select_related = ("address", "isp")
    search_fields = ("reference", "address__label")
    raw_id_fields = ("address",)
    readonly_fields = ("reference", "address", "isp", "status", "status_changed_at", "placed_at")
    inlines = [OrderHistoryInline]
    actions = ["cancel"]

    def has_add_permission(self, request):
        return False  # orders come from the marketplace or an ISP's API

    @admin.action(description="Cancel the selected orders")
    def cancel(self, request, queryset):
        for order in queryset.order_by("pk"):
            try:
                order_cancel(order=order, actor=request.user, reason="admin action")
            except DomainError as exc:
                self.message_user(request, f"{order}: {exc.message}", messages.ERROR)
