"""The field admin: templates edited with their tasks, crews and depots as plain rows; work
orders and tasks read-only, moved only by actions that call the services (cancel and send
back ask for a reason first); installation records never deleted; provisioning retried
through its service. Through Django's test client, signed in as the operator admin."""

import uuid

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from areas.services import area_deploy
from common.models import DomainEvent
from gis_core.lifecycle import AddressStatus
from workorders.events import PROVISIONING_REQUESTED
from workorders.lifecycle import ProvisioningStatus, TaskStatus, WorkOrderStatus
from workorders.models import (
    InstallationRecord,
    ProvisioningJob,
    RoutePlan,
    Task,
    TaskTemplate,
    WorkOrder,
)
from workorders.services import (
    provisioning_record,
    task_accept,
    task_complete,
    task_photo_add,
)

WORK_ORDERS = "/admin/workorders/workorder/"
TASKS = "/admin/workorders/task/"
CHANGELISTS = [
    "/admin/workorders/worktemplate/",
    "/admin/workorders/crew/",
    "/admin/workorders/depot/",
    WORK_ORDERS,
    TASKS,
    "/admin/workorders/installationrecord/",
    "/admin/workorders/provisioningjob/",
    "/admin/workorders/routeplan/",
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def _deploy(field_town, count: int) -> list[WorkOrder]:
    homes = [field_town.home(n) for n in range(count)]
    for home in homes:
        field_town.order(home)
    area_deploy(area=field_town.area)
    return list(WorkOrder.objects.filter(address__in=homes).order_by("pk"))


@pytest.fixture
def jobs(field_town):
    return _deploy(field_town, 3)


def _photo(task: Task, user) -> None:
    task_photo_add(
        task=task,
        actor=user,
        image=ContentFile(b"\x89PNG demo", name="drop.png"),
        client_uid=uuid.uuid4(),
        content_type="image/png",
    )


def _drop_done(field_town, work_order: WorkOrder) -> Task:
    """The contractor's drop at the work order's home, done and waiting for acceptance."""
    drop = work_order.tasks.get(position=1)
    _photo(drop, field_town.users["digger"])
    return task_complete(task=drop, actor=field_town.users["digger"], evidence={})


def _finished(field_town, work_order: WorkOrder) -> WorkOrder:
    """Every task of the work order done and accepted: it is complete, with its record."""
    drop = _drop_done(field_town, work_order)
    _, ont, sign_off = work_order.tasks.order_by("position")
    tech = field_town.users["tech"]
    task_complete(
        task=ont, actor=tech, evidence={"light_level_dbm": "-19.5", "ont_serial": "ALCL0A1B2C3D"}
    )
    task_complete(
        task=sign_off,
        actor=tech,
        evidence={"download_mbps": "940", "upload_mbps": "480", "signed_by": "A. Kunde"},
    )
    task_accept(task=drop, actor=field_town.users["dispatcher"])
    work_order.refresh_from_db()
    return work_order


def _action(client, path: str, action: str, *pks: int, **extra):
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], **extra}
    return client.post(path, data, follow=True)


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- the lists ---------------------------------------------------------------------------------


def test_every_list_renders_with_the_same_queries_for_few_or_many_rows(staff, field_town):
    few = _deploy(field_town, 2)
    _finished(field_town, few[0])
    RoutePlan.objects.create(crew=field_town.crews["own"], day="2030-01-02", work_order_ids=[1])

    def queries() -> dict[str, int]:
        counts = {}
        for path in CHANGELISTS:
            with CaptureQueriesContext(connection) as captured:
                response = staff.get(path)
            assert response.status_code == 200, path
            counts[path] = len(captured)
        return counts

    before = queries()
    more = [field_town.home(n) for n in range(10, 22)]
    for home in more:
        field_town.order(home)
    from workorders.creation import work_orders_create_for_area

    work_orders_create_for_area(area_id=field_town.area.pk)
    for work_order in WorkOrder.objects.filter(address__in=more[:2]):
        _finished(field_town, work_order)
    RoutePlan.objects.create(crew=field_town.crews["civil"], day="2030-01-02", work_order_ids=[])

    assert WorkOrder.objects.count() == 14
    assert queries() == before
    assert max(before.values()) <= 12


def test_work_orders_are_found_by_address_or_reference_and_filtered_by_status(staff, jobs):
    first = jobs[0]
    label = first.address.label

    by_address = staff.get(WORK_ORDERS, {"q": label})
    by_reference = staff.get(WORK_ORDERS, {"q": first.reference.lower()})
    scheduled = staff.get(WORK_ORDERS, {"status__exact": WorkOrderStatus.SCHEDULED})
    by_template = staff.get(WORK_ORDERS, {"template__id__exact": first.template_id})

    assert list(by_address.context["cl"].result_list) == [first]
    assert list(by_reference.context["cl"].result_list) == [first]
    assert list(scheduled.context["cl"].result_list) == []
    assert len(by_template.context["cl"].result_list) == 3


