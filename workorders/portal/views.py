"""The technicians' field portal: "my day" (the day's open tasks in route order, on a small
map), a task's page (address, instructions, evidence form, photos, history) and the three
writes a technician makes from a phone — sign a task off, report a problem, add a photo.

Who: technicians, contractor technicians and dispatchers (`is_field_user`); anyone else
signed in gets 403, anonymous visitors the sign-in page. Tasks are looked up through
`tasks_visible_to`, so another organisation's task is a 404, never a peek.

Each write is one service call with the device-made `client_uid`, so a phone that sends
the same submission twice (a flaky connection, its offline queue) changes things once. A
refusal (`DomainError`) is shown next to its field and changes nothing. A `fetch` that
asks for JSON (`Accept: application/json`) gets the task's new status or the refusal as
JSON — that is what the page's script and its offline queue read.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied as PageForbidden
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import is_field_user
from common.errors import DomainError
from workorders.lifecycle import OPEN_TASK_STATUSES, Evidence, TaskStatus
from workorders.models import Task, TaskPhoto
from workorders.portal.forms import EvidenceForm, PhotoForm, ProblemForm
from workorders.selectors import my_tasks_on, tasks_visible_to
from workorders.services import (
    task_complete,
    task_photo_add,
    task_report_problem,
)

SIGNABLE_STATUSES = (TaskStatus.PENDING, TaskStatus.REWORK)


# --- access ---------------------------------------------------------------------------------


def _wants_json(request: HttpRequest) -> bool:
    """The page's script (and its offline queue) asks for JSON; a plain form post does not."""
    return "application/json" in request.headers.get("Accept", "")


