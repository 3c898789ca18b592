"""Field work on a work order: evidence, retry-safe sign-offs, who may do what, acceptance
and rework, and the completion that connects the address and tells the ISPs."""

import uuid

import pytest
from django.core.files.base import ContentFile

from areas.services import area_deploy
from common.errors import DomainError, InvalidTransition, PermissionDenied
from gis_core.lifecycle import AddressStatus
from wholesale.lifecycle import NotificationKind, OrderStatus
from wholesale.models import IspNotification
from workorders.lifecycle import ProvisioningStatus, TaskStatus, WorkOrderStatus
from workorders.models import InstallationRecord, ProvisioningJob, Submission, TaskEvent
from workorders.services import (
    task_accept,
    task_complete,
    task_photo_add,
    task_reject,
    task_report_problem,
    tasks_assign,
)

GOOD_LIGHT = {"light_level_dbm": "-19.4", "ont_serial": "alcl00112233"}
GOOD_SPEED = {"download_mbps": "940", "upload_mbps": "480", "signed_by": "A. Kunde"}


@pytest.fixture
def job(field_town):
    home = field_town.home(0)
    order = field_town.order(home)
    area_deploy(area=field_town.area)
    job = home.work_orders.get()
    job.order_ref = order
    return job


def _tasks(job):
    return list(job.tasks.order_by("position"))


def _photo(task, user):
    return task_photo_add(
        task=task,
        actor=user,
        image=ContentFile(b"\x89PNG fake", name="drop.png"),
        client_uid=uuid.uuid4(),
        content_type="image/png",
    )


def test_a_light_level_outside_the_range_cannot_be_signed_off(field_town, job):
    _, ont, _ = _tasks(job)

    with pytest.raises(DomainError, match="outside the accepted range") as refused:
        task_complete(
            task=ont,
            actor=field_town.users["tech"],
            evidence={"light_level_dbm": "-29.5", "ont_serial": "X1"},
        )

    assert refused.value.field == "light_level_dbm"
    ont.refresh_from_db()
    assert ont.status == TaskStatus.PENDING
    assert not TaskEvent.objects.filter(task=ont, kind="done").exists()


def test_required_evidence_is_named_when_missing(field_town, job):
    drop, ont, signoff = _tasks(job)
    digger, tech = field_town.users["digger"], field_town.users["tech"]

    with pytest.raises(DomainError, match="photo"):
        task_complete(task=drop, actor=digger, evidence={})
    with pytest.raises(DomainError, match="ONT serial"):
        task_complete(task=ont, actor=tech, evidence={"light_level_dbm": "-20"})
    with pytest.raises(DomainError, match="below the required 100"):
        task_complete(task=signoff, actor=tech, evidence={**GOOD_SPEED, "download_mbps": "80"})
    with pytest.raises(DomainError, match="as a number"):
        task_complete(task=ont, actor=tech, evidence={**GOOD_LIGHT, "light_level_dbm": "bright"})


def test_the_same_submission_sent_twice_changes_nothing_the_second_time(field_town, job):
    _, ont, _ = _tasks(job)
    uid = uuid.uuid4()

    first = task_complete(
        task=ont, actor=field_town.users["tech"], evidence=GOOD_LIGHT, client_uid=uid
    )
    again = task_complete(
        task=ont, actor=field_town.users["tech"], evidence=GOOD_LIGHT, client_uid=str(uid)
    )

    assert first.status == again.status == TaskStatus.ACCEPTED
    assert TaskEvent.objects.filter(task=ont, kind="done").count() == 1
    assert Submission.objects.filter(pk=uid).count() == 1


def test_a_photo_sent_twice_is_stored_once(field_town, job):
    drop = _tasks(job)[0]
    uid = uuid.uuid4()
    for _ in range(2):
        task_photo_add(
            task=drop,
            actor=field_town.users["digger"],
            image=ContentFile(b"img", name="a.jpg"),
            client_uid=uid,
            content_type="image/jpeg",
        )

    assert drop.photos.count() == 1


def test_contractor_technicians_work_only_on_their_organisations_tasks(field_town, job):
    drop, ont, _ = _tasks(job)

    with pytest.raises(PermissionDenied):
        task_complete(task=ont, actor=field_town.users["digger"], evidence=GOOD_LIGHT)
    with pytest.raises(PermissionDenied):
        _photo(drop, field_town.users["tech"])


