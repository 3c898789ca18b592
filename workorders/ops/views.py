"""The dispatchers' pages (/field/ops/): the overview, a work order, a crew's route for a day
and the day's appointments.

Only dispatchers (accounts.permissions.is_dispatcher) come in; anyone else signed in gets a
403. Every change is one service call behind a POST form with CSRF; a refusal (DomainError)
comes back as a message on the page, and every POST redirects to a page to GET.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Organisation
from accounts.permissions import is_dispatcher
from accounts.roles import OrganisationKind
from areas.lifecycle import AreaPhase
from areas.models import Area
from common.errors import DomainError
from wholesale.lifecycle import BookingStatus
from wholesale.models import Booking, InstallationSlot
from wholesale.selectors import areas_build_progress
from workorders import dispatch, selectors, services
from workorders.lifecycle import (
    OPEN_TASK_STATUSES,
    ProvisioningStatus,
    TaskStatus,
    WorkOrderStatus,
)
from workorders.models import Crew, ProvisioningJob, RoutePlan, Task, WorkOrder
from workorders.ops.forms import (
    AssignForm,
    BookingFilterForm,
    BookingMoveForm,
    DayForm,
    ReasonForm,
    TransferForm,
    WorkOrderFilterForm,
)

PER_PAGE = 25
MAP_LIMIT = 2000  # markers on the overview's map
QUEUE_LIMIT = 25  # rows of each queue (overdue, stuck, acceptance, provisioning)
SLOT_HORIZON = timedelta(days=21)  # how far ahead the bookings page offers windows
BUILDING_PHASES = (AreaPhase.IN_DEPLOYMENT, AreaPhase.LIVE)
FAILED_PROVISIONING = (ProvisioningStatus.FAILED, ProvisioningStatus.DEAD)


def dispatcher_required(view):
    """Page decorator: sign-in first, then 403 for anyone but the owner's dispatchers."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_dispatcher(request.user):
            raise PermissionDenied("only the network owner's dispatchers may open this page")
        return view(request, *args, **kwargs)

    return guarded


# --- small helpers -----------------------------------------------------------------------------


def _back(request, default: str):
    """Redirect to the page the form came from (a local `next`), else to `default`."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def _refused(request, error: DomainError) -> None:
    messages.error(request, f"{error.message[:1].upper()}{error.message[1:]}. Nothing changed.")


def _form_problem(request, form) -> None:
    problems = "; ".join(
        f"{field}: {' '.join(errors)}" if field != "__all__" else " ".join(errors)
        for field, errors in form.errors.items()
    )
    messages.error(request, f"Not done — {problems}.")


def _base_map() -> dict | None:
    if not settings.MAP_TILE_URL:
        return None
    return {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION}


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _km(metres: int) -> str:
    return f"{metres / 1000:.1f}"


def _status_labels() -> dict[str, str]:
    return {value: str(label) for value, label in WorkOrderStatus.choices}


def _today() -> date:
    return timezone.localdate()


# --- the overview ------------------------------------------------------------------------------


def _filtered_work_orders(filters: dict):
    """Work orders matching the overview's filters (cancelled ones only when asked for)."""
    work_orders = WorkOrder.objects.all()
    if filters.get("status"):
        work_orders = work_orders.filter(status=filters["status"])
    else:
        work_orders = work_orders.exclude(status=WorkOrderStatus.CANCELLED)
    if filters.get("area"):
        work_orders = work_orders.filter(address__area_id=filters["area"])
    if filters.get("crew"):
        crews_task = Task.objects.filter(work_order=OuterRef("pk"), crew_id=filters["crew"])
        work_orders = work_orders.filter(Exists(crews_task))
    return work_orders


def _addresses(area: Area) -> int:
    """The addresses an area holds, from its kept figures (none yet: 0)."""
    figures = getattr(area, "figures", None)
    return figures.addresses if figures else 0


