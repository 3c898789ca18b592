"""Writes of the field: scheduling and assigning work, signing tasks off with their evidence
(retry-safe), problems, acceptance and rework, cancelling, and the completion of a work order
(installation record frozen, address connected, provisioning requested)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.permissions import is_dispatcher, is_field_user, works_for_contractor
from accounts.roles import OrganisationKind
from common.errors import DomainError, InvalidTransition, PermissionDenied
from common.events import publish
from gis_core.lifecycle import AddressStatus, PremisesType
from gis_core.models import Address
from gis_core.services import address_connect, address_stop_deployment
from wholesale.lifecycle import OrderStatus
from wholesale.models import Order
from workorders.events import (
    PROVISIONING_REQUESTED,
    TASK_CHANGED,
    WORK_ORDER_ACCEPTED,
    WORK_ORDER_STATUS_CHANGED,
    ProvisioningRequested,
    TaskChanged,
    WorkOrderAccepted,
    WorkOrderStatusChanged,
)
from workorders.lifecycle import (
    LIVE_WORK_ORDER_STATUSES,
    OPEN_TASK_STATUSES,
    TASK_TRANSITIONS,
    WORK_ORDER_TRANSITIONS,
    AssigneeKind,
    Evidence,
    ProvisioningStatus,
    TaskCategory,
    TaskStatus,
    WorkOrderStatus,
)
from workorders.models import (
    Crew,
    InstallationRecord,
    ProvisioningJob,
    Submission,
    Task,
    TaskEvent,
    TaskPhoto,
    TaskTemplate,
    WorkOrder,
    WorkOrderStatusChange,
    WorkTemplate,
)

DEFAULT_SPEED_PROFILE = ("default", 0, 0)
SIGNATURE_MAX_CHARS = 100_000  # a data URL of a signature pad's picture


# --- who may work on what ------------------------------------------------------------------


def may_work_on(user, task: Task) -> bool:
    """A technician works on the tasks of their side — the owner's own staff on tasks of no
    contractor, a contractor's technicians on that contractor's — and, once a task is given
    to a crew, only that crew's members; dispatchers may act on any task."""
    if is_dispatcher(user):
        return True
    if not is_field_user(user):
        return False
    mine = (
        task.contractor_id == user.organisation.pk
        if works_for_contractor(user)
        else task.contractor_id is None
    )
    if not mine:
        return False
    return task.crew_id is None or task.crew.members.filter(pk=user.pk).exists()


def crew_fits(crew: Crew, task: Task) -> bool:
    """A crew takes the tasks of its own side: a contractor's crew its contractor's tasks,
    the owner's crews the own-staff tasks."""
    if crew.organisation.kind == OrganisationKind.CONTRACTOR:
        return task.contractor_id == crew.organisation_id
    return task.contractor_id is None


def _require_dispatcher(user) -> None:
    if not is_dispatcher(user):
        raise PermissionDenied("only the owner's dispatchers may do this")


# --- the two lifecycles' one place of assignment ----------------------------------------------


def _wo_transition(work_order: WorkOrder, to: str, *, actor: User | None, reason: str) -> WorkOrder:
    """The one place a work order's status is assigned: check, set, history, event
    (callers hold the row lock)."""
    source = work_order.status
    WORK_ORDER_TRANSITIONS.check(source, to)
    now = timezone.now()
    work_order.status = to
    work_order.status_changed_at = now
    fields = ["status", "status_changed_at", "updated_at"]
    if to == WorkOrderStatus.COMPLETED:
        work_order.completed_at = now
        fields.append("completed_at")
    if to == WorkOrderStatus.ACCEPTED:
        work_order.accepted_at = now
        work_order.completed_at = work_order.completed_at or now
        fields += ["accepted_at", "completed_at"]
    work_order.save(update_fields=fields)
    WorkOrderStatusChange.objects.create(
        work_order=work_order,
        from_status=source,
        to_status=to,
        actor=actor,
        reason=reason,
        changed_at=now,
    )
    publish(
        WORK_ORDER_STATUS_CHANGED,
        WorkOrderStatusChanged(
            work_order_id=work_order.pk,
            address_id=work_order.address_id,
            from_status=source,
            to_status=to,
            actor_id=actor.pk if actor else None,
            reason=reason,
        ),
    )
    return work_order


