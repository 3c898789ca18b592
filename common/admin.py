"""Admin for the infrastructure: the event log and the outbox (read-only, with a retry action)."""

from django.contrib import admin, messages

from common.errors import DomainError
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


class ReadOnlyInline(admin.TabularInline):
    """Rows under their parent (history, lines): shown, never added, changed or deleted here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OutboxInline(ReadOnlyInline):
    model = OutboxMessage
    fields = ("handler", "status", "attempts", "next_attempt_at", "delivered_at", "last_error")


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


def lifecycle_action(service, description: str, *, argument: str, noun: str):
    """An admin action that moves each selected row through a lifecycle service.

    `argument` is the service's keyword for the row (`address`, `area`); refusals are shown
    as messages, one per row, and the other rows still move.
    """

    def action(modeladmin, request, queryset):
        moved, refused = 0, []
        for row in queryset.order_by("pk"):
            try:
                service(**{argument: row}, actor=request.user, reason="admin action")
                moved += 1
            except DomainError as exc:
                refused.append(f"{row}: {exc.message}")
        if moved:
            modeladmin.message_user(request, f"{moved} {noun} moved.", messages.SUCCESS)
        for line in refused[:10]:
            modeladmin.message_user(request, line, messages.ERROR)

    action.short_description = description
    action.__name__ = service.__name__
    return action
