"""Sync runs and the conflict log in the admin (read-only: written by the importers)."""

from django.contrib import admin, messages

from integrations.models import SyncConflict, SyncRun
from integrations.safety import conflicts_resolve


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "system",
        "mode",
        "status",
        "started_at",
        "duration_seconds",
        "fetched",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "retired",
        "conflicts",
    )
    list_filter = ("system", "mode", "status")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SyncConflict)
class SyncConflictAdmin(admin.ModelAdmin):
    """The conflict log: read-only; "mark resolved" closes the selected open conflicts."""

    list_display = (
        "detected_at",
        "system",
        "external_id",
        "address",
        "field",
        "oanm_value",
        "remote_value",
        "winner",
        "resolved_at",
        "resolved_by",
    )
    list_filter = ("system", "winner", "field", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("external_id", "oanm_value", "remote_value")
    list_select_related = ("address", "resolved_by")
    raw_id_fields = ("address", "run")
    actions = ["mark_resolved"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark the selected conflicts resolved")
    def mark_resolved(self, request, queryset):
        closed = conflicts_resolve(
            conflict_ids=list(queryset.values_list("pk", flat=True)), actor=request.user
        )
        self.message_user(request, f"{closed} conflict(s) marked resolved.", messages.SUCCESS)