def _task_transition(
    task: Task, to: str, *, kind: str, actor: User | None, reason: str = "", details=None
) -> Task:
    """The one place a task's status is assigned: check, set, history, event (callers lock)."""
    source = task.status
    TASK_TRANSITIONS.check(source, to)
    task.status = to
    task.status_changed_at = timezone.now()
    task.save(update_fields=["status", "status_changed_at", "updated_at"])
    TaskEvent.objects.create(
        task=task,
        kind=kind,
        from_status=source,
        to_status=to,
        actor=actor,
        reason=reason[:1000],
        details=details or {},
    )
    publish(
        TASK_CHANGED,
        TaskChanged(
            task_id=task.pk,
            work_order_id=task.work_order_id,
            kind=kind,
            from_status=source,
            to_status=to,
            actor_id=actor.pk if actor else None,
        ),
    )
    return task


def _lock_task(task: Task) -> tuple[Task, WorkOrder]:
    """Lock the work order, then the task (always in this order: no deadlocks)."""
    work_order = WorkOrder.objects.select_for_update().get(pk=task.work_order_id)
    task = Task.objects.select_for_update(of=("self",)).select_related("crew").get(pk=task.pk)
    return task, work_order


# --- planning -------------------------------------------------------------------------------


@transaction.atomic
def work_order_schedule(*, work_order: WorkOrder, day: date, actor: User | None) -> WorkOrder:
    """Put a work order on a day's plan (or move it to another day)."""
    _require_dispatcher(actor)
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    if day < timezone.localdate():
        raise DomainError(f"{day} is in the past", field="day")
    if work_order.status not in (WorkOrderStatus.OPEN, WorkOrderStatus.SCHEDULED):
        raise InvalidTransition(
            f"{work_order.reference} is {work_order.get_status_display()}: it cannot be"
            " (re)scheduled"
        )
    work_order.scheduled_for = day
    work_order.save(update_fields=["scheduled_for", "updated_at"])
    if work_order.status == WorkOrderStatus.OPEN:
        _wo_transition(work_order, WorkOrderStatus.SCHEDULED, actor=actor, reason=f"for {day}")
    return work_order


@transaction.atomic
def tasks_assign(*, tasks: list[Task], crew: Crew | None, actor: User | None) -> list[Task]:
    """Give tasks to a crew (None: unassign). A crew only takes its own organisation's tasks:
    a contractor's task goes to that contractor's crews, the owner's to the owner's."""
    _require_dispatcher(actor)
    locked = list(
        Task.objects.select_for_update().filter(pk__in=[t.pk for t in tasks]).order_by("pk")
    )
    for task in locked:
        if task.status not in OPEN_TASK_STATUSES:
            raise InvalidTransition(f"task {task} is {task.get_status_display()}: not open")
        if crew is not None and not crew_fits(crew, task):
            raise DomainError(
                f"{crew} belongs to another organisation than the one doing {task.name}",
                field="crew",
            )
        if crew is not None and task.skill and task.skill not in crew.skills:
            raise DomainError(f"{crew} lacks the skill {task.skill!r}", field="crew")
    for task in locked:
        task.crew = crew
        task.save(update_fields=["crew", "updated_at"])
        TaskEvent.objects.create(
            task=task,
            kind="assigned",
            from_status=task.status,
            to_status=task.status,
            actor=actor,
            details={"crew": crew.pk if crew else None},
        )
    return locked


