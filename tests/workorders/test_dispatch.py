"""The dispatcher's services: a crew's day ordered into a route with the distance saved
against booking order, auto-assignment by skill and load, and appointments moved with their
work order."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.services import user_create
from areas.services import area_deploy
from common.errors import Conflict, DomainError, InvalidTransition, PermissionDenied
from wholesale.lifecycle import BookingStatus
from wholesale.models import Booking
from wholesale.services import booking_create, installation_slot_create
from workorders.dispatch import (
    booking_move,
    booking_order,
    crew_work_orders_on,
    route_plan_build,
    work_orders_auto_assign,
)
from workorders.lifecycle import WorkOrderStatus
from workorders.models import Crew, RoutePlan, Task
from workorders.routing import order_stops, route_length_m
from workorders.services import tasks_assign, work_order_cancel, work_order_schedule

# Homes along one row of the test town, booked in a zig-zag from one end to the other.
ZIGZAG = [0, 29, 1, 28, 2, 27]


def _slot(area, day, hour, capacity=1):
    tz = timezone.get_current_timezone()
    starts = datetime.combine(day, time(hour, 0), tzinfo=tz)
    return installation_slot_create(
        area=area, starts_at=starts, ends_at=starts + timedelta(hours=1), capacity=capacity
    )


@pytest.fixture
def day():
    return timezone.localdate() + timedelta(days=2)


@pytest.fixture
def booked_day(field_town, day):
    """Six homes in deployment, each booked in its own window of `day` (in zig-zag order)
    and scheduled for that day."""
    homes = [field_town.home(n) for n in ZIGZAG]
    orders = [field_town.order(home) for home in homes]
    area_deploy(area=field_town.area)
    dispatcher = field_town.users["dispatcher"]
    jobs = []
    for hour, (home, order) in enumerate(zip(homes, orders, strict=True), start=8):
        booking_create(order=order, slot=_slot(field_town.area, day, hour))
        job = home.work_orders.get()
        jobs.append(work_order_schedule(work_order=job, day=day, actor=dispatcher))
    return jobs


def _lon_lat(work_order):
    return (work_order.address.location.x, work_order.address.location.y)


def test_route_plan_orders_the_day_and_keeps_the_saving(field_town, booked_day, day):
    crew = field_town.crews["own"]
    depot = (crew.depot.location.x, crew.depot.location.y)

    plan = route_plan_build(crew=crew, day=day, actor=field_town.users["dispatcher"])

    stops = [_lon_lat(job) for job in booked_day]
    tour, distance = order_stops(depot, stops, seeds=[list(range(len(stops)))])
    plan.refresh_from_db()
    assert plan.work_order_ids == [booked_day[i].pk for i in tour]
    assert sorted(plan.work_order_ids) == sorted(job.pk for job in booked_day)
    assert plan.distance_m == round(distance)
    assert plan.booking_order_distance_m == round(route_length_m(depot, stops))
    # the zig-zag booking crosses the row five times; the tour walks it once
    assert plan.booking_order_distance_m - plan.distance_m > 200
    assert RoutePlan.objects.filter(crew=crew, day=day).count() == 1


def test_building_again_replaces_the_plan(field_town, booked_day, day):
    crew, dispatcher = field_town.crews["own"], field_town.users["dispatcher"]
    first = route_plan_build(crew=crew, day=day, actor=dispatcher)
    work_order_cancel(work_order=booked_day[0], actor=dispatcher, reason="customer moved away")

    second = route_plan_build(crew=crew, day=day, actor=dispatcher)

    assert second.pk == first.pk
    assert booked_day[0].pk not in second.work_order_ids
    assert len(second.work_order_ids) == 5
    assert RoutePlan.objects.count() == 1


def test_booking_order_is_by_window_then_unbooked_by_id(field_town, booked_day, day):
    late = field_town.home(10)
    field_town.order(late)  # the area is in deployment: its job comes at once
    unbooked = late.work_orders.get()
    work_order_schedule(work_order=unbooked, day=day, actor=field_town.users["dispatcher"])

    ordered = booking_order(crew_work_orders_on(field_town.crews["own"], day))

    assert [wo.pk for wo in ordered] == [job.pk for job in booked_day] + [unbooked.pk]


def test_a_crew_gets_its_tasks_and_its_sides_unassigned_ones(field_town, booked_day, day):
    dispatcher = field_town.users["dispatcher"]
    other = Crew.objects.create(
        name="Crew B",
        organisation=field_town.owner,
        depot=field_town.crews["own"].depot,
        skills=["ont"],
    )
    taken = booked_day[0]
    own_tasks = list(taken.tasks.filter(contractor__isnull=True))
    tasks_assign(tasks=own_tasks, crew=other, actor=dispatcher)
    elsewhere = booked_day[1]
    work_order_schedule(work_order=elsewhere, day=day + timedelta(days=1), actor=dispatcher)

    mine = {wo.pk for wo in crew_work_orders_on(field_town.crews["own"], day)}
    theirs = {wo.pk for wo in crew_work_orders_on(other, day)}
    diggers = {wo.pk for wo in crew_work_orders_on(field_town.crews["civil"], day)}

    assert mine == {job.pk for job in booked_day[2:]}
    # the own staff's unassigned tasks are on every own crew's day until given to one
    assert theirs == {taken.pk} | {job.pk for job in booked_day[2:]}
    # the contractor's drops are open and unassigned at every job of the day
    assert diggers == {job.pk for job in booked_day if job.pk != elsewhere.pk}


def test_a_crew_without_a_depot_gets_no_route(field_town, booked_day, day):
    crew = field_town.crews["own"]
    crew.depot = None
    crew.save()

    with pytest.raises(DomainError, match="has no depot"):
        route_plan_build(crew=crew, day=day, actor=field_town.users["dispatcher"])

    assert not RoutePlan.objects.exists()


def test_only_dispatchers_build_routes(field_town, booked_day, day):
    with pytest.raises(PermissionDenied):
        route_plan_build(crew=field_town.crews["own"], day=day, actor=field_town.users["tech"])
    assert not RoutePlan.objects.exists()


def test_an_empty_day_has_an_empty_route(field_town, day):
    plan = route_plan_build(
        crew=field_town.crews["own"], day=day, actor=field_town.users["dispatcher"]
    )
    assert (plan.work_order_ids, plan.distance_m, plan.booking_order_distance_m) == ([], 0, 0)


# --- appointments --------------------------------------------------------------------------


def test_moving_a_booking_moves_the_work_order_to_the_new_day(field_town, booked_day, day):
    job = booked_day[0]
    old = Booking.objects.get(order=job.order, status=BookingStatus.BOOKED)
    later = day + timedelta(days=3)
    new_slot = _slot(field_town.area, later, 10, capacity=2)

    moved, work_order = booking_move(
        booking=old, slot=new_slot, actor=field_town.users["dispatcher"]
    )

    old.refresh_from_db()
    old.slot.refresh_from_db()
    new_slot.refresh_from_db()
    assert moved.slot_id == new_slot.pk
    assert moved.status == BookingStatus.BOOKED
    assert old.status == BookingStatus.RESCHEDULED
    assert old.replaced_by_id == moved.pk
    assert (old.slot.booked, new_slot.booked) == (0, 1)
    assert work_order.pk == job.pk
    job.refresh_from_db()
    assert job.scheduled_for == later
    assert job.status == WorkOrderStatus.SCHEDULED


def test_a_booking_of_work_already_begun_does_not_move(field_town, booked_day, day):
    from tests.workorders.test_tasks import GOOD_LIGHT
    from workorders.services import task_complete

    job = booked_day[0]
    ont = job.tasks.get(position=2)
    task_complete(task=ont, actor=field_town.users["tech"], evidence=GOOD_LIGHT)
    booking = Booking.objects.get(order=job.order, status=BookingStatus.BOOKED)
    new_slot = _slot(field_town.area, day + timedelta(days=3), 10)

    with pytest.raises(InvalidTransition, match="can no longer move"):
        booking_move(booking=booking, slot=new_slot, actor=field_town.users["dispatcher"])

    booking.refresh_from_db()
    new_slot.refresh_from_db()
    job.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED
    assert new_slot.booked == 0
    assert job.scheduled_for == day


def test_a_full_window_refuses_the_move_and_nothing_changes(field_town, booked_day, day):
    job = booked_day[0]
    booking = Booking.objects.get(order=job.order, status=BookingStatus.BOOKED)
    full = Booking.objects.get(order=booked_day[1].order, status=BookingStatus.BOOKED).slot

    with pytest.raises(Conflict, match="fully booked"):
        booking_move(booking=booking, slot=full, actor=field_town.users["dispatcher"])

    booking.refresh_from_db()
    job.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED
    assert job.scheduled_for == day
    assert Booking.objects.filter(order=job.order).count() == 1


def test_only_dispatchers_move_bookings(field_town, booked_day, day):
    booking = Booking.objects.get(order=booked_day[0].order)
    planner = user_create(username="plan", organisation=field_town.owner, role=Role.PLANNER)
    with pytest.raises(PermissionDenied):
        booking_move(booking=booking, slot=_slot(field_town.area, day, 17), actor=planner)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED


# --- assignment ----------------------------------------------------------------------------


def test_auto_assign_gives_each_side_to_its_crews_by_skill(field_town, booked_day, day):
    own, civil = field_town.crews["own"], field_town.crews["civil"]
    own.daily_minutes = 10_000
    own.save()
    civil.daily_minutes = 10_000
    civil.save()

    result = work_orders_auto_assign(day=day, actor=field_town.users["dispatcher"])

    tasks = Task.objects.filter(work_order__in=booked_day)
    assert len(result.assigned) == tasks.count() == 18
    assert result.left == []
    assert set(tasks.filter(contractor__isnull=True).values_list("crew_id", flat=True)) == {own.pk}
    assert set(tasks.filter(contractor=field_town.contractor).values_list("crew", flat=True)) == {
        civil.pk
    }


def test_auto_assign_leaves_what_no_crew_has_room_for(field_town, booked_day, day):
    civil = field_town.crews["civil"]
    civil.daily_minutes = 250  # two drops of 120 minutes
    civil.save()

    result = work_orders_auto_assign(day=day, actor=field_town.users["dispatcher"])

    drops = Task.objects.filter(work_order__in=booked_day, contractor=field_town.contractor)
    assert drops.filter(crew=civil).count() == 2
    assert {task.pk for task in result.left} >= set(
        drops.filter(crew__isnull=True).values_list("pk", flat=True)
    )
    assert drops.filter(crew__isnull=True).count() == 4


def test_auto_assign_spreads_the_load_over_fitting_crews(field_town, booked_day, day):
    other = Crew.objects.create(
        name="Crew B", organisation=field_town.owner, skills=["ont"], daily_minutes=420
    )

    work_orders_auto_assign(day=day, actor=field_town.users["dispatcher"])

    own_tasks = Task.objects.filter(work_order__in=booked_day, contractor__isnull=True)
    per_crew = {
        crew: own_tasks.filter(crew=crew).count() for crew in (field_town.crews["own"], other)
    }
    # 6 jobs × (45 + 20) minutes = 390 each way: split, a job's tasks with one crew
    assert per_crew[field_town.crews["own"]] == per_crew[other] == 6
    for job in booked_day:
        assert job.tasks.filter(contractor__isnull=True).values("crew").distinct().count() == 1
