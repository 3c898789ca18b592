"""The technicians' field portal (/field/) through Django's test client: who gets in, what a
technician sees of the day and of a task, evidence refused on the page with nothing changed,
retry-safe sign-offs, JSON answers for the page's script, photos through the storage API."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.services import user_create
from areas.services import area_deploy
from workorders.lifecycle import TaskStatus, WorkOrderStatus
from workorders.models import RoutePlan, Submission, TaskEvent, TaskPhoto
from workorders.services import task_complete, task_photo_add, task_reject, work_order_schedule

GOOD_LIGHT = {"light_level_dbm": "-19.4", "ont_serial": "alcl00112233"}
GOOD_SIGNOFF = {"download_mbps": "940", "upload_mbps": "480", "signed_by": "A. Kunde"}
JSON = {"HTTP_ACCEPT": "application/json"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def day(field_town):
    """Two installs planned for today, one more tomorrow; the owner's crew has a route
    that visits the second home first."""
    homes = [field_town.home(n) for n in range(3)]
    for home in homes:
        field_town.order(home)
    area_deploy(area=field_town.area)
    dispatcher = field_town.users["dispatcher"]
    today = timezone.localdate()
    jobs = [home.work_orders.get() for home in homes]
    for job, when in zip(jobs, (today, today, today + timedelta(days=1)), strict=True):
        work_order_schedule(work_order=job, day=when, actor=dispatcher)
    RoutePlan.objects.create(
        crew=field_town.crews["own"], day=today, work_order_ids=[jobs[1].pk, jobs[0].pk]
    )
    field_town.jobs = jobs
    field_town.today = today
    return field_town


def _tasks(job):
    return list(job.tasks.order_by("position"))


def _signed_in(client, user):
    client.force_login(user)
    return client


def test_my_day_lists_todays_open_tasks_in_route_order(client, day):
    _signed_in(client, day.users["tech"])

    page = client.get("/field/")

    assert page.status_code == 200
    first, second, _ = day.jobs
    assert [t.pk for t in page.context["stops"][0]["tasks"]] == [t.pk for t in _tasks(second)[1:]]
    assert [stop["work_order"].pk for stop in page.context["stops"]] == [second.pk, first.pk]
    assert [stop["number"] for stop in page.context["page_config"]["stops"]] == [1, 2]
    body = page.content.decode()
    assert "Mount the ONT and measure the light" in body
    assert "Speed test and customer sign-off" in body
    assert "Lay the drop" not in body  # the contractor's task
    assert second.address.label in body
    assert "testing · 45 min" in body
    assert "data-queue-count" in body
    assert 'src="/static/vendor/leaflet/leaflet.js"' in body
    assert "unpkg" not in body and "cdn" not in body.lower()


def test_the_day_switcher_shows_tomorrow_and_refuses_a_bad_day(client, day):
    _signed_in(client, day.users["tech"])
    tomorrow = day.today + timedelta(days=1)

    page = client.get(f"/field/?day={tomorrow.isoformat()}")
    bad = client.get("/field/?day=someday")
    no_such_day = client.get("/field/?day=2025-02-30")

    assert [stop["work_order"].pk for stop in page.context["stops"]] == [day.jobs[2].pk]
    assert f'href="?day={day.today.isoformat()}"' in page.content.decode()
    assert bad.status_code == 200
    assert bad.context["day"] == day.today
    assert "&#x27;someday&#x27; is not a day" in bad.content.decode()
    assert no_such_day.status_code == 200
    assert no_such_day.context["day"] == day.today


def test_a_contractor_technician_sees_only_the_contractors_tasks(client, day):
    _signed_in(client, day.users["digger"])

    page = client.get("/field/")

    tasks = [t for stop in page.context["stops"] for t in stop["tasks"]]
    assert sorted(t.pk for t in tasks) == sorted(_tasks(job)[0].pk for job in day.jobs[:2])
    assert {t.contractor_id for t in tasks} == {day.contractor.pk}


def test_a_contractor_technician_gets_404_for_another_organisations_task(client, day):
    drop, ont, _ = _tasks(day.jobs[0])
    _signed_in(client, day.users["digger"])

    assert client.get(f"/field/tasks/{drop.pk}/").status_code == 200
    assert client.get(f"/field/tasks/{ont.pk}/").status_code == 404
    refused = client.post(
        f"/field/tasks/{ont.pk}/complete/", {**GOOD_LIGHT, "client_uid": str(uuid.uuid4())}
    )
    assert refused.status_code == 404
    assert client.get(f"/field/tasks/{ont.pk}/", **JSON).status_code == 404
    ont.refresh_from_db()
    assert ont.status == TaskStatus.PENDING
    assert not Submission.objects.exists()


def test_the_dispatcher_sees_every_task_of_the_day(client, day):
    _signed_in(client, day.users["dispatcher"])

    page = client.get("/field/")
    task_page = client.get(f"/field/tasks/{_tasks(day.jobs[0])[0].pk}/")

    assert page.status_code == task_page.status_code == 200
    assert sum(len(stop["tasks"]) for stop in page.context["stops"]) == 6


@pytest.mark.parametrize("who", ["planner", "isp"])
def test_planners_and_isp_users_are_refused(client, day, planner, who):
    user = planner
    if who == "isp":
        user = user_create(
            username="isp-user",
            organisation=day.offering.isp,
            role=Role.ISP_USER,
            password="x-pass-123",
        )
    _signed_in(client, user)
    ont = _tasks(day.jobs[0])[1]

    assert client.get("/field/").status_code == 403
    assert client.get(f"/field/tasks/{ont.pk}/").status_code == 403
    posted = client.post(
        f"/field/tasks/{ont.pk}/complete/", {**GOOD_LIGHT, "client_uid": str(uuid.uuid4())}, **JSON
    )
    assert posted.status_code == 403
    assert posted.json()["code"] == "permission_denied"
    ont.refresh_from_db()
    assert ont.status == TaskStatus.PENDING


def test_anonymous_visitors_are_sent_to_sign_in(client, day):
    ont = _tasks(day.jobs[0])[1]

    page = client.get("/field/")
    task_page = client.get(f"/field/tasks/{ont.pk}/")
    scripted = client.post(f"/field/tasks/{ont.pk}/complete/", {}, **JSON)

    assert page.status_code == 302
    assert page["Location"] == "/accounts/login/?next=/field/"
    assert task_page["Location"] == f"/accounts/login/?next=/field/tasks/{ont.pk}/"
    assert scripted.status_code == 401
    assert scripted.json()["code"] == "signed_out"


def test_the_task_page_shows_the_evidence_form_of_the_task(client, day):
    _, ont, signoff = _tasks(day.jobs[0])
    _signed_in(client, day.users["tech"])

    light = client.get(f"/field/tasks/{ont.pk}/").content.decode()
    speed = client.get(f"/field/tasks/{signoff.pk}/").content.decode()

    assert 'name="light_level_dbm"' in light and 'name="ont_serial"' in light
    assert "Accepted: -27.00 … -8.00 dBm" in light
    assert 'name="download_mbps"' not in light and "data-signature-pad" not in light
    assert 'name="download_mbps"' in speed and 'name="upload_mbps"' in speed
    assert "at least 100" in speed and "at least 50" in speed
    assert "data-signature-pad" in speed and 'name="signed_by"' in speed
    assert 'name="light_level_dbm"' not in speed
    for body in (light, speed):
        assert body.count('name="client_uid"') == 3  # sign-off, photos, problem
        assert "Report a problem" in body
        assert 'id="task-map"' in body


def test_a_light_level_out_of_range_is_shown_by_the_field_and_changes_nothing(client, day):
    ont = _tasks(day.jobs[0])[1]
    _signed_in(client, day.users["tech"])
    uid = uuid.uuid4()

    page = client.post(
        f"/field/tasks/{ont.pk}/complete/",
        {"light_level_dbm": "-31", "ont_serial": "ALCL1", "client_uid": str(uid)},
    )

    assert page.status_code == 400
    form = page.context["evidence_form"]
    assert form.errors == {
        "light_level_dbm": [
            "a light level of -31 dBm is outside the accepted range -27.00 … -8.00 dBm: it"
            " cannot be signed off as passing (report a problem)"
        ]
    }
    body = page.content.decode()
    assert 'data-error-for="light_level_dbm" >a light level of -31 dBm' in body
    assert 'value="-31"' in body  # what was typed stays in the box
    ont.refresh_from_db()
    assert ont.status == TaskStatus.PENDING
    assert ont.result == {}
    assert not TaskEvent.objects.filter(task=ont, kind="done").exists()
    assert not Submission.objects.filter(pk=uid).exists()


def test_a_sign_off_posted_twice_with_one_id_is_one_sign_off(client, day):
    ont = _tasks(day.jobs[0])[1]
    _signed_in(client, day.users["tech"])
    data = {**GOOD_LIGHT, "client_uid": str(uuid.uuid4())}

    first = client.post(f"/field/tasks/{ont.pk}/complete/", data)
    again = client.post(f"/field/tasks/{ont.pk}/complete/", data)

    assert first.status_code == again.status_code == 302
    assert first["Location"] == f"/field/?day={day.today.isoformat()}"
    ont.refresh_from_db()
    assert ont.status == TaskStatus.ACCEPTED
    assert ont.result == {"light_level_dbm": "-19.40", "ont_serial": "ALCL00112233"}
    assert TaskEvent.objects.filter(task=ont, kind="done").count() == 1
    assert Submission.objects.filter(task=ont).count() == 1


def test_a_script_gets_the_new_status_as_json_and_again_the_same(client, day):
    _, _, signoff = _tasks(day.jobs[0])
    _signed_in(client, day.users["tech"])
    data = {
        **GOOD_SIGNOFF,
        "signature": "data:image/png;base64,AAAA",
        "client_uid": str(uuid.uuid4()),
    }

    answers = [client.post(f"/field/tasks/{signoff.pk}/complete/", data, **JSON) for _ in "ab"]

    expected = {
        "ok": True,
        "task": signoff.pk,
        "status": "accepted",
        "status_display": "done and accepted",
        "next": f"/field/?day={day.today.isoformat()}",
    }
    assert [(a.status_code, a.json()) for a in answers] == [(200, expected), (200, expected)]
    signoff.refresh_from_db()
    assert signoff.result["signature"] == "data:image/png;base64,AAAA"
    assert signoff.result["signed_by"] == "A. Kunde"
    assert TaskEvent.objects.filter(task=signoff, kind="done").count() == 1
    assert signoff.work_order.status == WorkOrderStatus.IN_PROGRESS


def test_a_refusal_is_json_with_its_field_for_a_script(client, day):
    _, _, signoff = _tasks(day.jobs[0])
    _signed_in(client, day.users["tech"])

    slow = client.post(
        f"/field/tasks/{signoff.pk}/complete/",
        {**GOOD_SIGNOFF, "download_mbps": "80", "client_uid": str(uuid.uuid4())},
        **JSON,
    )
    no_id = client.post(f"/field/tasks/{signoff.pk}/complete/", GOOD_SIGNOFF, **JSON)

    assert slow.status_code == 400
    assert slow.json() == {
        "ok": False,
        "code": "out_of_range",
        "detail": "a download speed of 80 Mbit/s is below the required 100 Mbit/s",
        "field": "download_mbps",
    }
    assert no_id.status_code == 400
    assert no_id.json()["field"] == "client_uid"
    signoff.refresh_from_db()
    assert signoff.status == TaskStatus.PENDING
    assert not Submission.objects.exists()


def test_signing_off_a_done_task_again_with_a_new_id_is_refused_with_409(client, day):
    ont = _tasks(day.jobs[0])[1]
    _signed_in(client, day.users["tech"])
    task_complete(task=ont, actor=day.users["tech"], evidence=GOOD_LIGHT, client_uid=uuid.uuid4())

    again = client.post(
        f"/field/tasks/{ont.pk}/complete/", {**GOOD_LIGHT, "client_uid": str(uuid.uuid4())}, **JSON
    )

    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert TaskEvent.objects.filter(task=ont, kind="done").count() == 1


def test_a_problem_report_is_retry_safe_and_needs_a_reason(client, day):
    ont = _tasks(day.jobs[0])[1]
    _signed_in(client, day.users["tech"])
    uid = str(uuid.uuid4())

    empty = client.post(f"/field/tasks/{ont.pk}/problem/", {"reason": " ", "client_uid": uid})
    assert empty.status_code == 400
    assert empty.context["problem_form"].errors == {"reason": ["say what the problem is"]}
    ont.refresh_from_db()
    assert ont.status == TaskStatus.PENDING

    data = {"reason": "Nobody home", "client_uid": uid}
    answers = [client.post(f"/field/tasks/{ont.pk}/problem/", data, **JSON) for _ in "ab"]

    assert [a.json()["status"] for a in answers] == ["problem", "problem"]
    ont.refresh_from_db()
    assert ont.problem == "Nobody home"
    assert TaskEvent.objects.filter(task=ont, kind="problem").count() == 1
    page = client.get(f"/field/tasks/{ont.pk}/").content.decode()
    assert "Problem reported" in page and "Nobody home" in page
    assert 'data-field-form="complete"' not in page


def test_a_task_sent_back_shows_the_reason_and_its_history(client, day):
    drop = _tasks(day.jobs[0])[0]
    digger, dispatcher = day.users["digger"], day.users["dispatcher"]
    task_photo_add(task=drop, actor=digger, image=_png("d.png"), client_uid=uuid.uuid4())
    task_complete(task=drop, actor=digger, evidence={}, client_uid=uuid.uuid4())
    task_reject(task=drop, actor=dispatcher, reason="The drop is not buried deep enough")
    _signed_in(client, digger)

    page = client.get(f"/field/tasks/{drop.pk}/")

    body = page.content.decode()
    assert page.context["rejection"].reason == "The drop is not buried deep enough"
    assert "Sent back for rework" in body and "data-rejection" in body
    assert [e.kind for e in page.context["events"]] == ["done", "rejected"]
    assert 'data-event="rejected"' in body
    assert 'data-field-form="complete"' in body  # it can be signed off again


def _png(name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, PNG, content_type="image/png")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_photos_are_stored_through_the_storage_api_once_per_id(client, day, media):
    drop = _tasks(day.jobs[0])[0]
    _signed_in(client, day.users["digger"])
    uid = str(uuid.uuid4())

    answers = [
        client.post(
            f"/field/tasks/{drop.pk}/photos/",
            {"photo": _png("drop.png"), "client_uid": uid},
            **JSON,
        )
        for _ in "ab"
    ]

    photo = TaskPhoto.objects.get()
    assert [a.json()["photos"] for a in answers] == [[photo.pk], [photo.pk]]
    assert answers[0].json()["photo_urls"] == [f"/field/photos/{photo.pk}/"]
    assert str(photo.client_uid) == uid
    assert photo.uploaded_by == day.users["digger"]
    assert photo.image.name.startswith("field/photos/")
    stored = media / photo.image.name
    assert stored.read_bytes() == PNG
    served = client.get(f"/field/photos/{photo.pk}/")
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == PNG
    _signed_in(client, day.users["tech"])
    assert client.get(f"/field/photos/{photo.pk}/").status_code == 404  # not the owner's task


def test_several_photos_in_one_plain_post_are_stored_once_each(client, day, media):
    drop = _tasks(day.jobs[0])[0]
    _signed_in(client, day.users["digger"])
    uid = str(uuid.uuid4())

    for _ in "ab":
        page = client.post(
            f"/field/tasks/{drop.pk}/photos/",
            {"photo": [_png("a.png"), _png("b.png")], "client_uid": uid},
        )
        assert page.status_code == 302

    assert drop.photos.count() == 2
    assert sorted(p.name for p in media.joinpath("field", "photos").rglob("*.png")) == [
        "a.png",
        "b.png",
    ]


def test_a_file_that_is_no_image_is_refused_by_the_field(client, day, media):
    from django.core.files.uploadedfile import SimpleUploadedFile

    drop = _tasks(day.jobs[0])[0]
    _signed_in(client, day.users["digger"])

    page = client.post(
        f"/field/tasks/{drop.pk}/photos/",
        {
            "photo": SimpleUploadedFile("x.txt", b"hello", content_type="text/plain"),
            "client_uid": str(uuid.uuid4()),
        },
    )

    assert page.status_code == 400
    assert page.context["photo_error"] == "a photo must be an image"
    assert not TaskPhoto.objects.exists()
    assert not media.exists() or not any(media.rglob("*.txt"))


def test_my_day_takes_a_bounded_number_of_queries(
    client, field_town, django_assert_max_num_queries
):
    homes = [field_town.home(n) for n in range(8)]
    for home in homes:
        field_town.order(home)
    area_deploy(area=field_town.area)
    today = timezone.localdate()
    for home in homes:
        work_order_schedule(
            work_order=home.work_orders.get(), day=today, actor=field_town.users["dispatcher"]
        )
    _signed_in(client, field_town.users["tech"])
    client.get("/field/")  # the session is cached from now on

    with django_assert_max_num_queries(4):
        page = client.get("/field/")

    assert len(page.context["stops"]) == 8
    assert sum(len(stop["tasks"]) for stop in page.context["stops"]) == 16


def test_a_signature_that_is_no_picture_is_refused_by_the_pad(client, day):
    _, _, signoff = _tasks(day.jobs[0])
    _signed_in(client, day.users["tech"])

    page = client.post(
        f"/field/tasks/{signoff.pk}/complete/",
        {**GOOD_SIGNOFF, "signature": "scribble", "client_uid": str(uuid.uuid4())},
    )

    assert page.status_code == 400
    assert page.context["evidence_form"].errors == {
        "signature": ["the signature could not be kept: clear it and sign again"]
    }
    signoff.refresh_from_db()
    assert signoff.status == TaskStatus.PENDING
    assert not TaskEvent.objects.filter(task=signoff, kind="done").exists()