@transaction.atomic
def task_transfer(*, task: Task, organisation, actor: User | None, reason: str = "") -> Task:
    """Hand a task to another organisation (the owner's own staff or a contractor); its crew
    is cleared.
    A contractor's work waits for acceptance; the owner's does not."""
    _require_dispatcher(actor)
    task, _ = _lock_task(task)
    if task.status not in OPEN_TASK_STATUSES:
        raise InvalidTransition(f"task {task} is {task.get_status_display()}: not open")
    if organisation.kind not in (OrganisationKind.OWNER, OrganisationKind.CONTRACTOR):
        raise DomainError(f"{organisation} does no field work", field="organisation")
    contractor = organisation if organisation.kind == OrganisationKind.CONTRACTOR else None
    task.contractor = contractor
    task.crew = None
    task.needs_acceptance = contractor is not None
    task.save(update_fields=["contractor", "crew", "needs_acceptance", "updated_at"])
    TaskEvent.objects.create(
        task=task,
        kind="transferred",
        from_status=task.status,
        to_status=task.status,
        actor=actor,
        reason=reason,
        details={"organisation": organisation.pk},
    )
    return task


# --- evidence and sign-off --------------------------------------------------------------------


def _number(value: Any, field: str, label: str) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError, AttributeError) as exc:
        raise DomainError(f"give the {label} as a number", field=field) from exc
    if not number.is_finite():
        raise DomainError(f"give the {label} as a number", field=field)
    return number


def validate_evidence(task: Task, data: dict[str, Any]) -> dict[str, Any]:
    """Check a sign-off's evidence against what the task requires; returns the clean result.

    A light level outside the task's accepted range cannot be signed off as passing.
    """
    data = data or {}
    result: dict[str, Any] = {}
    need = set(task.evidence)
    if Evidence.LIGHT_LEVEL in need:
        if data.get("light_level_dbm") in (None, ""):
            raise DomainError("measure the light level (dBm)", field="light_level_dbm")
        level = _number(data["light_level_dbm"], "light_level_dbm", "light level")
        low, high = task.light_min_dbm, task.light_max_dbm
        if (low is not None and level < low) or (high is not None and level > high):
            raise DomainError(
                f"a light level of {level} dBm is outside the accepted range"
                f" {low} … {high} dBm: it cannot be signed off as passing (report a problem)",
                field="light_level_dbm",
                code="out_of_range",
            )
        result["light_level_dbm"] = str(level.quantize(Decimal("0.01")))
    if Evidence.SPEED_TEST in need:
        for key, label, minimum in (
            ("download_mbps", "download speed", task.min_download_mbps),
            ("upload_mbps", "upload speed", task.min_upload_mbps),
        ):
            if data.get(key) in (None, ""):
                raise DomainError(f"give the {label} of the speed test (Mbit/s)", field=key)
            speed = _number(data[key], key, label)
            if speed < 0 or (minimum is not None and speed < minimum):
                raise DomainError(
                    f"a {label} of {speed} Mbit/s is below the required {minimum} Mbit/s",
                    field=key,
                    code="out_of_range",
                )
            result[key] = str(speed)
    if Evidence.ONT_SERIAL in need:
        serial = str(data.get("ont_serial") or "").strip().upper()
        if not serial:
            raise DomainError("scan or type the ONT serial", field="ont_serial")
        if len(serial) > 64 or not all(ch.isalnum() or ch in "-_:." for ch in serial):
            raise DomainError(f"{serial!r} is not an ONT serial", field="ont_serial")
        result["ont_serial"] = serial
    if Evidence.SIGNATURE in need:
        name = str(data.get("signed_by") or "").strip()
        if not name:
            raise DomainError("the customer signs with their name", field="signed_by")
        result["signed_by"] = name[:200]
        signature = str(data.get("signature") or "")
        if signature:
            # a cut data URL is no picture at all: refuse rather than keep a broken one
            if len(signature) > SIGNATURE_MAX_CHARS or not signature.startswith("data:image/"):
                raise DomainError(
                    "the signature could not be kept: clear it and sign again", field="signature"
                )
            result["signature"] = signature
    notes = str(data.get("notes") or "").strip()
    if Evidence.NOTES in need and not notes:
        raise DomainError("add a note on what was done", field="notes")
    if notes:
        result["notes"] = notes[:4000]
    if Evidence.PHOTO in need and not task.photos.exists():
        raise DomainError("add at least one photo", field="photo")
    return result