def test_a_task_assigned_to_a_crew_is_for_its_members(field_town, job):
    from accounts.roles import Role
    from accounts.services import user_create

    _, ont, _ = _tasks(job)
    tasks_assign(tasks=[ont], crew=field_town.crews["own"], actor=field_town.users["dispatcher"])
    outsider = user_create(username="tech2", organisation=field_town.owner, role=Role.TECHNICIAN)

    with pytest.raises(PermissionDenied):
        task_complete(task=ont, actor=outsider, evidence=GOOD_LIGHT)
    assert task_complete(task=ont, actor=field_town.users["tech"], evidence=GOOD_LIGHT).status == (
        TaskStatus.ACCEPTED
    )


def test_assignment_checks_organisation_and_skill(field_town, job):
    drop, ont, _ = _tasks(job)
    dispatcher = field_town.users["dispatcher"]

    with pytest.raises(DomainError, match="another organisation"):
        tasks_assign(tasks=[drop], crew=field_town.crews["own"], actor=dispatcher)
    with pytest.raises(PermissionDenied):
        tasks_assign(tasks=[ont], crew=field_town.crews["own"], actor=field_town.users["tech"])


def test_rejected_contractor_work_goes_back_for_rework_and_is_counted(field_town, job):
    drop = _tasks(job)[0]
    digger, dispatcher = field_town.users["digger"], field_town.users["dispatcher"]
    _photo(drop, digger)
    task_complete(task=drop, actor=digger, evidence={})

    drop = task_reject(task=drop, actor=dispatcher, reason="drop not buried deep enough")

    job.refresh_from_db()
    assert drop.status == TaskStatus.REWORK
    assert drop.rework_count == 1
    assert job.reopened == 1
    assert task_complete(task=drop, actor=digger, evidence={}).status == (
        TaskStatus.AWAITING_ACCEPTANCE
    )
    assert task_accept(task=drop, actor=dispatcher).status == TaskStatus.ACCEPTED


def test_a_task_not_yet_done_cannot_be_accepted(field_town, job):
    drop, ont, _ = _tasks(job)
    dispatcher = field_town.users["dispatcher"]

    for task in (drop, ont):
        with pytest.raises(InvalidTransition, match="only work signed off"):
            task_accept(task=task, actor=dispatcher)

    job.refresh_from_db()
    assert [t.status for t in _tasks(job)] == [TaskStatus.PENDING] * 3
    assert job.status == WorkOrderStatus.OPEN
    assert not TaskEvent.objects.filter(task__work_order=job, kind="accepted").exists()


def test_a_problem_blocks_the_task_until_the_dispatcher_clears_it(field_town, job):
    from workorders.services import task_clear_problem

    _, ont, _ = _tasks(job)
    tech = field_town.users["tech"]
    task_report_problem(task=ont, actor=tech, reason="no access to the basement")

    with pytest.raises(InvalidTransition):
        task_complete(task=ont, actor=tech, evidence=GOOD_LIGHT)
    task_clear_problem(task=ont, actor=field_town.users["dispatcher"])
    assert task_complete(task=ont, actor=tech, evidence=GOOD_LIGHT).status == TaskStatus.ACCEPTED


def test_completion_freezes_the_record_connects_the_address_and_tells_the_isp(field_town, job):
    drop, ont, signoff = _tasks(job)
    digger, tech = field_town.users["digger"], field_town.users["tech"]
    dispatcher = field_town.users["dispatcher"]
    _photo(drop, digger)
    task_complete(task=drop, actor=digger, evidence={})
    task_complete(task=ont, actor=tech, evidence=GOOD_LIGHT)
    task_complete(task=signoff, actor=tech, evidence=GOOD_SPEED)
    job.refresh_from_db()
    assert job.status == WorkOrderStatus.COMPLETED  # the contractor's drop awaits acceptance

    task_accept(task=drop, actor=dispatcher)

    job.refresh_from_db()
    address = job.address
    address.refresh_from_db()
    order = job.order_ref
    order.refresh_from_db()
    record = InstallationRecord.objects.get(work_order=job)
    assert job.status == WorkOrderStatus.ACCEPTED
    assert address.status == AddressStatus.CONNECTED
    assert order.status == OrderStatus.READY_FOR_ACTIVATION
    assert record.ont_serial == "ALCL00112233"
    assert str(record.light_level_dbm) == "-19.40"
    assert [t["completed_by"] for t in record.record["tasks"]] == ["digger", "tech", "tech"]
    assert record.record["tasks"][0]["accepted_by"] == "dispatch"
    assert len(record.record["tasks"][0]["photos"]) == 1
    job_ = ProvisioningJob.objects.get(work_order=job)
    assert (job_.status, job_.ont_serial, job_.speed_profile) == (
        ProvisioningStatus.PENDING,
        "ALCL00112233",
        field_town.offering.product.code,
    )
    assert IspNotification.objects.filter(
        order=order, kind=NotificationKind.READY_FOR_ACTIVATION
    ).exists()
