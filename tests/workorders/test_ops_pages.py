"""The dispatchers' pages at /field/ops/: who may open them, what they show, bounded
queries, and the actions behind their forms (accept, send back, assign, plan, retry, move)."""

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.services import user_create
from areas.services import area_deploy
from tests.workorders.test_dispatch import _slot
from wholesale.lifecycle import BookingStatus
from wholesale.models import Booking
from wholesale.services import booking_create
from workorders.lifecycle import ProvisioningStatus, TaskStatus, WorkOrderStatus
from workorders.models import ProvisioningJob, RoutePlan, Task, TaskEvent, WorkOrder
from workorders.services import (
    provisioning_record,
    task_complete,
    task_photo_add,
    task_report_problem,
    tasks_assign,
    work_order_schedule,
)

OVERVIEW = "/field/ops/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dispatcher_client(field_town):
    return _client(field_town.users["dispatcher"])


@pytest.fixture
def day():
    return timezone.localdate() + timedelta(days=2)


def _deploy(field_town, homes: range):
    for n in homes:
        field_town.order(field_town.home(n))
    area_deploy(area=field_town.area)
    return list(field_town.area.addresses.order_by("pk").values_list("work_orders", flat=True))


@pytest.fixture
def jobs(field_town, day):
    ids = _deploy(field_town, range(3))
    dispatcher = field_town.users["dispatcher"]
    for job in field_town.homes[0].work_orders.all():
        work_order_schedule(work_order=job, day=day, actor=dispatcher)
    return ids


def _drop_done(field_town, home_index=0) -> Task:
    """The contractor's drop at a home, done and waiting for the operator."""
    drop = Task.objects.get(work_order__address=field_town.homes[home_index], position=1)
    digger = field_town.users["digger"]
    task_photo_add(
        task=drop,
        actor=digger,
        image=ContentFile(b"\x89PNG", name="drop.png"),
        client_uid=uuid.uuid4(),
        content_type="image/png",
    )
    return task_complete(task=drop, actor=digger, evidence={"notes": "buried at 60 cm"})


# --- who may come in ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["tech", "digger", "planner"])
def test_the_pages_are_for_dispatchers_only(field_town, jobs, day, who):
    user = field_town.users.get(who) or user_create(
        username="planner", organisation=field_town.owner, role=Role.PLANNER
    )
    client = _client(user)
    crew = field_town.crews["own"]
    pages = [
        OVERVIEW,
        reverse("ops:work_order", args=[jobs[0]]),
        reverse("ops:route", args=[crew.pk, day]),
        reverse("ops:bookings"),
    ]
    for url in pages:
        assert client.get(url).status_code == 403, url
    drop = Task.objects.get(work_order_id=jobs[0], position=1)
    assert client.post(reverse("ops:task_accept", args=[drop.pk])).status_code == 403
    assert not RoutePlan.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(field_town, jobs):
    response = Client().get(OVERVIEW)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/field/ops/")


# --- the overview ------------------------------------------------------------------------------


def test_the_overview_shows_map_list_queues_load_and_progress(
    field_town, jobs, dispatcher_client, day
):
    drop = _drop_done(field_town)  # job 0 is in progress
    ont = Task.objects.get(work_order_id=jobs[1], position=2)
    task_report_problem(task=ont, actor=field_town.users["tech"], reason="no access to cellar")
    tasks_assign(
        tasks=list(Task.objects.filter(work_order_id=jobs[0], contractor__isnull=True)),
        crew=field_town.crews["own"],
        actor=field_town.users["dispatcher"],
    )

    response = dispatcher_client.get(OVERVIEW, {"day": day.isoformat()})

    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/vendor/leaflet/leaflet.js">' in html
    assert "/static/oanm/ops.js" in html
    config = response.context["map_config"]
    assert sorted(marker["id"] for marker in config["markers"]) == sorted(jobs)
    assert {marker["status"] for marker in config["markers"]} == {"in_progress", "open"}
    assert (
        [wo.pk for wo in response.context["page"].object_list]
        == [
            jobs[0],  # scheduled for the day first, then the rest by id
            *sorted(jobs[1:]),
        ]
    )
    assert "no access to cellar" in html
    assert [wo.pk for wo in response.context["stuck"]] == [jobs[1]]
    assert [task.pk for task in response.context["acceptance"]] == [drop.pk]
    load = {crew.name: crew for crew in response.context["crews"]}
    assert load["Crew A"].day_minutes == 65  # the ONT (45) and the sign-off (20) of job 1
    assert load["Crew A"].percent == round(100 * 65 / 420, 1)
    (row,) = response.context["progress"]
    assert (row["homes_passed"], row["connected"], row["percent"]) == (3, 0, 0.0)
    assert {wo["status"]: wo["n"] for wo in row["work_orders"]} == {"open": 2, "in_progress": 1}
    assert response.context["rework"] == {"reworked": 0, "done": 1, "percent": 0.0}