def _submission_seen(client_uid: Any, task: Task, kind: str, actor: User | None) -> bool:
    """Record a device's submission id; True when it was seen before (nothing to do)."""
    if client_uid in (None, ""):
        return False
    try:
        uid = uuid.UUID(str(client_uid))
    except ValueError as exc:
        raise DomainError("the submission id is not a UUID", field="client_uid") from exc
    seen = Submission.objects.filter(pk=uid).first()
    if seen is not None:
        if seen.task_id != task.pk:
            raise DomainError("this submission id belongs to another task", field="client_uid")
        return True
    Submission.objects.create(client_uid=uid, task=task, kind=kind, submitted_by=actor)
    return False


@transaction.atomic
def task_complete(
    *, task: Task, actor: User | None, evidence: dict[str, Any], client_uid: Any = None
) -> Task:
    """Sign a task off with its evidence. Contractor work waits for acceptance; the owner's
    own is accepted at once. The same `client_uid` sent again changes nothing."""
    task, work_order = _lock_task(task)
    if not may_work_on(actor, task):
        raise PermissionDenied("this task is not yours")
    if _submission_seen(client_uid, task, "complete", actor):
        return task
    if task.status not in (TaskStatus.PENDING, TaskStatus.REWORK):
        raise InvalidTransition(
            f"the task is {task.get_status_display()}: it cannot be signed off now"
        )
    if work_order.status not in LIVE_WORK_ORDER_STATUSES:
        raise InvalidTransition(f"{work_order.reference} is {work_order.get_status_display()}")
    task.result = validate_evidence(task, evidence)
    task.completed_by = actor
    task.completed_at = timezone.now()
    task.problem = ""
    task.save(update_fields=["result", "completed_by", "completed_at", "problem", "updated_at"])
    if task.needs_acceptance:
        _task_transition(
            task, TaskStatus.AWAITING_ACCEPTANCE, kind="done", actor=actor, details=task.result
        )
    else:
        task.accepted_at = task.completed_at
        task.save(update_fields=["accepted_at"])
        _task_transition(task, TaskStatus.ACCEPTED, kind="done", actor=actor, details=task.result)
    _advance(work_order, actor)
    return task


@transaction.atomic
def task_photo_add(
    *, task: Task, actor: User | None, image, client_uid: Any, content_type: str = ""
) -> TaskPhoto:
    """Store a photo for a task (through the storage API); the same `client_uid` again
    returns the stored one."""
    task, _ = _lock_task(task)
    if not may_work_on(actor, task):
        raise PermissionDenied("this task is not yours")
    try:
        uid = uuid.UUID(str(client_uid))
    except ValueError as exc:
        raise DomainError("the photo id is not a UUID", field="client_uid") from exc
    existing = TaskPhoto.objects.filter(client_uid=uid).first()
    if existing is not None:
        if existing.task_id != task.pk:
            raise DomainError("this photo id belongs to another task", field="client_uid")
        return existing
    if task.status not in OPEN_TASK_STATUSES:
        raise InvalidTransition(f"the task is {task.get_status_display()}: no more photos")
    if content_type and not content_type.startswith("image/"):
        raise DomainError("a photo must be an image", field="photo")
    size = getattr(image, "size", 0) or 0
    if size > 15 * 1024 * 1024:
        raise DomainError("a photo may be at most 15 MB", field="photo")
    if size == 0:
        raise DomainError("the photo is empty", field="photo")
    return TaskPhoto.objects.create(
        task=task,
        image=image,
        client_uid=uid,
        uploaded_by=actor,
        content_type=content_type[:100],
        size=size,
    )


@transaction.atomic
def task_report_problem(
    *, task: Task, actor: User | None, reason: str, client_uid: Any = None
) -> Task:
    """The technician cannot finish the task (no access, damaged duct, …): it is blocked
    and shows up for the dispatcher."""
    task, _ = _lock_task(task)
    if not may_work_on(actor, task):
        raise PermissionDenied("this task is not yours")
    if _submission_seen(client_uid, task, "problem", actor):
        return task
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("say what the problem is", field="reason")
    task.problem = reason[:1000]
    task.save(update_fields=["problem", "updated_at"])
    return _task_transition(task, TaskStatus.PROBLEM, kind="problem", actor=actor, reason=reason)


