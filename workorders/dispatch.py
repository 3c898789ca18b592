"""The dispatcher's writes: a crew's day ordered into a route, open tasks given to the least
loaded crews that fit, and customers' appointments moved to another window (the work order
follows to the new day).

Every write goes through a service of this app or of wholesale; only dispatchers may call
them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import User
from accounts.permissions import is_dispatcher
from accounts.roles import OrganisationKind
from common.errors import DomainError, InvalidTransition, PermissionDenied
from wholesale.lifecycle import BookingStatus
from wholesale.models import Booking, InstallationSlot
from wholesale.services import booking_reschedule
from workorders.lifecycle import OPEN_TASK_STATUSES, TaskStatus, WorkOrderStatus
from workorders.models import Crew, RoutePlan, Task, WorkOrder
from workorders.routing import order_stops, route_length_m
from workorders.selectors import suggest_crews
from workorders.services import tasks_assign, work_order_schedule

# Work orders whose day may still move with their appointment.
MOVABLE = (WorkOrderStatus.OPEN, WorkOrderStatus.SCHEDULED)
NOT_BOOKED = datetime.max.replace(tzinfo=timezone.get_fixed_timezone(0))


def _require_dispatcher(user) -> None:
    if not is_dispatcher(user):
        raise PermissionDenied("only the owner's dispatchers may do this")


# --- routes ----------------------------------------------------------------------------------


def crew_work_orders_on(crew: Crew, day: date) -> list[WorkOrder]:
    """The work orders a crew goes to on `day`: those with a task of the crew, and those with
    open tasks of the crew's side (the owner's own staff, or the crew's contractor) that no
    crew has yet; by id, with their addresses."""
    contractor_id = (
        crew.organisation_id if crew.organisation.kind == OrganisationKind.CONTRACTOR else None
    )
    its_tasks = Task.objects.filter(work_order=OuterRef("pk"), crew=crew).exclude(
        status=TaskStatus.CANCELLED
    )
    unassigned = Task.objects.filter(
        work_order=OuterRef("pk"),
        crew__isnull=True,
        status__in=OPEN_TASK_STATUSES,
        contractor_id=contractor_id,
    )
    return list(
        WorkOrder.objects.filter(scheduled_for=day)
        .exclude(status=WorkOrderStatus.CANCELLED)
        .filter(Q(Exists(its_tasks)) | Q(Exists(unassigned)))
        .select_related("address")
        .order_by("pk")
    )


def booking_starts(work_orders: list[WorkOrder]) -> dict[int, datetime]:
    """When each work order's customer booked the installers to come: the start of the live
    booking's window of the work order's order (one query)."""
    order_ids = {wo.order_id for wo in work_orders if wo.order_id}
    starts = dict(
        Booking.objects.filter(order_id__in=order_ids, status=BookingStatus.BOOKED).values_list(
            "order_id", "slot__starts_at"
        )
    )
    return {wo.pk: starts[wo.order_id] for wo in work_orders if wo.order_id in starts}


def booking_order(work_orders: list[WorkOrder]) -> list[WorkOrder]:
    """The day as booked: by booking window start, the unbooked after them, then by id."""
    starts = booking_starts(work_orders)
    return sorted(work_orders, key=lambda wo: (starts.get(wo.pk, NOT_BOOKED), wo.pk))


def _lon_lat(point) -> tuple[float, float]:
    return (point.x, point.y)


@transaction.atomic
def route_plan_build(*, crew: Crew, day: date, actor: User | None) -> RoutePlan:
    """Order a crew's day into the shortest closed tour from its depot we can find, and keep
    it with its length and the length of the same day in booking order."""
    _require_dispatcher(actor)
    crew = Crew.objects.select_related("organisation", "depot").get(pk=crew.pk)
    if crew.depot is None:
        raise DomainError(f"{crew} has no depot to start the day from: give it one", field="crew")
    booked = booking_order(crew_work_orders_on(crew, day))
    depot = _lon_lat(crew.depot.location)
    stops = [_lon_lat(wo.address.location) for wo in booked]
    tour, distance = order_stops(depot, stops, seeds=[list(range(len(stops)))])
    plan, _ = RoutePlan.objects.update_or_create(
        crew=crew,
        day=day,
        defaults={
            "work_order_ids": [booked[i].pk for i in tour],
            "distance_m": round(distance),
            "booking_order_distance_m": round(route_length_m(depot, stops)),
        },
    )
    return plan


def route_plan_is_current(plan: RoutePlan | None, crew: Crew, day: date) -> bool:
    """The stored plan still covers exactly the crew's work orders of the day."""
    if plan is None:
        return False
    current = {wo.pk for wo in crew_work_orders_on(crew, day)}
    return current == set(plan.work_order_ids)


