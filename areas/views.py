"""The area pages: the list (/areas/) with its exports, and an area's own page (/areas/<id>/).

Owner staff read; operators (operator admins, planners) move phases, change settings and
delete an area still in planning, each through one service call. Figures are read from the
kept `AreaFigures`, never counted.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import is_operator, operator_required, owner_staff_required
from areas import services
from areas.exports import (
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    areas_csv,
    areas_xlsx,
    export_filename,
)
from areas.forms import HUNDRED, AreaPhaseForm, AreaSettingsForm
from areas.lifecycle import AREA_TRANSITIONS, AreaPhase
from areas.listing import AreaListing
from areas.models import Area, AreaDailyFigures, AreaFigures, AreaSplit
from common.errors import DomainError

# The button for each move, the service behind it, and whether it needs a confirmation.
PHASE_ACTIONS = {
    AreaPhase.DEMAND_AGGREGATION: (
        "Start demand aggregation",
        services.area_start_demand_aggregation,
        False,
    ),
    AreaPhase.IN_DEPLOYMENT: ("Move into deployment", services.area_deploy, True),
    AreaPhase.LIVE: ("Mark as live", services.area_go_live, True),
    AreaPhase.PLANNING: ("Return to planning", services.area_return_to_planning, False),
}
# The order the buttons appear in: forward first, back last.
ACTION_ORDER = [
    AreaPhase.DEMAND_AGGREGATION,
    AreaPhase.IN_DEPLOYMENT,
    AreaPhase.LIVE,
    AreaPhase.PLANNING,
]

LIFECYCLE_ORDER = list(AreaPhase.values)  # planning → … → live

# Tile endpoints of the area page's map (the tiles' own URL documentation).
ADDRESS_TILES_URL = "/tiles/addresses/{z}/{x}/{y}.pbf"
DEMAND_TILES_URL = "/tiles/demand/{z}/{x}/{y}.pbf"


# --- the list ----------------------------------------------------------------


@require_GET
@owner_staff_required
def area_list(request):
    """Every area with its figures: sortable, filterable, paginated, exportable."""
    listing = AreaListing(request.GET)
    totals = listing.totals
    paginator = Paginator(listing.areas, listing.per_page)
    paginator.count = totals.areas  # already counted by the totals query
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "areas/list.html",
        {
            "listing": listing,
            "form": listing.form,
            "page": page,
            "page_links": _page_links(listing, page),
            "previous_url": (
                "?" + listing.query_string(page=str(page.previous_page_number()))
                if page.has_previous()
                else None
            ),
            "next_url": (
                "?" + listing.query_string(page=str(page.next_page_number()))
                if page.has_next()
                else None
            ),
            "totals": totals,
            "phases": AreaPhase.choices,
        },
    )


def _page_links(listing: AreaListing, page) -> list[dict]:
    """Numbered links around the current page, first and last always shown; None is a gap."""
    count = page.paginator.num_pages
    if count <= 1:
        return []
    shown = sorted(
        {1, count} | {n for n in range(page.number - 2, page.number + 3) if 1 <= n <= count}
    )
    links: list[dict] = []
    previous = 0
    for number in shown:
        if number - previous > 1:
            links.append({"gap": True})
        links.append(
            {
                "number": number,
                "url": "?" + listing.query_string(page=str(number)),
                "current": number == page.number,
            }
        )
        previous = number
    return links


@require_GET
@owner_staff_required
def area_export(request, fmt: str):
    """The list's rows (every page, same filters and order) as CSV or XLSX."""
    listing = AreaListing(request.GET)
    if fmt == "csv":
        body, content_type = areas_csv(listing), CSV_CONTENT_TYPE
    elif fmt == "xlsx":
        body, content_type = areas_xlsx(listing), XLSX_CONTENT_TYPE
    else:
        raise Http404("exports are CSV or XLSX")
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(fmt)}"'
    return response


# --- an area's page ----------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an area's history, newest first on the page."""

    at: datetime
    kind: str  # created, phase, split, split_from, deleted
    actor: object = None
    reason: str = ""
    from_phase: str = ""
    to_phase: str = ""
    split: AreaSplit | None = None
    detail: str = ""

    @property
    def from_label(self) -> str:
        return AreaPhase(self.from_phase).label if self.from_phase else ""

    @property
    def to_label(self) -> str:
        return AreaPhase(self.to_phase).label if self.to_phase else ""


SPLIT_MODES = {"line": "along a drawn line", "half": "in halves", "share": "by share of orders"}