def test_the_overview_filters_by_status_area_and_crew(field_town, jobs, dispatcher_client):
    scheduled = dispatcher_client.get(OVERVIEW, {"status": "scheduled"})
    by_area = dispatcher_client.get(OVERVIEW, {"area": field_town.area.pk})
    by_crew = dispatcher_client.get(OVERVIEW, {"crew": field_town.crews["own"].pk})
    bad = dispatcher_client.get(OVERVIEW, {"status": "nonsense", "area": "x"})

    assert [wo.pk for wo in scheduled.context["page"].object_list] == [jobs[0]]
    assert len(by_area.context["page"].object_list) == 3
    assert len(by_crew.context["page"].object_list) == 0
    assert bad.status_code == 200
    assert "Select a valid choice" in bad.content.decode()


def test_the_overview_makes_the_same_queries_for_few_or_many_work_orders(
    field_town, dispatcher_client
):
    _deploy(field_town, range(3))
    _drop_done(field_town)
    with CaptureQueriesContext(connection) as few:
        assert dispatcher_client.get(OVERVIEW).status_code == 200

    for n in range(3, 40):
        field_town.order(field_town.home(n))
    _drop_done(field_town, home_index=5)
    with CaptureQueriesContext(connection) as many:
        response = dispatcher_client.get(OVERVIEW)

    assert len(response.context["map_config"]["markers"]) == 40
    assert len(response.context["page"].object_list) == 25
    assert len(many) == len(few)
    assert len(many) <= 25


def test_provisioning_failures_show_with_a_retry(field_town, jobs, dispatcher_client):
    job = ProvisioningJob.objects.create(
        work_order_id=jobs[0],
        address=field_town.homes[0],
        ont_serial="ALCL00112233",
        speed_profile="spree-500",
    )
    provisioning_record(job=job, status=ProvisioningStatus.DEAD, error="OLT said: port busy")

    overview = dispatcher_client.get(OVERVIEW).content.decode()
    page = dispatcher_client.get(reverse("ops:work_order", args=[jobs[0]])).content.decode()
    response = dispatcher_client.post(
        reverse("ops:provisioning_retry", args=[job.pk]), {"next": OVERVIEW}
    )

    assert "OLT said: port busy" in overview and "OLT said: port busy" in page
    assert reverse("ops:provisioning_retry", args=[job.pk]) in overview
    assert reverse("ops:provisioning_retry", args=[job.pk]) in page
    assert response.status_code == 302 and response["Location"] == OVERVIEW
    job.refresh_from_db()
    assert job.status == ProvisioningStatus.PENDING


# --- acceptance ------------------------------------------------------------------------------


def test_accept_from_the_page(field_town, jobs, dispatcher_client):
    drop = _drop_done(field_town)

    response = dispatcher_client.post(
        reverse("ops:task_accept", args=[drop.pk]), {"next": OVERVIEW}
    )

    assert response.status_code == 302 and response["Location"] == OVERVIEW
    drop.refresh_from_db()
    assert drop.status == TaskStatus.ACCEPTED
    assert drop.accepted_by == field_town.users["dispatcher"]
    assert "accepted" in dispatcher_client.get(OVERVIEW).content.decode()