@transaction.atomic
def task_clear_problem(*, task: Task, actor: User | None, reason: str = "") -> Task:
    """The dispatcher has dealt with a problem: the task can be done again."""
    _require_dispatcher(actor)
    task, _ = _lock_task(task)
    return _task_transition(task, TaskStatus.PENDING, kind="cleared", actor=actor, reason=reason)


@transaction.atomic
def task_accept(*, task: Task, actor: User | None) -> Task:
    """The operator accepts a contractor's work (only work signed off and waiting: a task
    not yet done is never accepted without its evidence)."""
    _require_dispatcher(actor)
    task, work_order = _lock_task(task)
    if task.status != TaskStatus.AWAITING_ACCEPTANCE:
        raise InvalidTransition(
            f"the task is {task.get_status_display()}: only work signed off and waiting for"
            " acceptance can be accepted"
        )
    task.accepted_by = actor
    task.accepted_at = timezone.now()
    task.save(update_fields=["accepted_by", "accepted_at", "updated_at"])
    _task_transition(task, TaskStatus.ACCEPTED, kind="accepted", actor=actor)
    _advance(work_order, actor)
    return task


@transaction.atomic
def task_reject(*, task: Task, actor: User | None, reason: str) -> Task:
    """The operator sends a contractor's work back with a reason (rework, counted)."""
    _require_dispatcher(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("say why the work is sent back", field="reason")
    task, work_order = _lock_task(task)
    task = _task_transition(task, TaskStatus.REWORK, kind="rejected", actor=actor, reason=reason)
    Task.objects.filter(pk=task.pk).update(rework_count=F("rework_count") + 1)
    WorkOrder.objects.filter(pk=work_order.pk).update(reopened=F("reopened") + 1)
    work_order.refresh_from_db()
    if work_order.status == WorkOrderStatus.COMPLETED:
        _wo_transition(work_order, WorkOrderStatus.IN_PROGRESS, actor=actor, reason="rework")
    task.refresh_from_db()
    return task


def _advance(work_order: WorkOrder, actor: User | None) -> None:
    """Move the work order along after a task changed: started, completed, accepted."""
    statuses = list(work_order.tasks.values_list("status", flat=True))
    if work_order.status in (WorkOrderStatus.OPEN, WorkOrderStatus.SCHEDULED):
        _wo_transition(work_order, WorkOrderStatus.IN_PROGRESS, actor=actor, reason="work began")
    live = [s for s in statuses if s != TaskStatus.CANCELLED]
    if live and all(s == TaskStatus.ACCEPTED for s in live):
        _complete(work_order, actor)
    elif (
        live
        and all(s in (TaskStatus.ACCEPTED, TaskStatus.AWAITING_ACCEPTANCE) for s in live)
        and work_order.status != WorkOrderStatus.COMPLETED
    ):
        _wo_transition(work_order, WorkOrderStatus.COMPLETED, actor=actor, reason="all tasks done")


def _record_of(work_order: WorkOrder) -> dict[str, Any]:
    tasks = work_order.tasks.select_related("contractor", "crew", "completed_by", "accepted_by")
    photos = {}
    for photo in TaskPhoto.objects.filter(task__work_order=work_order).order_by("pk"):
        photos.setdefault(photo.task_id, []).append(
            {"name": photo.image.name, "uploaded_at": photo.uploaded_at.isoformat()}
        )
    return {
        "work_order": work_order.reference,
        "template": work_order.template.code,
        "tasks": [
            {
                "position": t.position,
                "name": t.name,
                "category": t.category,
                "done_by": t.contractor.name if t.contractor else "own staff",
                "crew": t.crew.name if t.crew else None,
                "completed_by": t.completed_by.username if t.completed_by else None,
                "completed_at": t.completed_at.isoformat() if t.completed_at else None,
                "accepted_by": t.accepted_by.username if t.accepted_by else None,
                "accepted_at": t.accepted_at.isoformat() if t.accepted_at else None,
                "rework_count": t.rework_count,
                "result": t.result,
                "photos": photos.get(t.pk, []),
            }
            for t in tasks
            if t.status != TaskStatus.CANCELLED
        ],
    }


def _speed_profile(address_id: int) -> tuple[str, int, int]:
    """The speed profile to provision: the first ISP order's product, else the default."""
    order = (
        Order.objects.filter(address_id=address_id, offering__isnull=False)
        .exclude(status__in=[OrderStatus.CANCELLED, OrderStatus.TERMINATED])
        .select_related("offering__product")
        .order_by("pk")
        .first()
    )
    if order is None:
        return DEFAULT_SPEED_PROFILE
    product = order.offering.product
    return product.code, product.download_mbps, product.upload_mbps


def _complete(work_order: WorkOrder, actor: User | None) -> None:
    """Every task done and accepted: freeze the installation record, connect the address,
    request provisioning (via the outbox) — and the ISPs there are told it is ready
    (wholesale reacts to the address becoming connected)."""
    _wo_transition(work_order, WorkOrderStatus.ACCEPTED, actor=actor, reason="all tasks accepted")
    record = _record_of(work_order)
    results = [task["result"] for task in record["tasks"]]
    serial = next((r["ont_serial"] for r in results if r.get("ont_serial")), "")
    light = next((r["light_level_dbm"] for r in results if r.get("light_level_dbm")), None)
    InstallationRecord.objects.create(
        work_order=work_order,
        address_id=work_order.address_id,
        ont_serial=serial,
        light_level_dbm=Decimal(light) if light is not None else None,
        record=record,
    )
    address = Address.objects.select_for_update().get(pk=work_order.address_id)
    if address.status == AddressStatus.IN_DEPLOYMENT:
        address_connect(address=address, actor=actor, reason=f"{work_order.reference} accepted")
    job = None
    if serial:
        code, down, up = _speed_profile(address.pk)
        job = ProvisioningJob.objects.create(
            work_order=work_order,
            address=address,
            ont_serial=serial,
            speed_profile=code,
            download_mbps=down,
            upload_mbps=up,
        )
        publish(PROVISIONING_REQUESTED, ProvisioningRequested(job_id=job.pk, attempt=0))
    publish(
        WORK_ORDER_ACCEPTED,
        WorkOrderAccepted(
            work_order_id=work_order.pk,
            address_id=address.pk,
            provisioning_job_id=job.pk if job else None,
        ),
    )


@transaction.atomic
def work_order_cancel(*, work_order: WorkOrder, actor: User | None, reason: str) -> WorkOrder:
    """Call a job off (its order was cancelled, say): open tasks are cancelled, and an address
    whose drop was not yet in goes back to the build queue."""
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    work_order = _wo_transition(work_order, WorkOrderStatus.CANCELLED, actor=actor, reason=reason)
    for task in work_order.tasks.select_for_update().exclude(
        status__in=[TaskStatus.ACCEPTED, TaskStatus.CANCELLED]
    ):
        _task_transition(task, TaskStatus.CANCELLED, kind="cancelled", actor=actor, reason=reason)
    address = Address.objects.select_for_update().get(pk=work_order.address_id)
    if address.status == AddressStatus.IN_DEPLOYMENT:
        address_stop_deployment(address=address, actor=actor, reason=reason)
    return work_order


# --- provisioning outcomes (recorded by the provisioning integration) ------------------------


@transaction.atomic
def provisioning_record(
    *,
    job: ProvisioningJob,
    status: str,
    vendor: str = "",
    external_id: str = "",
    error: str = "",
    at: datetime | None = None,
) -> ProvisioningJob:
    """Record what the access network said about a provisioning job: provisioned, verified
    (the ONT is up with its profile), failed (retried) or dead (given up, for the
    dispatcher)."""
    if status not in ProvisioningStatus.values:
        raise DomainError(f"unknown provisioning status {status!r}", field="status")
    job = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
    at = at or timezone.now()
    job.status = status
    job.vendor = vendor or job.vendor
    job.external_id = external_id or job.external_id
    job.last_error = error[:1000]
    if status in (ProvisioningStatus.FAILED, ProvisioningStatus.DEAD):
        job.attempts += 1
    if status == ProvisioningStatus.PROVISIONED:
        job.provisioned_at = at
    if status == ProvisioningStatus.VERIFIED:
        job.provisioned_at = job.provisioned_at or at
        job.verified_at = at
    job.save()
    return job


@transaction.atomic
def provisioning_retry(*, job: ProvisioningJob, actor: User | None) -> ProvisioningJob:
    """The dispatcher asks for a failed provisioning to be tried again now."""
    _require_dispatcher(actor)
    job = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
    if job.status == ProvisioningStatus.VERIFIED:
        raise InvalidTransition("this ONT is provisioned and verified already")
    job.status = ProvisioningStatus.PENDING
    job.save(update_fields=["status", "updated_at"])
    publish(PROVISIONING_REQUESTED, ProvisioningRequested(job_id=job.pk, attempt=job.attempts))
    return job


# --- templates ------------------------------------------------------------------------------


def _task_spec(spec: dict[str, Any], position: int) -> dict[str, Any]:
    """Check one task of a template (a dict of TaskTemplate fields); returns clean fields."""
    where = f"task {position}"
    name = str(spec.get("name") or "").strip()
    if not name:
        raise DomainError(f"{where} needs a name", field="tasks")
    category = spec.get("category")
    if category not in TaskCategory.values:
        raise DomainError(
            f"{where}: category must be one of {', '.join(TaskCategory.values)}", field="tasks"
        )
    evidence = list(spec.get("evidence") or [])
    unknown = sorted(set(evidence) - set(Evidence.values))
    if unknown:
        raise DomainError(f"{where}: unknown evidence {', '.join(unknown)}", field="tasks")
    low, high = spec.get("light_min_dbm"), spec.get("light_max_dbm")
    if low is not None and high is not None and Decimal(str(low)) >= Decimal(str(high)):
        raise DomainError(f"{where}: the light range must run from low to high", field="tasks")
    contractor = spec.get("contractor")
    if contractor is not None and contractor.kind != OrganisationKind.CONTRACTOR:
        raise DomainError(f"{where}: {contractor} is not a contractor", field="tasks")
    return {
        "position": position,
        "name": name,
        "category": category,
        "instructions": str(spec.get("instructions") or ""),
        "evidence": evidence,
        "light_min_dbm": low,
        "light_max_dbm": high,
        "min_download_mbps": spec.get("min_download_mbps"),
        "min_upload_mbps": spec.get("min_upload_mbps"),
        "skill": str(spec.get("skill") or "").strip(),
        "assignee_kind": AssigneeKind.CONTRACTOR if contractor else AssigneeKind.STAFF,
        "contractor": contractor,
        "minutes": int(spec.get("minutes") or 30),
    }


@transaction.atomic
def work_template_create(
    *,
    code: str,
    name: str,
    tasks: list[dict[str, Any]],
    premises_types: list[str] | None = None,
    areas: list | None = None,
    priority: int = 0,
    description: str = "",
) -> WorkTemplate:
    """Define an installation template: its ordered tasks and which addresses it is for."""
    if WorkTemplate.objects.filter(code=code).exists():
        raise DomainError(f"a template with code {code!r} exists already", field="code")
    if not tasks:
        raise DomainError("a template needs at least one task", field="tasks")
    premises_types = list(premises_types or [])
    unknown = sorted(set(premises_types) - set(PremisesType.values))
    if unknown:
        raise DomainError(f"unknown premises types {', '.join(unknown)}", field="premises_types")
    specs = [_task_spec(spec, n) for n, spec in enumerate(tasks, start=1)]
    template = WorkTemplate.objects.create(
        code=code,
        name=name,
        description=description,
        premises_types=premises_types,
        priority=priority,
    )
    if areas:
        template.areas.set(areas)
    TaskTemplate.objects.bulk_create(TaskTemplate(template=template, **spec) for spec in specs)
    return template
