"""Admin for the field: templates with their tasks, crews and depots (plain rows, edited
here); work orders and tasks read-only, moved only by actions that call the workorders
services (cancel, accept, send back — with a reason where the service wants one); the
installation records (frozen, never deleted) and the provisioning jobs (retried through
their service)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.gis.admin import GISModelAdmin
from django.db.models import Count, QuerySet
from django.template.response import TemplateResponse

from common.admin import ReadOnlyAdmin, ReadOnlyInline
from common.errors import DomainError
from common.widgets import OfflineMapWidget
from workorders.models import (
    Crew,
    Depot,
    InstallationRecord,
    ProvisioningJob,
    RoutePlan,
    Task,
    TaskEvent,
    TaskTemplate,
    WorkOrder,
    WorkOrderStatusChange,
    WorkTemplate,
)
from workorders.services import (
    provisioning_retry,
    task_accept,
    task_reject,
    work_order_cancel,
)

REASON_TEMPLATE = "admin/workorders/action_reason.html"


class ReasonForm(forms.Form):
    """The reason an action asks for before it runs."""

    reason = forms.CharField(
        max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), strip=True
    )


def _run(modeladmin, request, rows, call, noun: str, verb: str) -> None:
    """Call the service for each row; refusals become one message per row (the other rows
    still go through)."""
    done, refused = 0, []
    for row in rows:
        try:
            call(row)
            done += 1
        except DomainError as exc:
            refused.append(f"{row}: {exc.message}")
    if done:
        modeladmin.message_user(request, f"{done} {noun} {verb}.", messages.SUCCESS)
    for line in refused[:10]:
        modeladmin.message_user(request, line, messages.ERROR)


def reason_action(service, description: str, *, argument: str, noun: str, verb: str):
    """An admin action that asks for a reason on an intermediate page, then calls
    `service(<argument>=row, actor=user, reason=…)` for each selected row. Without a reason
    nothing runs: the page comes back with the error."""

    def action(modeladmin, request, queryset: QuerySet):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            _run(
                modeladmin,
                request,
                queryset.order_by("pk"),
                lambda row: service(**{argument: row}, actor=request.user, reason=reason),
                noun,
                verb,
            )
            return None
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "description": description,
            "form": form,
            "rows": list(queryset.order_by("pk")),
            "action": action.__name__,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
            "noun": noun,
        }
        return TemplateResponse(request, REASON_TEMPLATE, context)

    action.short_description = description
    action.__name__ = f"{service.__name__}_with_reason"
    return action


# --- templates, crews, depots (plain rows) ---------------------------------------------------


class TaskTemplateInline(admin.TabularInline):
    model = TaskTemplate
    extra = 0
    fields = (
        "position",
        "name",
        "category",
        "evidence",
        "light_min_dbm",
        "light_max_dbm",
        "min_download_mbps",
        "min_upload_mbps",
        "skill",
        "assignee_kind",
        "contractor",
        "minutes",
        "instructions",
    )


@admin.register(WorkTemplate)
class WorkTemplateAdmin(admin.ModelAdmin):
    """An installation template and its ordered tasks, edited here; work orders copy the
    tasks when they are made, so a change applies to the work orders made after it."""

    list_display = ("code", "name", "premises_types", "priority", "task_count", "is_active")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    filter_horizontal = ("areas",)
    inlines = [TaskTemplateInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(task_total=Count("tasks"))

    @admin.display(description="tasks", ordering="task_total")
    def task_count(self, template: WorkTemplate) -> int:
        return template.task_total


@admin.register(Depot)
class DepotAdmin(GISModelAdmin):
    gis_widget = OfflineMapWidget
    list_display = ("name", "created_at")
    search_fields = ("name",)


@admin.register(Crew)
class CrewAdmin(admin.ModelAdmin):
    list_display = ("name", "organisation", "depot", "skills", "member_count", "daily_minutes")
    list_filter = ("organisation", "is_active")
    list_select_related = ("organisation", "depot")
    search_fields = ("name", "members__username")
    filter_horizontal = ("members",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, crew: Crew) -> int:
        return crew.member_total


# --- work orders and tasks (read-only; moved by actions) --------------------------------------


class TaskInline(ReadOnlyInline):
    model = Task
    fields = (
        "position",
        "name",
        "status",
        "contractor",
        "crew",
        "completed_by",
        "completed_at",
        "accepted_by",
        "accepted_at",
        "rework_count",
    )
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("contractor", "crew", "completed_by", "accepted_by")
        )


class WorkOrderHistoryInline(ReadOnlyInline):
    model = WorkOrderStatusChange
    fields = ("changed_at", "from_status", "to_status", "actor", "reason")


class ReferenceSearchMixin:
    """`WO-0000042` (or `wo-42`) in the search box finds that work order."""

    reference_field = "pk"

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().upper()
        if term.startswith("WO-") and term[3:].isdigit():
            return queryset.filter(**{self.reference_field: int(term[3:])}), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(WorkOrder)
class WorkOrderAdmin(ReferenceSearchMixin, admin.ModelAdmin):
    """Work orders are made by deployment and moved by the field and the dispatchers:
    read-only here, with their tasks and history; cancelling goes through its service."""

    list_display = (
        "reference",
        "address",
        "template",
        "status",
        "scheduled_for",
        "due_on",
        "reopened",
        "created_at",
    )
    list_filter = ("status", "template", ("address__area", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("address", "template")
    search_fields = ("address__label", "address__street")
    date_hierarchy = "created_at"
    readonly_fields = (
        "reference",
        "address",
        "order",
        "template",
        "status",
        "status_changed_at",
        "scheduled_for",
        "due_on",
        "completed_at",
        "accepted_at",
        "reopened",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    inlines = [TaskInline, WorkOrderHistoryInline]
    actions = [
        reason_action(
            work_order_cancel,
            "Cancel the selected work orders",
            argument="work_order",
            noun="work order(s)",
            verb="cancelled",
        )
    ]

    def has_add_permission(self, request):
        return False  # made by deployment and by orders in building areas

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # actions, no edits


class TaskEventInline(ReadOnlyInline):
    model = TaskEvent
    fields = ("at", "kind", "from_status", "to_status", "actor", "reason")


def _accept(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset.order_by("pk"),
        lambda task: task_accept(task=task, actor=request.user),
        "task(s)",
        "accepted",
    )


_accept.short_description = "Accept the selected tasks (contractor work)"
_accept.__name__ = "task_accept"


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    """Tasks: who does them and their lifecycle are read-only; a contractor's finished work
    is accepted, or sent back with a reason, by the actions (the services' rules apply)."""

    list_display = (
        "__str__",
        "work_order",
        "status",
        "contractor",
        "crew",
        "completed_by",
        "completed_at",
        "rework_count",
    )
    list_filter = ("status", "category", "contractor", "crew")
    list_select_related = ("work_order", "contractor", "crew", "completed_by")
    search_fields = ("name", "work_order__address__label")
    readonly_fields = (
        "work_order",
        "position",
        "name",
        "category",
        "instructions",
        "evidence",
        "light_min_dbm",
        "light_max_dbm",
        "min_download_mbps",
        "min_upload_mbps",
        "skill",
        "minutes",
        "contractor",
        "crew",
        "needs_acceptance",
        "status",
        "status_changed_at",
        "result",
        "problem",
        "completed_by",
        "completed_at",
        "accepted_by",
        "accepted_at",
        "rework_count",
    )
    fields = readonly_fields
    inlines = [TaskEventInline]
    actions = [
        _accept,
        reason_action(
            task_reject,
            "Send the selected tasks back for rework",
            argument="task",
            noun="task(s)",
            verb="sent back",
        ),
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)


# --- the record of what was built, and provisioning -------------------------------------------


@admin.register(InstallationRecord)
class InstallationRecordAdmin(ReadOnlyAdmin):
    """The frozen record of an installation: kept with its address forever."""

    list_display = ("work_order", "address", "ont_serial", "light_level_dbm", "created_at")
    list_select_related = ("work_order", "address")
    search_fields = ("ont_serial", "address__label")
    date_hierarchy = "created_at"
    readonly_fields = ("work_order", "address", "ont_serial", "light_level_dbm", "record")
    fields = (*readonly_fields, "created_at")


def _retry(modeladmin, request, queryset):
    _run(
        modeladmin,
        request,
        queryset.order_by("pk"),
        lambda job: provisioning_retry(job=job, actor=request.user),
        "provisioning job(s)",
        "queued again",
    )


_retry.short_description = "Retry the selected provisioning jobs now"
_retry.__name__ = "provisioning_retry"


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(ReadOnlyAdmin):
    """Bringing up finished installations' ONTs: read-only; a failed or dead job is tried
    again through its service (which publishes the request anew)."""

    list_display = (
        "work_order",
        "ont_serial",
        "speed_profile",
        "vendor",
        "status",
        "attempts",
        "last_error",
        "updated_at",
    )
    list_filter = ("status", "vendor")
    list_select_related = ("work_order",)
    search_fields = ("ont_serial", "external_id", "address__label")
    readonly_fields = (
        "work_order",
        "address",
        "ont_serial",
        "speed_profile",
        "download_mbps",
        "upload_mbps",
        "vendor",
        "status",
        "attempts",
        "last_error",
        "external_id",
        "provisioned_at",
        "verified_at",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    actions = [_retry]


@admin.register(RoutePlan)
class RoutePlanAdmin(ReadOnlyAdmin):
    """Crews' days in tour order (made by the dispatchers' route service)."""

    list_display = ("crew", "day", "stops", "distance_m", "booking_order_distance_m")
    list_filter = ("crew",)
    list_select_related = ("crew",)
    date_hierarchy = "day"
    readonly_fields = ("crew", "day", "work_order_ids", "distance_m", "booking_order_distance_m")

    @admin.display(description="stops")
    def stops(self, plan: RoutePlan) -> int:
        return len(plan.work_order_ids)