# --- assignment ------------------------------------------------------------------------------


@dataclass
class AutoAssignment:
    """What auto-assignment did: tasks given to crews, and tasks no crew could take."""

    assigned: list[tuple[Task, Crew]] = field(default_factory=list)
    left: list[Task] = field(default_factory=list)


@transaction.atomic
def work_orders_auto_assign(*, day: date, actor: User | None) -> AutoAssignment:
    """Give every open task without a crew, of the work orders planned for `day`, to the
    least loaded crew that fits it (its side and skill) and still has room that day; a work
    order's tasks stay with one crew where it fits."""
    _require_dispatcher(actor)
    tasks = list(
        Task.objects.filter(
            work_order__scheduled_for=day, crew__isnull=True, status__in=OPEN_TASK_STATUSES
        )
        .exclude(work_order__status=WorkOrderStatus.CANCELLED)
        .select_related("work_order")
        .order_by("work_order_id", "position")
    )
    result = AutoAssignment()
    chosen: dict[int, int] = {}  # work order id → crew id of its earlier tasks
    for task in tasks:
        # read afresh for each task: the load counts what was given out just before
        crews = suggest_crews(task, day)

        def room(crew: Crew, task=task) -> int:
            return crew.daily_minutes - crew.day_minutes - task.minutes

        fitting = [crew for crew in crews if room(crew) >= 0]
        if not fitting:
            result.left.append(task)
            continue
        same = [crew for crew in fitting if crew.pk == chosen.get(task.work_order_id)]
        crew = same[0] if same else min(fitting, key=lambda c: (-room(c), c.name))
        tasks_assign(tasks=[task], crew=crew, actor=actor)
        chosen[task.work_order_id] = crew.pk
        result.assigned.append((task, crew))
    return result


def crews_for_task(task: Task, day: date | None = None) -> list[Crew]:
    """The crews that can take a task, least loaded first (what the assign form offers)."""
    return suggest_crews(task, day or task.work_order.scheduled_for or timezone.localdate())


# --- appointments ----------------------------------------------------------------------------


def live_work_order_of(booking: Booking) -> WorkOrder | None:
    """The live installation job at the booked order's address."""
    return (
        WorkOrder.objects.filter(address_id=booking.order.address_id)
        .exclude(status__in=[WorkOrderStatus.CANCELLED, WorkOrderStatus.ACCEPTED])
        .first()
    )


@transaction.atomic
def booking_move(
    *, booking: Booking, slot: InstallationSlot, actor: User | None
) -> tuple[Booking, WorkOrder | None]:
    """The dispatcher moves a customer's appointment to another window; the work order at
    the address is put on the new window's day. Refused (nothing changes) when its work has
    begun already."""
    _require_dispatcher(actor)
    booking = Booking.objects.select_related("order").get(pk=booking.pk)
    work_order = live_work_order_of(booking)
    if work_order is not None and work_order.status not in MOVABLE:
        raise InvalidTransition(
            f"{work_order.reference} is {work_order.get_status_display()}: its appointment"
            " can no longer move"
        )
    new = booking_reschedule(booking=booking, slot=slot)
    if work_order is not None:
        day = timezone.localdate(new.slot.starts_at)
        work_order = work_order_schedule(work_order=work_order, day=day, actor=actor)
    return new, work_order
