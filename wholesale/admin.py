"""Admin for the wholesale layer: the catalog and who sells where (edited here), the
connection-cost terms (saved through their service), customers, interests, orders and
bookings (read-mostly, changed only through the services); the ISPs' profiles (onboarding
moved by actions that call its services), services with their history, notifications and
webhook deliveries with their attempts (read-only, replayable), and planned maintenance
(plain rows: it has no lifecycle)."""

from django.contrib import admin, messages

from common.admin import ReadOnlyAdmin, ReadOnlyInline, lifecycle_action
from common.errors import DomainError
from wholesale.activation import service_deactivate
from wholesale.models import (
    Booking,
    ConnectionCostTerms,
    Customer,
    InstallationSlot,
    InterestRegistration,
    IspNotification,
    IspProfile,
    IspServiceArea,
    IspStatusChange,
    MaintenanceWindow,
    Offering,
    Order,
    OrderStatusChange,
    Product,
    Service,
    ServiceChange,
    WebhookAttempt,
    WebhookDelivery,
)
from wholesale.notifications import webhook_replay
from wholesale.onboarding import isp_activate, isp_contacts_set, isp_suspend, isp_webhook_set
from wholesale.services import (
    booking_cancel,
    connection_cost_terms_set,
    isp_profile_set,
    order_cancel,
)


class OrderHistoryInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = ("changed_at", "from_status", "to_status", "actor", "reason")


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


class IspStatusChangeInline(ReadOnlyInline):
    model = IspStatusChange
    fields = ("changed_at", "from_status", "to_status", "actor", "reason")


def isp_activate_from_admin(*, profile: IspProfile, actor, reason: str) -> IspProfile:
    """Activate the profile's ISP (onboarding done, or reinstated), saying who did it here."""
    return isp_activate(
        isp=profile.organisation, actor=actor, reason=f"activated by {actor} from the admin"
    )


def isp_suspend_from_admin(*, profile: IspProfile, actor, reason: str) -> IspProfile:
    """Suspend the profile's ISP; the reason names who did it here."""
    return isp_suspend(
        isp=profile.organisation, actor=actor, reason=f"suspended by {actor} from the admin"
    )


@admin.register(IspProfile)
class IspProfileAdmin(admin.ModelAdmin):
    """An ISP's profile: contacts, marketplace face and webhook saved through the onboarding
    services; its status only moves by the actions (activate, suspend), with history."""

    list_display = ("organisation", "status", "status_changed_at", "contact_name", "website")
    list_filter = ("status",)
    list_select_related = ("organisation",)
    search_fields = ("organisation__name", "contact_name", "contact_email")
    fields = (
        "organisation",
        "status",
        "status_changed_at",
        "logo",
        "website",
        "contact_name",
        "contact_email",
        "contact_phone",
        "support_email",
        "webhook_url",
        "has_webhook_secret",
    )
    readonly_fields = ("organisation", "status", "status_changed_at", "has_webhook_secret")
    inlines = [IspStatusChangeInline]
    actions = [
        lifecycle_action(
            isp_activate_from_admin, "Activate ISP", argument="profile", noun="ISP(s)"
        ),
        lifecycle_action(isp_suspend_from_admin, "Suspend ISP", argument="profile", noun="ISP(s)"),
    ]

    def has_add_permission(self, request):
        return False  # an ISP is onboarded (isp_onboard), which makes its profile

    @admin.display(boolean=True, description="webhook secret set")
    def has_webhook_secret(self, profile: IspProfile) -> bool:
        return bool(profile.webhook_secret)  # the secret itself is never shown

    def save_model(self, request, obj, form, change):
        """Saved through the onboarding services, which check contacts and the webhook URL."""
        data = form.cleaned_data
        isp = obj.organisation
        try:
            isp_profile_set(isp=isp, logo=data["logo"], website=data["website"])
            isp_contacts_set(
                isp=isp,
                contact_name=data["contact_name"],
                contact_email=data["contact_email"],
                contact_phone=data["contact_phone"],
                support_email=data["support_email"],
                website=data["website"],
            )
            if "webhook_url" in form.changed_data:
                isp_webhook_set(isp=isp, url=data["webhook_url"])
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)


class ServiceChangeInline(ReadOnlyInline):
    model = ServiceChange
    fields = ("at", "kind", "from_product", "to_product", "actor", "reason")


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    """Services are made and changed only by the ISPs' activation services: read-only here,
    with their history; ending one from here goes through `service_deactivate`."""

    list_display = (
        "reference",
        "isp",
        "address",
        "unit",
        "product",
        "ont_serial",
        "status",
        "activated_at",
        "ended_at",
    )
    list_filter = ("isp", "status")
    list_select_related = ("isp", "address", "product")
    search_fields = ("reference", "ont_serial", "order__reference")
    date_hierarchy = "activated_at"
    readonly_fields = (
        "reference",
        "order",
        "isp",
        "address",
        "unit",
        "product",
        "wholesale_monthly_fee",
        "currency",
        "ont_serial",
        "c_vlan",
        "s_vlan",
        "parameters",
        "status",
        "status_changed_at",
        "activated_at",
        "ended_at",
        "end_reason",
        "previous",
    )
    fields = readonly_fields
    inlines = [ServiceChangeInline]
    actions = [
        lifecycle_action(
            service_deactivate,
            "Deactivate the selected services",
            argument="service",
            noun="service(s)",
        )
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IspNotification)
class IspNotificationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "isp", "kind", "topic", "message", "read_at", "delivery_status")
    list_filter = ("kind", "isp")
    list_select_related = ("isp", "delivery")
    search_fields = ("message", "topic", "uid")
    date_hierarchy = "created_at"
    readonly_fields = (
        "uid",
        "isp",
        "kind",
        "topic",
        "message",
        "address",
        "order",
        "service",
        "data",
        "created_at",
        "read_at",
    )

    @admin.display(description="webhook")
    def delivery_status(self, notification: IspNotification) -> str:
        delivery = getattr(notification, "delivery", None)
        return delivery.get_status_display() if delivery else "—"


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("attempted_at", "url", "status_code", "error", "duration_ms", "replay")
    readonly_fields = (*fields, "response_body")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Deliveries and their attempt log, read-only; `replay` sends one again through the
    outbox, as the ISP can from its portal."""

    list_display = (
        "notification",
        "isp",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "delivered_at",
        "replays",
    )
    list_filter = ("status", "isp")
    list_select_related = ("notification", "isp")
    search_fields = ("notification__uid", "notification__topic", "last_error")
    readonly_fields = (
        "notification",
        "isp",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
        "replays",
    )
    inlines = [WebhookAttemptInline]
    actions = ["replay"]

    @admin.action(description="Replay the selected deliveries")
    def replay(self, request, queryset):
        replayed = 0
        for delivery in queryset.order_by("pk"):
            try:
                webhook_replay(delivery=delivery, actor=request.user)
                replayed += 1
            except DomainError as exc:
                self.message_user(request, f"{delivery}: {exc.message}", messages.ERROR)
        if replayed:
            self.message_user(request, f"{replayed} delivery(ies) queued again.", messages.SUCCESS)


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    """Planned maintenance every ISP reads: plain rows, edited here (no lifecycle)."""

    list_display = ("title", "area", "starts_at", "ends_at", "service_affecting")
    list_filter = ("service_affecting",)
    list_select_related = ("area",)
    search_fields = ("title", "description")
    autocomplete_fields = ("area",)
    date_hierarchy = "starts_at"


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