def _figures(area: Area) -> AreaFigures:
    try:
        return area.figures
    except AreaFigures.DoesNotExist:  # not counted yet: show zeros rather than fail
        return AreaFigures(area=area)


def _history(area: Area, split: AreaSplit | None, origin: AreaSplit | None) -> list[HistoryEntry]:
    changes = list(area.phase_history.select_related("actor"))
    if origin:
        # a part of a split takes over its parent's phase: one entry says both
        inherited = next(
            (c for c in changes if c.from_phase == c.to_phase and c.changed_at == origin.split_at),
            None,
        )
        if inherited:
            changes.remove(inherited)
        entries = [
            HistoryEntry(
                at=origin.split_at,
                kind="split_from",
                actor=origin.actor,
                reason=origin.reason,
                split=origin,
                detail=SPLIT_MODES.get(origin.mode, origin.mode),
                to_phase=inherited.to_phase if inherited else "",
            )
        ]
    else:
        entries = [HistoryEntry(at=area.created_at, kind="created")]
    entries += [
        HistoryEntry(
            at=change.changed_at,
            kind="phase",
            actor=change.actor,
            reason=change.reason,
            from_phase=change.from_phase,
            to_phase=change.to_phase,
        )
        for change in changes
    ]
    if area.deleted_at:
        entries.append(HistoryEntry(at=area.deleted_at, kind="deleted"))
    if split:
        entries.append(
            HistoryEntry(
                at=split.split_at,
                kind="split",
                actor=split.actor,
                reason=split.reason,
                split=split,
                detail=SPLIT_MODES.get(split.mode, split.mode),
            )
        )
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def demand_series(area: Area, *, today: date | None = None) -> dict:
    """The daily demand series for the chart: one point a day from the first recorded day to
    today (or the split, for a retired area); a day without a row carries the last values."""
    rows = list(
        AreaDailyFigures.objects.filter(area=area)
        .order_by("day")
        .values_list("day", "interests", "orders", "take_rate", "interest_rate")
    )
    series: dict = {"days": [], "interests": [], "orders": [], "takeRate": [], "interestRate": []}
    series["target"] = float(area.target_take_rate * HUNDRED)
    if not rows:
        return series
    last_day = today or timezone.localdate()
    if not area.is_active or rows[-1][0] > last_day:
        last_day = rows[-1][0]  # a split area's series ends with it
    by_day = {row[0]: row[1:] for row in rows}
    day, current = rows[0][0], rows[0][1:]
    while day <= last_day:
        current = by_day.get(day, current)
        interests, orders, take_rate, interest_rate = current
        series["days"].append(day.isoformat())
        series["interests"].append(interests)
        series["orders"].append(orders)
        series["takeRate"].append(float(take_rate * HUNDRED))
        series["interestRate"].append(float(interest_rate * HUNDRED))
        day += timedelta(days=1)
    return series


def _tiles_url(template: str) -> str | None:
    """The tile URL template when that tile endpoint is served here, else None."""
    probe = template.format(z=0, x=0, y=0)
    try:
        resolve(probe)
    except Resolver404:
        return None
    return template


def _map_url(area: Area, **extra: str) -> str:
    """The area on the planners' map (/map/?area=<id>), with extra parameters."""
    try:
        base = reverse("areas:map")
    except NoReverseMatch:  # the map page is mounted by its own module
        base = "/map/"
    return f"{base}?{urlencode({'area': area.pk, **extra})}"


@require_GET
@owner_staff_required
def area_detail(request, pk: int):
    """An area's figures, map, demand over time and history; operators also get actions."""
    area = get_object_or_404(Area.objects.select_related("figures", "parent"), pk=pk)
    figures = _figures(area)
    split = (
        AreaSplit.objects.select_related("first_child", "second_child", "actor")
        .filter(parent=area)
        .first()
    )
    origin = (
        AreaSplit.objects.select_related("parent", "actor")
        .filter(Q(first_child=area) | Q(second_child=area))
        .first()
    )
    children = list(Area.objects.filter(parent=area).order_by("code"))
    may_change = is_operator(request.user) and area.is_active
    # only an area still in planning may be deleted (the service also refuses one with a
    # standing signup, and says so)
    may_delete = may_change and area.phase == AreaPhase.PLANNING
    target_orders = math.ceil(area.target_take_rate * figures.homes)
    boundary = json.loads(area.boundary.geojson)
    context = {
        "area": area,
        "figures": figures,
        "is_ready": figures.is_ready_to_build,
        # "ready to build" and the opt-in only mean something before the decision to build
        "is_deciding": area.phase in (AreaPhase.PLANNING, AreaPhase.DEMAND_AGGREGATION),
        "orders_to_target": max(target_orders - figures.addresses_with_order, 0),
        "progress_percent": min(float(figures.progress) * 100, 100),
        "children": children,
        "split": split,
        "origin": origin,
        "history": _history(area, split, origin),
        "may_change": may_change,
        "may_delete": may_delete,
        "delete_confirm": (
            f"Delete area {area.code}? It goes off the map and the lists (kept in history),"
            " its addresses go to the area around them, and its code stays taken."
        ),
        "actions": _phase_actions(area) if may_change else [],
        "settings_form": AreaSettingsForm(
            initial={
                "name": area.name,
                "target_percent": _percent_input(area.target_take_rate),
                "deploys_at_target": area.deploys_at_target,
            }
        ),
        "map_url": _map_url(area),
        "split_url": _map_url(area, split="1"),
        "page_config": {
            "areaId": area.pk,
            "boundary": boundary,
            "series": demand_series(area),
            "phase": area.phase,
            "baseMap": (
                {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION}
                if settings.MAP_TILE_URL
                else None
            ),
            "addressTiles": _tiles_url(ADDRESS_TILES_URL),
            "demandTiles": _tiles_url(DEMAND_TILES_URL),
        },
    }
    return render(request, "areas/detail.html", context)