def test_send_back_from_the_page_needs_a_reason(field_town, jobs, dispatcher_client):
    drop = _drop_done(field_town)
    url = reverse("ops:task_reject", args=[drop.pk])

    refused = dispatcher_client.post(url, {"reason": "  ", "next": OVERVIEW}, follow=True)
    drop.refresh_from_db()
    assert drop.status == TaskStatus.AWAITING_ACCEPTANCE
    assert "Say why the work is sent back. Nothing changed." in refused.content.decode()

    dispatcher_client.post(url, {"reason": "drop too shallow", "next": OVERVIEW})
    drop.refresh_from_db()
    assert drop.status == TaskStatus.REWORK
    assert drop.rework_count == 1
    assert TaskEvent.objects.get(task=drop, kind="rejected").reason == "drop too shallow"


def test_forms_without_the_csrf_token_are_refused(field_town, jobs):
    drop = _drop_done(field_town)
    client = Client(enforce_csrf_checks=True)
    client.force_login(field_town.users["dispatcher"])

    response = client.post(reverse("ops:task_accept", args=[drop.pk]))

    assert response.status_code == 403
    drop.refresh_from_db()
    assert drop.status == TaskStatus.AWAITING_ACCEPTANCE


# --- a work order ------------------------------------------------------------------------------


def test_the_work_order_page_offers_suggested_crews_first(field_town, jobs, dispatcher_client):
    url = reverse("ops:work_order", args=[jobs[0]])
    response = dispatcher_client.get(url)

    assert response.status_code == 200
    drop, ont, _ = response.context["tasks"]
    assert [(o["crew"].name, o["suggested"]) for o in ont.crew_options] == [
        ("Crew A", True),
        ("Tiefbau 1", False),
    ]
    assert [(o["crew"].name, o["suggested"]) for o in drop.crew_options] == [
        ("Tiefbau 1", True),
        ("Crew A", False),
    ]
    assert ont.crew_options[1]["note"] == "another organisation"


def test_assign_plan_transfer_and_clear_from_the_work_order_page(
    field_town, jobs, dispatcher_client, day
):
    page = reverse("ops:work_order", args=[jobs[1]])
    ont = Task.objects.get(work_order_id=jobs[1], position=2)
    signoff = Task.objects.get(work_order_id=jobs[1], position=3)
    crew = field_town.crews["own"]

    dispatcher_client.post(reverse("ops:task_assign", args=[ont.pk]), {"crew": crew.pk})
    dispatcher_client.post(reverse("ops:schedule", args=[jobs[1]]), {"day": day.isoformat()})
    dispatcher_client.post(
        reverse("ops:task_transfer", args=[signoff.pk]),
        {"organisation": field_town.contractor.pk, "reason": "they are there anyway"},
    )
    task_report_problem(task=ont, actor=field_town.users["tech"], reason="no power")
    response = dispatcher_client.post(
        reverse("ops:task_clear", args=[ont.pk]), {"reason": "caretaker called"}
    )

    assert response.status_code == 302 and response["Location"] == page
    ont.refresh_from_db()
    signoff.refresh_from_db()
    assert ont.crew == crew and ont.status == TaskStatus.PENDING
    assert signoff.contractor == field_town.contractor and signoff.needs_acceptance
    job = ont.work_order
    job.refresh_from_db()
    assert (job.status, job.scheduled_for) == (WorkOrderStatus.SCHEDULED, day)


def test_refusals_come_back_as_messages(field_town, jobs, dispatcher_client):
    job_id = jobs[1]
    yesterday = timezone.localdate() - timedelta(days=1)
    drop = Task.objects.get(work_order_id=job_id, position=1)

    planned = dispatcher_client.post(
        reverse("ops:schedule", args=[job_id]), {"day": yesterday.isoformat()}, follow=True
    )
    wrong_crew = dispatcher_client.post(
        reverse("ops:task_assign", args=[drop.pk]),
        {"crew": field_town.crews["own"].pk},
        follow=True,
    )
    no_day = dispatcher_client.post(
        reverse("ops:schedule", args=[job_id]), {"day": "soon"}, follow=True
    )

    assert f"{yesterday} is in the past. Nothing changed." in planned.content.decode()
    assert "belongs to another organisation" in wrong_crew.content.decode()
    assert "Enter a valid date" in no_day.content.decode()
    drop.refresh_from_db()
    assert drop.crew is None
    assert Task.objects.get(pk=drop.pk).work_order.scheduled_for is None