def test_a_work_order_shows_its_tasks_and_cannot_be_edited_added_or_deleted(staff, jobs):
    job = jobs[0]
    page = staff.get(f"{WORK_ORDERS}{job.pk}/change/")

    body = page.content.decode()
    assert page.status_code == 200
    assert "Lay the drop from the distribution point" in body
    assert "created from its template" in body  # the history inline
    assert 'name="due_on"' not in body

    staff.post(f"{WORK_ORDERS}{job.pk}/change/", {"due_on": "2031-01-01", "status": "accepted"})

    job.refresh_from_db()
    assert (job.status, str(job.due_on)) != (WorkOrderStatus.ACCEPTED, "2031-01-01")
    assert job.status == WorkOrderStatus.OPEN
    assert staff.get(f"{WORK_ORDERS}add/").status_code == 403
    assert staff.get(f"{WORK_ORDERS}{job.pk}/delete/").status_code == 403


# --- cancelling, with a reason -----------------------------------------------------------------


def test_cancel_asks_for_a_reason_first_and_then_goes_through_the_service(staff, jobs):
    job = jobs[0]
    action = "work_order_cancel_with_reason"

    asked = _action(staff, WORK_ORDERS, action, job.pk)
    empty = _action(staff, WORK_ORDERS, action, job.pk, apply="1", reason="  ")
    job.refresh_from_db()
    untouched = job.status

    done = _action(staff, WORK_ORDERS, action, job.pk, apply="1", reason="customer moved away")

    assert asked.status_code == 200 and "Reason" in asked.content.decode()
    assert job.reference in asked.content.decode()
    assert "Say why" in empty.content.decode()
    assert untouched == WorkOrderStatus.OPEN
    job.refresh_from_db()
    job.address.refresh_from_db()
    assert job.status == WorkOrderStatus.CANCELLED
    last = job.history.last()
    assert (last.reason, last.actor.username) == ("customer moved away", "admin")
    assert set(job.tasks.values_list("status", flat=True)) == {TaskStatus.CANCELLED}
    assert job.address.status == AddressStatus.AWAITING_DEPLOYMENT
    assert "1 work order(s) cancelled." in _messages(done)


def test_cancelling_a_finished_work_order_is_refused_and_changes_nothing(staff, field_town, jobs):
    finished = _finished(field_town, jobs[0])
    other = jobs[1]

    response = _action(
        staff,
        WORK_ORDERS,
        "work_order_cancel_with_reason",
        finished.pk,
        other.pk,
        apply="1",
        reason="mistake",
    )

    finished.refresh_from_db()
    other.refresh_from_db()
    assert finished.status == WorkOrderStatus.ACCEPTED
    assert other.status == WorkOrderStatus.CANCELLED  # the other selected row still went
    lines = _messages(response)
    assert "1 work order(s) cancelled." in lines
    assert any(line.startswith(f"{finished.reference}: ") for line in lines)


# --- tasks: accept, send back --------------------------------------------------------------------


def test_accepting_a_contractors_task_goes_through_the_service(staff, field_town, jobs):
    drop = _drop_done(field_town, jobs[0])

    response = _action(staff, TASKS, "task_accept", drop.pk)

    drop.refresh_from_db()
    assert drop.status == TaskStatus.ACCEPTED
    assert drop.accepted_by.username == "admin"
    assert "1 task(s) accepted." in _messages(response)


def test_accepting_a_task_not_done_is_refused_and_changes_nothing(staff, jobs):
    pending = jobs[0].tasks.get(position=2)

    response = _action(staff, TASKS, "task_accept", pending.pk)

    pending.refresh_from_db()
    assert pending.status == TaskStatus.PENDING and pending.accepted_by is None
    assert not pending.events.filter(kind="accepted").exists()
    [line] = _messages(response)
    assert line.startswith(f"{pending}: ")


def test_sending_a_task_back_needs_a_reason_and_counts_the_rework(staff, field_town, jobs):
    drop = _drop_done(field_town, jobs[0])
    action = "task_reject_with_reason"

    without = _action(staff, TASKS, action, drop.pk, apply="1", reason="")
    drop.refresh_from_db()
    still = (drop.status, drop.rework_count)
    sent = _action(staff, TASKS, action, drop.pk, apply="1", reason="duct not sealed")

    assert "Say why" in without.content.decode()
    assert still == (TaskStatus.AWAITING_ACCEPTANCE, 0)
    drop.refresh_from_db()
    assert (drop.status, drop.rework_count) == (TaskStatus.REWORK, 1)
    assert drop.events.get(kind="rejected").reason == "duct not sealed"
    assert "1 task(s) sent back." in _messages(sent)


def test_a_task_is_read_only_with_its_history(staff, field_town, jobs):
    drop = _drop_done(field_town, jobs[0])

    page = staff.get(f"{TASKS}{drop.pk}/change/")
    staff.post(f"{TASKS}{drop.pk}/change/", {"status": "accepted", "minutes": "1"})

    body = page.content.decode()
    assert page.status_code == 200 and "done" in body and 'name="minutes"' not in body
    drop.refresh_from_db()
    assert (drop.status, drop.minutes) == (TaskStatus.AWAITING_ACCEPTANCE, 120)
    assert staff.get(f"{TASKS}{drop.pk}/delete/").status_code == 403