def _percent_input(rate) -> str:
    """A kept fraction as the percent a form shows: 0.4000 → "40", 0.3750 → "37.5"."""
    text = f"{rate * HUNDRED:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _phase_actions(area: Area) -> list[dict]:
    allowed = AREA_TRANSITIONS.allowed_from(area.phase)
    return [
        {
            "to": phase,
            "label": PHASE_ACTIONS[phase][0],
            "confirm": (
                f"Move {area.code} into {AreaPhase(phase).label}? This cannot be undone."
                if PHASE_ACTIONS[phase][2]
                else ""
            ),
            "is_back": LIFECYCLE_ORDER.index(phase) < LIFECYCLE_ORDER.index(area.phase),
        }
        for phase in ACTION_ORDER
        if phase in allowed
    ]


@require_POST
@operator_required
def area_phase(request, pk: int):
    """Move an area to another phase through its service; refusals come back as a message."""
    area = get_object_or_404(Area, pk=pk)
    form = AreaPhaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Unknown phase {request.POST.get('to', '')!r}; nothing changed.")
        return redirect("areas:detail", pk=area.pk)
    target = form.cleaned_data["to"]
    _label, service, _confirm = PHASE_ACTIONS[target]
    try:
        moved = service(area=area, actor=request.user, reason=form.cleaned_data["reason"].strip())
    except DomainError as error:
        messages.error(request, f"{error.message}. Nothing changed.")
    else:
        messages.success(request, f"{moved.code} is now in phase {moved.get_phase_display()}.")
    return redirect("areas:detail", pk=area.pk)


@require_POST
@operator_required
def area_delete(request, pk: int):
    """Delete an area drawn by mistake through its service; a refusal comes back as a message."""
    area = get_object_or_404(Area, pk=pk)
    try:
        services.area_delete(area=area, actor=request.user, reason="deleted on its page")
    except DomainError as error:
        messages.error(request, f"{error.message[:1].upper()}{error.message[1:]}. Nothing changed.")
        return redirect("areas:detail", pk=area.pk)
    messages.success(request, f"Area {area.code} was deleted; its page stays as history.")
    return redirect("areas:list")


@require_POST
@operator_required
def area_settings(request, pk: int):
    """Change an area's name, target take rate and opt-in to deploy at the target."""
    area = get_object_or_404(Area, pk=pk)
    form = AreaSettingsForm(request.POST)
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[field].label or field}: {' '.join(errors)}"
            if field != "__all__"
            else " ".join(errors)
            for field, errors in form.errors.items()
        )
        messages.error(request, f"Settings not saved — {problems}.")
        return redirect("areas:detail", pk=area.pk)
    phase_before = area.phase
    try:
        updated = services.area_update(
            area=area,
            name=form.cleaned_data["name"],
            target_take_rate=form.target_take_rate,
            deploys_at_target=form.cleaned_data["deploys_at_target"],
            actor=request.user,
        )
    except DomainError as error:
        messages.error(request, f"Settings not saved — {error.message}.")
        return redirect("areas:detail", pk=area.pk)
    messages.success(request, f"Settings of {updated.code} saved.")
    if updated.phase != phase_before:
        messages.info(
            request,
            f"The take rate has reached the target: {updated.code} moved into "
            f"{updated.get_phase_display()}.",
        )
    return redirect("areas:detail", pk=area.pk)