def _deployment_progress() -> list[dict]:
    """Areas being built or live: homes passed, connected, work orders by status (2 queries)."""
    areas = list(areas_build_progress().filter(phase__in=BUILDING_PHASES))
    counts: dict[int, dict[str, int]] = {}
    rows = (
        WorkOrder.objects.filter(address__area_id__in=[area.pk for area in areas])
        .order_by()
        .values("address__area_id", "status")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts.setdefault(row["address__area_id"], {})[row["status"]] = row["n"]
    labels = _status_labels()
    return [
        {
            "area": area,
            "homes_passed": _addresses(area),
            "connected": area.connected,
            "percent": _percent(area.connected, _addresses(area)),
            "work_orders": [
                {"status": status, "label": labels[status], "n": counts[area.pk][status]}
                for status in WorkOrderStatus.values
                if counts.get(area.pk, {}).get(status)
            ],
        }
        for area in areas
    ]


@require_GET
@dispatcher_required
def overview(request):
    """Work orders by status on a map and a list, the queues that need the dispatcher, crew
    load, deployment progress and the rework rate."""
    form = WorkOrderFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    day = filters.get("day") or _today()
    today = _today()

    work_orders = _filtered_work_orders(filters)
    listed = (
        work_orders.select_related("address", "template")
        .prefetch_related(
            Prefetch(
                "tasks",
                queryset=Task.objects.select_related("crew").order_by("position"),
                to_attr="task_list",
            )
        )
        .order_by(F("scheduled_for").asc(nulls_last=True), "pk")
    )
    page = Paginator(listed, PER_PAGE).get_page(request.GET.get("page"))
    for work_order in page.object_list:
        live = [t for t in work_order.task_list if t.status != TaskStatus.CANCELLED]
        work_order.crew_names = sorted({t.crew.name for t in live if t.crew})
        work_order.problems = [t.problem for t in live if t.status == TaskStatus.PROBLEM]
        work_order.tasks_done = sum(t.status == TaskStatus.ACCEPTED for t in live)
        work_order.tasks_total = len(live)

    markers = [
        {
            "id": pk,
            "ref": f"WO-{pk:07d}",
            "status": status,
            "lon": round(location.x, 6),
            "lat": round(location.y, 6),
            "label": label,
            "url": reverse("ops:work_order", args=[pk]),
        }
        for pk, status, location, label in work_orders.order_by("pk").values_list(
            "pk", "status", "address__location", "address__label"
        )[:MAP_LIMIT]
    ]

    overdue_rows = selectors.overdue_work_orders(today).order_by("due_on", "pk")
    overdue = list(overdue_rows[:QUEUE_LIMIT])
    for work_order in overdue:
        work_order.days_late = (today - work_order.due_on).days
    stuck = list(
        selectors.stuck_work_orders()
        .prefetch_related(
            Prefetch(
                "tasks",
                queryset=Task.objects.filter(status=TaskStatus.PROBLEM).order_by("position"),
                to_attr="problem_tasks",
            )
        )
        .order_by("status_changed_at", "pk")[:QUEUE_LIMIT]
    )
    crews = list(selectors.crew_load(day))
    for crew in crews:
        crew.percent = min(_percent(crew.day_minutes, crew.daily_minutes), 100.0)
        crew.over = crew.day_minutes > crew.daily_minutes
    reworked, done = selectors.rework_rate()
    counts = selectors.work_order_counts()
    labels = _status_labels()
    context = {
        "form": form,
        "filters": filters,
        "day": day,
        "page": page,
        "page_query": urlencode({k: v for k, v in request.GET.items() if k != "page" and v}),
        "status_choices": WorkOrderStatus.choices,
        "areas": Area.objects.filter(phase__in=BUILDING_PHASES, is_active=True).order_by("code"),
        "crew_choices": Crew.objects.filter(is_active=True).order_by("name"),
        "counts": [
            {"status": status, "label": labels[status], "n": counts.get(status, 0)}
            for status in WorkOrderStatus.values
        ],
        "overdue": overdue,
        "overdue_count": overdue_rows.count() if len(overdue) == QUEUE_LIMIT else len(overdue),
        "stuck": stuck,
        "crews": crews,
        "progress": _deployment_progress(),
        "rework": {"reworked": reworked, "done": done, "percent": _percent(reworked, done)},
        "acceptance": list(selectors.waiting_for_acceptance()[:QUEUE_LIMIT]),
        "provisioning_failures": list(
            ProvisioningJob.objects.filter(status__in=FAILED_PROVISIONING)
            .select_related("work_order", "address")
            .order_by("-updated_at", "-pk")[:QUEUE_LIMIT]
        ),
        "here": request.get_full_path(),
        "map_config": {
            "kind": "work_orders",
            "statuses": labels,
            "markers": markers,
            "truncated": len(markers) == MAP_LIMIT,
            "baseMap": _base_map(),
        },
    }
    return render(request, "ops/overview.html", context)


@require_POST
@dispatcher_required
def auto_assign(request):
    """Give the day's open tasks without a crew to the least loaded crews that fit."""
    form = DayForm(request.POST)
    if not form.is_valid():
        _form_problem(request, form)
        return _back(request, reverse("ops:overview"))
    day = form.cleaned_data["day"]
    try:
        result = dispatch.work_orders_auto_assign(day=day, actor=request.user)
    except DomainError as error:
        _refused(request, error)
    else:
        text = f"{len(result.assigned)} task{'s' if len(result.assigned) != 1 else ''} of {day}"
        text += " given to crews"
        if result.left:
            text += f"; {len(result.left)} found no crew with the skill and room that day"
        messages.success(request, text + ".")
    return _back(request, reverse("ops:overview"))


# --- a work order ------------------------------------------------------------------------------


def _crew_options(task: Task, day: date, crews: list[Crew]) -> list[dict]:
    """The assign form's choices for a task: the crews that fit, least loaded first, then
    the others (shown, but not choosable, with why)."""
    suggested = dispatch.crews_for_task(task, day)
    fitting = {crew.pk for crew in suggested}
    options = [
        {
            "crew": crew,
            "suggested": True,
            "note": f"{crew.day_minutes} of {crew.daily_minutes} min on {day:%d %b}",
        }
        for crew in suggested
    ]
    for crew in crews:
        if crew.pk in fitting:
            continue
        if not services.crew_fits(crew, task):
            why = "another organisation"
        elif task.skill and task.skill not in crew.skills:
            why = f"lacks {task.skill}"
        else:
            why = "not available"
        options.append({"crew": crew, "suggested": False, "note": why})
    return options


@require_GET
@dispatcher_required
def work_order_detail(request, pk: int):
    """One work order: its tasks with their forms, its day, appointment, provisioning."""
    work_order = get_object_or_404(
        WorkOrder.objects.select_related("address__area", "template", "order"), pk=pk
    )
    tasks = list(
        work_order.tasks.select_related(
            "crew", "contractor", "completed_by", "accepted_by"
        ).order_by("position")
    )
    day = work_order.scheduled_for or _today()
    all_crews = list(Crew.objects.filter(is_active=True).select_related("organisation"))
    for task in tasks:
        task.is_open = task.status in OPEN_TASK_STATUSES
        task.crew_options = _crew_options(task, day, all_crews) if task.is_open else []
    booking = None
    if work_order.order_id:
        booking = (
            Booking.objects.filter(order_id=work_order.order_id, status=BookingStatus.BOOKED)
            .select_related("slot")
            .first()
        )
    route_crews = sorted({t.crew for t in tasks if t.crew}, key=lambda c: c.name)
    location = work_order.address.location
    context = {
        "work_order": work_order,
        "tasks": tasks,
        "history": list(work_order.history.select_related("actor").order_by("-changed_at")[:30]),
        "booking": booking,
        "provisioning": ProvisioningJob.objects.filter(work_order=work_order).first(),
        "organisations": Organisation.objects.filter(
            kind__in=[OrganisationKind.OWNER, OrganisationKind.CONTRACTOR], is_active=True
        ).order_by("kind", "name"),
        "may_schedule": work_order.status in dispatch.MOVABLE,
        "route_crews": route_crews if work_order.scheduled_for else [],
        "today": _today(),
        "here": request.get_full_path(),
        "map_config": {
            "kind": "work_orders",
            "statuses": _status_labels(),
            "markers": [
                {
                    "id": work_order.pk,
                    "ref": work_order.reference,
                    "status": work_order.status,
                    "lon": location.x,
                    "lat": location.y,
                    "label": work_order.address.label,
                    "url": "",
                }
            ],
            "baseMap": _base_map(),
        },
    }
    return render(request, "ops/work_order.html", context)


def _work_order_url(work_order_id: int) -> str:
    return reverse("ops:work_order", args=[work_order_id])


@require_POST
@dispatcher_required
def work_order_schedule(request, pk: int):
    """Put a work order on a day."""
    work_order = get_object_or_404(WorkOrder, pk=pk)
    form = DayForm(request.POST)
    if not form.is_valid():
        _form_problem(request, form)
    else:
        try:
            services.work_order_schedule(
                work_order=work_order, day=form.cleaned_data["day"], actor=request.user
            )
        except DomainError as error:
            _refused(request, error)
        else:
            messages.success(
                request, f"{work_order.reference} is planned for {form.cleaned_data['day']}."
            )
    return _back(request, _work_order_url(pk))


@require_POST
@dispatcher_required
def task_assign(request, pk: int):
    """Give a task to a crew (or take it off its crew)."""
    task = get_object_or_404(Task, pk=pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        _form_problem(request, form)
        return _back(request, _work_order_url(task.work_order_id))
    crew = None
    if form.cleaned_data["crew"]:
        crew = Crew.objects.select_related("organisation").filter(pk=form.cleaned_data["crew"])
        crew = crew.first()
        if crew is None:
            messages.error(request, "No such crew. Nothing changed.")
            return _back(request, _work_order_url(task.work_order_id))
    try:
        services.tasks_assign(tasks=[task], crew=crew, actor=request.user)
    except DomainError as error:
        _refused(request, error)
    else:
        messages.success(
            request, f"{task.name}: {'given to ' + crew.name if crew else 'no crew now'}."
        )
    return _back(request, _work_order_url(task.work_order_id))


@require_POST
@dispatcher_required
def task_transfer(request, pk: int):
    """Hand a task to another organisation (a contractor, or the owner's own staff)."""
    task = get_object_or_404(Task, pk=pk)
    form = TransferForm(request.POST)
    if not form.is_valid():
        _form_problem(request, form)
        return _back(request, _work_order_url(task.work_order_id))
    organisation = Organisation.objects.filter(pk=form.cleaned_data["organisation"]).first()
    if organisation is None:
        messages.error(request, "No such organisation. Nothing changed.")
        return _back(request, _work_order_url(task.work_order_id))
    try:
        services.task_transfer(
            task=task,
            organisation=organisation,
            actor=request.user,
            reason=form.cleaned_data["reason"].strip(),
        )
    except DomainError as error:
        _refused(request, error)
    else:
        messages.success(request, f"{task.name} now goes to {organisation.name}.")
    return _back(request, _work_order_url(task.work_order_id))


@require_POST
@dispatcher_required
def task_clear_problem(request, pk: int):
    """The problem of a task has been dealt with: it can be done again."""
    task = get_object_or_404(Task, pk=pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"].strip() if form.is_valid() else ""
    try:
        services.task_clear_problem(task=task, actor=request.user, reason=reason)
    except DomainError as error:
        _refused(request, error)
    else:
        messages.success(request, f"The problem of {task.name} is cleared.")
    return _back(request, _work_order_url(task.work_order_id))


@require_POST
@dispatcher_required
def task_accept(request, pk: int):
    """Accept a contractor's work."""
    task = get_object_or_404(Task.objects.select_related("work_order"), pk=pk)
    try:
        services.task_accept(task=task, actor=request.user)
    except DomainError as error:
        _refused(request, error)
    else:
        messages.success(request, f"{task.work_order.reference}: {task.name} accepted.")
    return _back(request, reverse("ops:overview"))


@require_POST
@dispatcher_required
def task_reject(request, pk: int):
    """Send a contractor's work back, with the reason."""
    task = get_object_or_404(Task.objects.select_related("work_order"), pk=pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.task_reject(task=task, actor=request.user, reason=reason)
    except DomainError as error:
        _refused(request, error)
    else:
        messages.success(request, f"{task.work_order.reference}: {task.name} sent back.")
    return _back(request, reverse("ops:overview"))


@require_POST
@dispatcher_required
def provisioning_retry(request, pk: int):
    """Try a failed provisioning again now."""
    job = get_object_or_404(ProvisioningJob.objects.select_related("work_order"), pk=pk)
    try:
        services.provisioning_retry(job=job, actor=request.user)
    except DomainError as error:
        _refused(request, error)
    else:
        messages.success(
            request, f"Provisioning of {job.ont_serial} ({job.work_order.reference}) requested."
        )
    return _back(request, _work_order_url(job.work_order_id))


# --- a crew's route --------------------------------------------------------------------------


@require_GET
@dispatcher_required
def route(request, crew_id: int, day: date):
    """A crew's day in tour order on a map, with the distance saved against booking order.
    The plan is (re)built when none is kept or its work orders changed since."""
    crew = get_object_or_404(Crew.objects.select_related("organisation", "depot"), pk=crew_id)
    plan = RoutePlan.objects.filter(crew=crew, day=day).first()
    problem = ""
    if not dispatch.route_plan_is_current(plan, crew, day):
        try:
            plan = dispatch.route_plan_build(crew=crew, day=day, actor=request.user)
        except DomainError as error:
            problem = error.message
    stops = []
    if plan is not None:
        by_id = WorkOrder.objects.select_related("address").in_bulk(plan.work_order_ids)
        ordered = [by_id[pk] for pk in plan.work_order_ids if pk in by_id]
        starts = dispatch.booking_starts(ordered)
        booked_rank = {wo.pk: n for n, wo in enumerate(dispatch.booking_order(ordered), start=1)}
        for n, work_order in enumerate(ordered, start=1):
            stops.append(
                {
                    "n": n,
                    "work_order": work_order,
                    "booked_at": starts.get(work_order.pk),
                    "booked_rank": booked_rank[work_order.pk],
                }
            )
    depot = crew.depot.location if crew.depot else None
    saving = (plan.booking_order_distance_m - plan.distance_m) if plan else 0
    context = {
        "crew": crew,
        "day": day,
        "plan": plan,
        "problem": problem,
        "stops": stops,
        "saving_m": saving,
        "km": {
            "distance": _km(plan.distance_m if plan else 0),
            "booking": _km(plan.booking_order_distance_m if plan else 0),
            "saving": _km(saving),
        },
        "saving_percent": _percent(saving, plan.booking_order_distance_m) if plan else 0,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "crews": Crew.objects.filter(is_active=True).order_by("name"),
        "map_config": {
            "kind": "route",
            "statuses": _status_labels(),
            "depot": {"lon": depot.x, "lat": depot.y, "name": crew.depot.name} if depot else None,
            "stops": [
                {
                    "n": stop["n"],
                    "ref": stop["work_order"].reference,
                    "status": stop["work_order"].status,
                    "lon": stop["work_order"].address.location.x,
                    "lat": stop["work_order"].address.location.y,
                    "label": stop["work_order"].address.label,
                    "url": _work_order_url(stop["work_order"].pk),
                }
                for stop in stops
            ],
            "baseMap": _base_map(),
        },
    }
    return render(request, "ops/route.html", context)


@require_POST
@dispatcher_required
def route_refresh(request, crew_id: int, day: date):
    """Order the crew's day again (after changes the page cannot see, or on request)."""
    crew = get_object_or_404(Crew, pk=crew_id)
    try:
        plan = dispatch.route_plan_build(crew=crew, day=day, actor=request.user)
    except DomainError as error:
        _refused(request, error)
    else:
        messages.success(
            request, f"Route of {crew.name} on {day} recalculated: {plan.distance_m} m."
        )
    return redirect("ops:route", crew_id=crew.pk, day=day)


# --- appointments ------------------------------------------------------------------------------


@require_GET
@dispatcher_required
def bookings(request):
    """The appointments of a day (in one area or all), each with the windows it can move to."""
    form = BookingFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    day = filters.get("day") or _today()
    area_id = filters.get("area")
    rows = Booking.objects.filter(
        status=BookingStatus.BOOKED, slot__starts_at__date=day
    ).select_related("order__address", "slot__area")
    if area_id:
        rows = rows.filter(slot__area_id=area_id)
    rows = list(rows.order_by("slot__starts_at", "pk"))
    area_ids = {booking.slot.area_id for booking in rows}
    now = timezone.now()
    windows: dict[int, list[InstallationSlot]] = {}
    for slot in InstallationSlot.objects.filter(
        area_id__in=area_ids,
        starts_at__gt=now,
        starts_at__lt=now + SLOT_HORIZON,
        booked__lt=F("capacity"),
    ).order_by("starts_at", "pk"):
        windows.setdefault(slot.area_id, []).append(slot)
    jobs = {
        wo.address_id: wo
        for wo in WorkOrder.objects.filter(
            address_id__in=[booking.order.address_id for booking in rows]
        ).exclude(status=WorkOrderStatus.CANCELLED)
    }
    for booking in rows:
        booking.work_order = jobs.get(booking.order.address_id)
        booking.windows = [s for s in windows.get(booking.slot.area_id, []) if s != booking.slot]
    context = {
        "day": day,
        "area_id": area_id,
        "areas": Area.objects.filter(phase__in=BUILDING_PHASES, is_active=True).order_by("code"),
        "bookings": rows,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "here": request.get_full_path(),
    }
    return render(request, "ops/bookings.html", context)


@require_POST
@dispatcher_required
def booking_move(request, pk: int):
    """Move an appointment to another window; its work order moves to that day."""
    booking = get_object_or_404(Booking, pk=pk)
    form = BookingMoveForm(request.POST)
    default = reverse("ops:bookings")
    if not form.is_valid():
        _form_problem(request, form)
        return _back(request, default)
    slot = InstallationSlot.objects.filter(pk=form.cleaned_data["slot"]).first()
    if slot is None:
        messages.error(request, "No such installation window. Nothing changed.")
        return _back(request, default)
    try:
        moved, work_order = dispatch.booking_move(booking=booking, slot=slot, actor=request.user)
    except DomainError as error:
        _refused(request, error)
    else:
        text = f"The appointment is moved to {moved.slot}"
        if work_order is not None:
            text += f"; {work_order.reference} is planned for {work_order.scheduled_for}"
        messages.success(request, text + ".")
    return _back(request, default)
