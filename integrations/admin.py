"""Sync runs in the admin (read-only: runs are written by the importers)."""

from django.contrib import admin

from integrations.models import SyncRun


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
    )
    list_filter = ("system", "mode", "status")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