def field_user_required(view):
    """Let field users in; anonymous visitors go to sign in (a script gets 401, so its queue
    keeps the submission), anyone else gets 403."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            if _wants_json(request):
                return JsonResponse(
                    {"ok": False, "code": "signed_out", "detail": "sign in again to send this"},
                    status=401,
                )
            return redirect_to_login(request.get_full_path())
        if not is_field_user(request.user):
            if _wants_json(request):
                return JsonResponse(
                    {"ok": False, "code": "permission_denied", "detail": "not a field user"},
                    status=403,
                )
            raise PageForbidden("The field portal is for technicians and dispatchers.")
        return view(request, *args, **kwargs)

    return guarded


def _visible_task(request: HttpRequest, pk: int) -> Task:
    """The task if the user may see it; 404 otherwise (another organisation's included)."""
    return get_object_or_404(tasks_visible_to(request.user), pk=pk)


def _base_map() -> dict | None:
    """The configured base map (as on /map/ and /lookup/), or None: the maps work without."""
    if not settings.MAP_TILE_URL:
        return None
    return {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION}


def day_link(day: date) -> str:
    """The "my day" page of a day."""
    return reverse("field:my-day") + f"?day={day.isoformat()}"


# --- my day ---------------------------------------------------------------------------------


@require_GET
@field_user_required
def my_day(request: HttpRequest) -> HttpResponse:
    """The user's open tasks of a day (today unless `?day=`) in route order, on a map."""
    today = timezone.localdate()
    day = today
    asked = request.GET.get("day")
    if asked:
        try:
            parsed = parse_date(asked) if len(asked) == 10 else None
        except ValueError:  # well-formed but no such day (2025-02-30)
            parsed = None
        if parsed is None:
            messages.error(request, f"{asked!r} is not a day (YYYY-MM-DD): showing today.")
        else:
            day = parsed
    tasks = my_tasks_on(request.user, day)
    stops: list[dict] = []
    by_work_order: dict[int, dict] = {}
    for task in tasks:
        stop = by_work_order.get(task.work_order_id)
        if stop is None:
            address = task.work_order.address
            stop = {
                "number": len(stops) + 1,
                "work_order": task.work_order,
                "address": address,
                "tasks": [],
                "minutes": 0,
            }
            by_work_order[task.work_order_id] = stop
            stops.append(stop)
        stop["tasks"].append(task)
        stop["minutes"] += task.minutes
    page_config = {
        "baseMap": _base_map(),
        "stops": [
            {
                "number": stop["number"],
                "lon": stop["address"].location.x,
                "lat": stop["address"].location.y,
                "label": stop["address"].label,
                "url": reverse("field:task", args=[stop["tasks"][0].pk]),
            }
            for stop in stops
        ],
    }
    return render(
        request,
        "field/my_day.html",
        {
            "day": day,
            "today": today,
            "yesterday": day - timedelta(days=1),
            "tomorrow": day + timedelta(days=1),
            "stops": stops,
            "task_count": len(tasks),
            "total_minutes": sum(task.minutes for task in tasks),
            "page_config": page_config,
        },
    )


# --- a task ---------------------------------------------------------------------------------


def _render_task(
    request: HttpRequest,
    task: Task,
    *,
    evidence_form: EvidenceForm | None = None,
    problem_form: ProblemForm | None = None,
    photo_error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The task page, with forms as posted (and their errors) when a post was refused."""
    uid = uuid.uuid4()
    evidence_form = evidence_form or EvidenceForm(task=task, initial={"client_uid": uid})
    problem_form = problem_form or ProblemForm(initial={"client_uid": uuid.uuid4()})
    events = list(task.events.select_related("actor"))
    rejection = None
    if task.status == TaskStatus.REWORK:
        rejection = next((e for e in reversed(events) if e.kind == "rejected"), None)
    address = task.work_order.address
    light_range = None
    if Evidence.LIGHT_LEVEL in task.evidence:
        light_range = (task.light_min_dbm, task.light_max_dbm)
    return render(
        request,
        "field/task.html",
        {
            "task": task,
            "work_order": task.work_order,
            "address": address,
            "events": events,
            "rejection": rejection,
            "photos": list(task.photos.all()),
            "needs_photo": Evidence.PHOTO in task.evidence,
            "needs_notes": Evidence.NOTES in task.evidence,
            "light_range": light_range,
            "may_sign_off": task.status in SIGNABLE_STATUSES,
            "may_report": task.status in SIGNABLE_STATUSES,
            "may_add_photos": task.status in OPEN_TASK_STATUSES,
            "evidence_form": evidence_form,
            "problem_form": problem_form,
            "photo_form": PhotoForm(initial={"client_uid": uuid.uuid4()}),
            "photo_error": photo_error,
            "day": task.work_order.scheduled_for,
            "page_config": {
                "baseMap": _base_map(),
                "point": {"lon": address.location.x, "lat": address.location.y},
                "label": address.label,
            },
        },
        status=status,
    )


@require_GET
@field_user_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A task's page: where, what to do, what to record, what happened so far."""
    return _render_task(request, _visible_task(request, pk))


def _answer(task: Task) -> dict:
    """What a script learns after a write: the task's state and where to go next."""
    day = task.work_order.scheduled_for
    return {
        "ok": True,
        "task": task.pk,
        "status": task.status,
        "status_display": task.get_status_display(),
        "next": day_link(day) if day else reverse("field:my-day"),
    }


def _refusal(error: DomainError) -> JsonResponse:
    """A refused write as JSON, with the service's status code (400, 403, 409)."""
    return JsonResponse({"ok": False, **error.as_dict()}, status=error.status_code)


def _form_refusal(form) -> JsonResponse:
    """A post whose form does not even parse (a missing or malformed id): 400 as JSON."""
    field, errors = next(iter(form.errors.items()))
    return JsonResponse(
        {"ok": False, "code": "invalid", "detail": " ".join(errors), "field": field}, status=400
    )


def _attach(form, error: DomainError) -> None:
    """Show a refusal next to its field (or above the form when it names none of its own)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


@require_POST
@field_user_required
def task_sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    """Sign a task off with its evidence (retry-safe by `client_uid`)."""
    task = _visible_task(request, pk)
    form = EvidenceForm(request.POST, task=task)
    wants_json = _wants_json(request)
    if not form.is_valid():
        if wants_json:
            return _form_refusal(form)
        return _render_task(request, task, evidence_form=form, status=400)
    try:
        task = task_complete(
            task=task,
            actor=request.user,
            evidence=form.evidence(),
            client_uid=form.cleaned_data["client_uid"],
        )
    except DomainError as error:
        if wants_json:
            return _refusal(error)
        _attach(form, error)
        return _render_task(request, task, evidence_form=form, status=error.status_code)
    task = tasks_visible_to(request.user).get(pk=task.pk)
    answer = _answer(task)
    if wants_json:
        return JsonResponse(answer)
    messages.success(request, f"{task.name}: {task.get_status_display()}.")
    return redirect(answer["next"])


@require_POST
@field_user_required
def task_problem(request: HttpRequest, pk: int) -> HttpResponse:
    """Report that a task cannot be finished (retry-safe by `client_uid`)."""
    task = _visible_task(request, pk)
    form = ProblemForm(request.POST)
    wants_json = _wants_json(request)
    if not form.is_valid():
        if wants_json:
            return _form_refusal(form)
        return _render_task(request, task, problem_form=form, status=400)
    try:
        task = task_report_problem(
            task=task,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            client_uid=form.cleaned_data["client_uid"],
        )
    except DomainError as error:
        if wants_json:
            return _refusal(error)
        _attach(form, error)
        return _render_task(request, task, problem_form=form, status=error.status_code)
    task = tasks_visible_to(request.user).get(pk=task.pk)
    answer = _answer(task)
    if wants_json:
        return JsonResponse(answer)
    messages.success(request, f"{task.name}: problem reported to the dispatcher.")
    return redirect(answer["next"])


def _photo_uid(base: uuid.UUID, index: int) -> uuid.UUID:
    """The id of the n-th photo of one plain (script-less) post: the form's id for the
    first, ids derived from it for the others — the same post sent again stores nothing new."""
    return base if index == 0 else uuid.uuid5(base, f"photo-{index}")


@require_POST
@field_user_required
def task_photos(request: HttpRequest, pk: int) -> HttpResponse:
    """Store photos for a task through the storage API (the script sends one per post)."""
    task = _visible_task(request, pk)
    form = PhotoForm(request.POST)
    wants_json = _wants_json(request)
    files = request.FILES.getlist("photo")
    if not form.is_valid():
        if wants_json:
            return _form_refusal(form)
        return _render_task(request, task, photo_error="the photo id is missing", status=400)
    if not files:
        error = DomainError("choose a photo to add", field="photo")
        if wants_json:
            return _refusal(error)
        return _render_task(request, task, photo_error=error.message, status=400)
    stored: list[TaskPhoto] = []
    try:
        for index, image in enumerate(files):
            stored.append(
                task_photo_add(
                    task=task,
                    actor=request.user,
                    image=image,
                    client_uid=_photo_uid(form.cleaned_data["client_uid"], index),
                    content_type=image.content_type or "",
                )
            )
    except DomainError as error:
        if wants_json:
            return _refusal(error)
        return _render_task(request, task, photo_error=error.message, status=error.status_code)
    if wants_json:
        return JsonResponse(
            {
                **_answer(task),
                "photos": [photo.pk for photo in stored],
                "photo_urls": [reverse("field:photo", args=[photo.pk]) for photo in stored],
                "photo_count": task.photos.count(),
            }
        )
    messages.success(request, f"{len(stored)} photo(s) added.")
    return redirect("field:task", pk=task.pk)


@require_GET
@field_user_required
def photo_file(request: HttpRequest, pk: int) -> FileResponse:
    """A task photo, read back through the storage API, for those who may see its task."""
    photo = get_object_or_404(
        TaskPhoto.objects.filter(task__in=tasks_visible_to(request.user)), pk=pk
    )
    try:
        handle = photo.image.open("rb")
    except FileNotFoundError as exc:
        raise Http404("the photo file is missing") from exc
    return FileResponse(handle, content_type=photo.content_type or "application/octet-stream")