# --- the record and provisioning ---------------------------------------------------------------


def test_an_installation_record_is_shown_and_never_deleted(staff, field_town, jobs):
    record = _finished(field_town, jobs[0]).installation_record
    path = f"/admin/workorders/installationrecord/{record.pk}/"

    page = staff.get(f"{path}change/")
    listed = staff.get("/admin/workorders/installationrecord/", {"q": "alcl0a1b2c3d"})
    deleting = staff.post(f"{path}delete/", {"post": "yes"})
    bulk = _action(
        staff, "/admin/workorders/installationrecord/", "delete_selected", record.pk, post="yes"
    )

    assert page.status_code == 200 and "ALCL0A1B2C3D" in page.content.decode()
    assert list(listed.context["cl"].result_list) == [record]
    assert deleting.status_code == 403
    assert bulk.status_code == 200
    assert InstallationRecord.objects.filter(pk=record.pk).exists()


def test_a_failed_provisioning_is_retried_through_its_service(staff, field_town, jobs):
    job = _finished(field_town, jobs[0]).provisioning
    provisioning_record(job=job, status=ProvisioningStatus.DEAD, error="OLT: port busy")
    requested = DomainEvent.objects.filter(topic=PROVISIONING_REQUESTED).count()

    response = _action(staff, "/admin/workorders/provisioningjob/", "provisioning_retry", job.pk)

    job.refresh_from_db()
    assert job.status == ProvisioningStatus.PENDING
    assert DomainEvent.objects.filter(topic=PROVISIONING_REQUESTED).count() == requested + 1
    assert "1 provisioning job(s) queued again." in _messages(response)


def test_a_verified_provisioning_is_not_retried(staff, field_town, jobs):
    job = _finished(field_town, jobs[0]).provisioning
    provisioning_record(job=job, status=ProvisioningStatus.VERIFIED, vendor="calix")
    requested = DomainEvent.objects.filter(topic=PROVISIONING_REQUESTED).count()

    response = _action(staff, "/admin/workorders/provisioningjob/", "provisioning_retry", job.pk)

    job.refresh_from_db()
    assert job.status == ProvisioningStatus.VERIFIED
    assert DomainEvent.objects.filter(topic=PROVISIONING_REQUESTED).count() == requested
    [line] = _messages(response)
    assert "verified already" in line
    assert ProvisioningJob.objects.count() == 1


# --- templates, crews, depots --------------------------------------------------------------------


def _form_data(response) -> dict:
    """The change form's current values, as the browser would post them back."""
    data = {}
    forms = [response.context["adminform"].form] + [
        form
        for inline in response.context["inline_admin_formsets"]
        for form in inline.formset.forms
    ]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name, field in management.fields.items():
            data[management.add_prefix(name)] = management[name].value()
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if value is None:
                continue
            if isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(v) for v in value]
            elif isinstance(value, bool):
                if value:
                    data[form.add_prefix(name)] = "on"
            else:
                data[form.add_prefix(name)] = str(value)
    return data


def test_a_templates_tasks_are_edited_inline(staff, field_town):
    template = field_town.templates["home"]
    path = f"/admin/workorders/worktemplate/{template.pk}/change/"
    page = staff.get(path)
    data = _form_data(page)
    data["tasks-1-minutes"] = "50"
    data["tasks-1-light_min_dbm"] = "-28"

    saved = staff.post(path, data)

    assert page.status_code == 200
    assert saved.status_code == 302, saved.context["errors"] if saved.context else saved
    ont = TaskTemplate.objects.get(template=template, position=2)
    assert (ont.minutes, ont.light_min_dbm) == (50, -28)


def test_a_template_task_with_a_range_the_wrong_way_round_is_refused(staff, field_town):
    template = field_town.templates["home"]
    path = f"/admin/workorders/worktemplate/{template.pk}/change/"
    data = _form_data(staff.get(path))
    data["tasks-1-light_min_dbm"] = "-5"  # above the maximum of -8

    refused = staff.post(path, data)

    assert refused.status_code == 200  # the form again, with the error
    ont = TaskTemplate.objects.get(template=template, position=2)
    assert ont.light_min_dbm == -27


def test_a_depot_has_a_map_and_a_crew_its_members(staff, field_town):
    depot = field_town.crews["own"].depot
    crew = field_town.crews["own"]

    depot_page = staff.get(f"/admin/workorders/depot/{depot.pk}/change/")
    crew_page = staff.get(f"/admin/workorders/crew/{crew.pk}/change/")

    assert depot_page.status_code == 200
    assert "vendor/ol/ol.js" in depot_page.content.decode()  # our own OpenLayers, no CDN
    assert crew_page.status_code == 200 and "tech" in crew_page.content.decode()
