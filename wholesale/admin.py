"""Admin for the wholesale layer: the catalog and who sells where (edited here), the
connection-cost terms (saved through their service), customers, interests, orders and
bookings (read-mostly, changed only through the services)."""

from django.contrib import admin, messages

from common.admin import ReadOnlyAdmin
from common.errors import DomainError
from wholesale.models import (
    Booking,
    ConnectionCostTerms,
    Customer,
    InstallationSlot,
    InterestRegistration,
    IspProfile,
    IspServiceArea,
    Offering,
    Order,
    OrderStatusChange,
    Product,
)
from wholesale.services import booking_cancel, connection_cost_terms_set, order_cancel


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
    list_display = ("reference", "address", "unit", "isp", "offering", "status", "placed_at")
    list_filter = ("status", "isp")
    list_select_related = ("address", "isp", "offering")
    search_fields = ("reference", "address__label", "customer__email")
    raw_id_fields = ("address",)
    readonly_fields = (
        "reference",
        "address",
        "unit",
        "isp",
        "offering",
        "customer",
        "status",
        "status_changed_at",
        "placed_at",
        "connection_cost_total",
        "connection_cost_deposit",
        "connection_cost_max_installment",
        "connection_cost_installments",
        "connection_cost_invoicing_starts",
        "connection_cost_billed_by",
        "connection_cost_currency",
    )
    exclude = ("connection_cost_terms",)
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


@admin.register(IspProfile)
class IspProfileAdmin(admin.ModelAdmin):
    list_display = ("organisation", "logo", "website")


@admin.register(IspServiceArea)
class IspServiceAreaAdmin(admin.ModelAdmin):
    list_display = ("isp", "area", "created_at")
    list_filter = ("isp",)
    search_fields = ("area__code", "area__name", "isp__name")
    autocomplete_fields = ("area",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "download_mbps", "upload_mbps", "monthly_fee", "valid_to")
    search_fields = ("code", "name")


@admin.register(Offering)
class OfferingAdmin(admin.ModelAdmin):
    list_display = ("name", "isp", "product", "monthly_price", "valid_from", "valid_to")
    list_filter = ("isp",)
    search_fields = ("name", "isp__name")
    filter_horizontal = ("areas",)


@admin.register(ConnectionCostTerms)
class ConnectionCostTermsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "deposit", "max_installment", "invoicing_starts", "billed_by")
    list_filter = ("invoicing_starts", "connection_only_enabled")
    raw_id_fields = ("address",)
    autocomplete_fields = ("area",)

    def save_model(self, request, obj, form, change):
        """Saved through the service, which checks the amounts as the API would."""
        data = form.cleaned_data
        try:
            saved = connection_cost_terms_set(
                area=data.get("area"),
                address=data.get("address"),
                total=data["total"],
                deposit=data.get("deposit"),
                max_installment=data.get("max_installment"),
                invoicing_starts=data["invoicing_starts"],
                billed_by=data["billed_by"],
                currency=data["currency"],
                connection_only_enabled=data["connection_only_enabled"],
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.pk = saved.pk
        obj._state.adding = False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "phone", "created_at")
    search_fields = ("name", "email")


@admin.register(InterestRegistration)
class InterestRegistrationAdmin(ReadOnlyAdmin):
    list_display = ("customer", "address", "consented_at")
    list_select_related = ("customer", "address")
    search_fields = ("customer__email", "address__label")


@admin.register(InstallationSlot)
class InstallationSlotAdmin(admin.ModelAdmin):
    list_display = ("__str__", "area", "capacity", "booked")
    list_filter = ("area",)
    readonly_fields = ("booked",)
    date_hierarchy = "starts_at"


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = ("order", "slot", "status", "booked_at", "status_changed_at")
    list_filter = ("status",)
    list_select_related = ("order", "slot")
    actions = ["cancel"]

    @admin.action(description="Cancel the selected bookings")
    def cancel(self, request, queryset):
        for booking in queryset.order_by("pk"):
            try:
                booking_cancel(booking=booking)
            except DomainError as exc:
                self.message_user(request, f"{booking}: {exc.message}", messages.ERROR)