# --- routes and bookings -----------------------------------------------------------------------


def test_the_route_page_builds_the_plan_and_shows_the_saving(
    field_town, jobs, dispatcher_client, day
):
    dispatcher = field_town.users["dispatcher"]
    for job in WorkOrder.objects.filter(pk__in=jobs[1:]):
        work_order_schedule(work_order=job, day=day, actor=dispatcher)
    crew = field_town.crews["own"]

    response = dispatcher_client.get(reverse("ops:route", args=[crew.pk, day]))

    assert response.status_code == 200
    plan = RoutePlan.objects.get(crew=crew, day=day)
    assert sorted(plan.work_order_ids) == sorted(jobs)
    assert [stop["work_order"].pk for stop in response.context["stops"]] == plan.work_order_ids
    config = response.context["map_config"]
    assert [stop["n"] for stop in config["stops"]] == [1, 2, 3]
    assert config["depot"]["name"] == "Depot Wedding"
    assert response.context["saving_m"] == plan.booking_order_distance_m - plan.distance_m
    html = response.content.decode()
    assert f'data-figure="distance">{plan.distance_m / 1000:.1f} km<' in html
    assert f'data-figure="saving">{response.context["saving_m"] / 1000:.1f} km<' in html
    assert f"{plan.booking_order_distance_m:,} m" in html

    refreshed = dispatcher_client.post(reverse("ops:route_refresh", args=[crew.pk, day]))
    assert refreshed.status_code == 302
    assert RoutePlan.objects.count() == 1


def test_a_route_day_that_does_not_exist_is_not_found(field_town, dispatcher_client):
    crew = field_town.crews["own"]
    assert dispatcher_client.get(f"/field/ops/routes/{crew.pk}/2025-02-30/").status_code == 404


def test_the_bookings_page_moves_an_appointment_and_its_work_order(
    field_town, dispatcher_client, day
):
    home = field_town.home(0)
    order = field_town.order(home)
    area_deploy(area=field_town.area)
    booking = booking_create(order=order, slot=_slot(field_town.area, day, 9))
    later = day + timedelta(days=2)
    target = _slot(field_town.area, later, 14)
    url = reverse("ops:bookings")

    page = dispatcher_client.get(url, {"day": day.isoformat(), "area": field_town.area.pk})
    response = dispatcher_client.post(
        reverse("ops:booking_move", args=[booking.pk]),
        {"slot": target.pk, "next": f"{url}?day={day.isoformat()}"},
        follow=True,
    )

    assert [b.pk for b in page.context["bookings"]] == [booking.pk]
    assert [s.pk for s in page.context["bookings"][0].windows] == [target.pk]
    assert response.status_code == 200
    assert "The appointment is moved to" in response.content.decode()
    job = home.work_orders.get()
    assert job.scheduled_for == later
    assert Booking.objects.get(order=order, status=BookingStatus.BOOKED).slot == target


def test_the_bookings_page_makes_the_same_queries_for_few_or_many(
    field_town, dispatcher_client, day
):
    homes = [field_town.home(n) for n in range(4)]
    orders = [field_town.order(home) for home in homes]
    area_deploy(area=field_town.area)
    _slot(field_town.area, day + timedelta(days=1), 9, capacity=5)
    query = {"day": day.isoformat()}
    booking_create(order=orders[0], slot=_slot(field_town.area, day, 8))
    with CaptureQueriesContext(connection) as few:
        assert dispatcher_client.get(reverse("ops:bookings"), query).status_code == 200

    for hour, order in enumerate(orders[1:], start=9):
        booking_create(order=order, slot=_slot(field_town.area, day, hour))
    with CaptureQueriesContext(connection) as many:
        response = dispatcher_client.get(reverse("ops:bookings"), query)

    assert len(response.context["bookings"]) == 4
    assert all(booking.work_order is not None for booking in response.context["bookings"])
    assert len(many) == len(few)
