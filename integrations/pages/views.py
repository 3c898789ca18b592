"""The integrations pages for the network owner's operators (/integrations/): each GIS
system's state and last runs, "Sync now" and "Full reconciliation" with a progress
indicator, the runs and their rejections, the write-back backlog, the endpoints other GIS
read from. Operator admins and planners only (accounts.permissions.operator_required)."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import operator_required
from common.errors import DomainError
from integrations.models import SyncConflict
from integrations.registry import SYSTEMS, sync_system
from integrations.runs import (
    CONFLICT_STATES,
    conflicts_filtered,
    conflicts_open_counts,
    outbox_backlog,
    run_as_json,
    run_is_live,
    run_latest,
    run_progress,
    runs_list,
    runs_recent_figures,
    sync_request,
)
from integrations.safety import SyncAlreadyRunning, conflict_resolve

PAGE_SIZE = 25


def _since(value: str) -> datetime | None:
    """The `since` of a progress request (ISO time), or None when absent or unreadable."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if timezone.is_aware(moment) else None


@operator_required
@require_GET
def overview(request):
    """One card per system (switched on or why not, last run, chart, backlog), the buttons,
    and the endpoints other GIS systems use."""
    watched = request.GET.get("watch", "")
    since = _since(request.GET.get("since", ""))
    cards = []
    open_conflicts = conflicts_open_counts()
    for system in SYSTEMS.values():
        last = run_latest(system=system.key)
        live = run_is_live(last)
        is_watched = watched == system.key and since is not None
        cards.append(
            {
                "system": system,
                "reason": system.unavailable_reason(),
                "last": last,
                "backlog": outbox_backlog(system=system.key),
                "figures": runs_recent_figures(system=system.key),
                "live": live,
                "watch": is_watched or live,
                "since": since.isoformat() if is_watched else "",
                "open_conflicts": open_conflicts.get(system.key, 0),
            }
        )
    charts = {card["system"].key: card["figures"] for card in cards if card["figures"]}
    return render(
        request,
        "integrations/overview.html",
        {"cards": cards, "charts": charts, "open_conflicts": sum(open_conflicts.values())},
    )


@operator_required
@require_POST
def sync_start(request, system: str):
    """Start a run of `system` on a worker ("full" in the form: a full reconciliation),
    then show its progress on the overview."""
    target = sync_system(system)
    if target is None:
        raise Http404(f"no GIS system {system!r}")
    full = request.POST.get("full") == "1"
    try:
        requested_at = sync_request(system=system, full=full, actor=request.user)
    except SyncAlreadyRunning as exc:
        messages.info(request, exc.message[:1].upper() + exc.message[1:] + ".")
        return redirect(f"{reverse('integrations:overview')}#system-{system}")
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("integrations:overview")
    if full:
        messages.success(request, f"A full reconciliation with {target.label} has started.")
    else:
        messages.success(
            request,
            f"A sync with {target.label} has started: what changed since the last good run"
            " (everything, the first time).",
        )
    query = urlencode({"watch": system, "since": requested_at.isoformat()})
    return redirect(f"{reverse('integrations:overview')}?{query}#system-{system}")


@operator_required
@require_GET
def sync_status(request, system: str):
    """JSON for the progress indicator: the latest run of `system` and whether it is
    `running`, `finished` (since `?since=`) or `waiting` for a worker."""
    if sync_system(system) is None:
        detail = f"no GIS system {system!r}"
        return JsonResponse({"code": "not_found", "detail": detail}, status=404)
    since = _since(request.GET.get("since", ""))
    if request.GET.get("since") and since is None:
        return JsonResponse(
            {"code": "invalid", "field": "since", "detail": "since must be an ISO time with zone"},
            status=400,
        )
    return JsonResponse(run_progress(system=system, since=since))


@operator_required
@require_GET
def run_list(request):
    """Every run, newest first, filtered by system."""
    system = request.GET.get("system", "")
    if system and system not in SYSTEMS:
        messages.warning(request, f"{system!r} is not a GIS system; showing all")
        system = ""
    paginator = Paginator(runs_list(system=system), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = urlencode({"system": system}) if system else ""
    return render(
        request,
        "integrations/run_list.html",
        {"page": page, "page_query": query, "system": system, "systems": SYSTEMS.values()},
    )


@operator_required
@require_GET
def run_view(request, pk: int):
    """One run: its figures, errors and rejected features with their reasons."""
    run = get_object_or_404(runs_list(), pk=pk)
    return render(
        request,
        "integrations/run_detail.html",
        {
            "run": run,
            "system": sync_system(run.system),
            "figures": run_as_json(run),
            "live": run_is_live(run),
        },
    )


@operator_required
@require_GET
def conflict_list(request):
    """The conflict log: fields both sides had changed, who won, what each side had; open
    ones first by default, with "mark resolved"."""
    state = request.GET.get("state", "open")
    system = request.GET.get("system", "")
    if state not in CONFLICT_STATES:
        messages.warning(request, f"{state!r} is not open, resolved or all; showing the open ones")
        state = "open"
    if system and system not in SYSTEMS:
        messages.warning(request, f"{system!r} is not a GIS system; showing all")
        system = ""
    run = request.GET.get("run", "")
    run_id = int(run) if run.isdigit() else None
    filters = {"state": state, "system": system, "run": run_id or ""}
    page = Paginator(
        conflicts_filtered(system=system, state=state, run=run_id), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    query = urlencode({key: value for key, value in filters.items() if value})
    return render(
        request,
        "integrations/conflict_list.html",
        {
            "page": page,
            "page_query": query,
            "filters": filters,
            "states": CONFLICT_STATES,
            "systems": SYSTEMS.values(),
            "here": request.get_full_path(),
        },
    )


@operator_required
@require_POST
def conflict_resolve_view(request, pk: int):
    """Close one conflict with the operator's note (integrations.safety.conflict_resolve)."""
    conflict = get_object_or_404(SyncConflict, pk=pk)
    try:
        conflict_resolve(conflict=conflict, actor=request.user, note=request.POST.get("note", ""))
    except DomainError as exc:
        messages.warning(request, exc.message[:1].upper() + exc.message[1:] + ".")
    else:
        messages.success(
            request, f"Conflict on {conflict.field} of feature {conflict.external_id} resolved."
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("integrations:conflicts")
    return redirect(target)
