"""Reusable reads of the field: a technician's day, what a user may see, the dispatcher's
views (stuck and overdue work, crew load, deployment progress, rework rate)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from accounts.permissions import is_dispatcher, is_field_user, works_for_contractor
from accounts.roles import OrganisationKind
from workorders.lifecycle import (
    LIVE_WORK_ORDER_STATUSES,
    OPEN_TASK_STATUSES,
    TaskStatus,
    WorkOrderStatus,
)
from workorders.models import Crew, RoutePlan, Task, WorkOrder

STUCK_AFTER = timedelta(days=3)  # in progress without a change for this long


def tasks_visible_to(user) -> QuerySet[Task]:
    """The tasks a user may see: dispatchers all; technicians their organisation's (a
    contractor's technicians never see the owner's or another contractor's)."""
    tasks = Task.objects.select_related(
        "work_order__address", "crew", "contractor", "work_order__template"
    )
    if is_dispatcher(user):
        return tasks
    if not is_field_user(user):
        return tasks.none()
    if works_for_contractor(user):
        tasks = tasks.filter(contractor=user.organisation)
    else:
        tasks = tasks.filter(contractor__isnull=True)
    # their crews' tasks and those given to no crew yet
    mine = Exists(Crew.members.through.objects.filter(crew_id=OuterRef("crew_id"), user_id=user.pk))
    return tasks.filter(Q(crew__isnull=True) | mine)


def work_orders_visible_to(user) -> QuerySet[WorkOrder]:
    """The work orders with at least one task the user may see."""
    if is_dispatcher(user):
        return WorkOrder.objects.select_related("address", "template")
    visible = tasks_visible_to(user).filter(work_order=OuterRef("pk"))
    return WorkOrder.objects.select_related("address", "template").filter(Exists(visible))


def my_tasks_on(user, day: date) -> list[Task]:
    """A technician's open tasks of work orders planned for `day`, in route order: the
    order of their crew's route plan for that day, else by address as booked."""
    tasks = list(
        tasks_visible_to(user)
        .filter(work_order__scheduled_for=day, status__in=OPEN_TASK_STATUSES)
        .exclude(work_order__status=WorkOrderStatus.CANCELLED)
        .order_by("work_order__scheduled_for", "work_order_id", "position")
    )
    plans = RoutePlan.objects.filter(day=day, crew__members=user)
    rank: dict[int, int] = {}
    for plan in plans:
        for n, work_order_id in enumerate(plan.work_order_ids):
            rank.setdefault(work_order_id, n)
    return sorted(
        tasks, key=lambda t: (rank.get(t.work_order_id, len(rank)), t.work_order_id, t.position)
    )


def waiting_for_acceptance() -> QuerySet[Task]:
    """Contractor work the operator has to accept or send back, oldest first."""
    return (
        Task.objects.filter(status=TaskStatus.AWAITING_ACCEPTANCE)
        .select_related("work_order__address", "contractor", "completed_by", "crew")
        .order_by("completed_at", "pk")
    )


def overdue_work_orders(today: date | None = None) -> QuerySet[WorkOrder]:
    """Live work orders past their due day."""
    today = today or timezone.localdate()
    return WorkOrder.objects.filter(
        status__in=LIVE_WORK_ORDER_STATUSES, due_on__lt=today
    ).select_related("address")


def stuck_work_orders(now=None) -> QuerySet[WorkOrder]:
    """Work orders with a problem reported, or in progress with no change for days."""
    now = now or timezone.now()
    problem = Task.objects.filter(work_order=OuterRef("pk"), status=TaskStatus.PROBLEM)
    return WorkOrder.objects.filter(
        Q(Exists(problem))
        | Q(status=WorkOrderStatus.IN_PROGRESS, status_changed_at__lt=now - STUCK_AFTER)
    ).select_related("address")


def crew_load(day: date | None = None) -> QuerySet[Crew]:
    """Each active crew with its open tasks and their expected minutes (all, and on `day`)."""
    day = day or timezone.localdate()
    open_tasks = Q(tasks__status__in=OPEN_TASK_STATUSES)
    on_day = open_tasks & Q(tasks__work_order__scheduled_for=day)
    return (
        Crew.objects.filter(is_active=True)
        .select_related("organisation", "depot")
        .annotate(
            open_tasks=Count("tasks", filter=open_tasks),
            open_minutes=Sum("tasks__minutes", filter=open_tasks, default=0),
            day_tasks=Count("tasks", filter=on_day),
            day_minutes=Sum("tasks__minutes", filter=on_day, default=0),
        )
        .order_by("name")
    )


def suggest_crews(task: Task, day: date | None = None) -> list[Crew]:
    """Crews that can take a task — of its organisation, with its skill — least loaded
    first (minutes planned that day, then all open minutes)."""
    crews = crew_load(day)
    if task.contractor_id is None:
        crews = crews.filter(organisation__kind=OrganisationKind.OWNER)
    else:
        crews = crews.filter(organisation_id=task.contractor_id)
    if task.skill:
        crews = crews.filter(skills__contains=[task.skill])
    return sorted(crews, key=lambda c: (c.day_minutes, c.open_minutes, c.name))


def rework_rate() -> tuple[int, int]:
    """(tasks sent back at least once, tasks done) over every accepted or waiting task."""
    done = Task.objects.filter(
        status__in=[TaskStatus.ACCEPTED, TaskStatus.AWAITING_ACCEPTANCE, TaskStatus.REWORK]
    )
    counts = done.aggregate(done=Count("pk"), reworked=Count("pk", filter=Q(rework_count__gt=0)))
    return counts["reworked"], counts["done"]


def work_order_counts() -> dict[str, int]:
    """How many work orders are in each status (one query)."""
    rows = WorkOrder.objects.order_by().values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}
