"""Admin for the infrastructure: the event log and the outbox (read-only, with a retry action)."""

from django.contrib import admin, messages

from common.models import DomainEvent, OutboxMessage, OutboxStatus, SavedQuery
from common.outbox import outbox_message_retry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: visible, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OutboxInline(admin.TabularInline):
    model = OutboxMessage
    fields = ("handler", "status", "attempts", "next_attempt_at", "delivered_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DomainEvent)
class DomainEventAdmin(ReadOnlyAdmin):
    list_display = ("topic", "occurred_at", "id")
    list_filter = ("topic",)
    search_fields = ("id", "topic")
    date_hierarchy = "occurred_at"
    readonly_fields = ("id", "topic", "payload", "occurred_at")
    inlines = [OutboxInline]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "handler", "status", "attempts", "next_attempt_at", "delivered_at")
    list_filter = ("status", "handler")
    search_fields = ("handler", "event__id", "ordering_key")
    list_select_related = ("event",)
    readonly_fields = (
        "event",
        "handler",
        "ordering_key",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "delivered_at",
    )
    actions = ["retry_now"]

    @admin.action(description="Retry the selected messages now")
    def retry_now(self, request, queryset):
        retried = 0
        for message in queryset.exclude(status=OutboxStatus.DELIVERED):
            outbox_message_retry(message=message)
            retried += 1
        self.message_user(request, f"{retried} message(s) queued for delivery.", messages.SUCCESS)


@admin.register(SavedQuery)
class SavedQueryAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "owner", "updated_at")
    list_filter = ("source",)
    list_select_related = ("owner",)
    search_fields = ("name", "description", "owner__username")
    readonly_fields = ("definition", "share_token", "created_at", "updated_at")
