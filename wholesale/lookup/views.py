"""The customers' pages: /lookup/ (find an address), an address's answer and marketplace, the
signup and interest forms, and an order's own page (status, connection cost, installation).

No login: anyone may ask about any address, and the answer holds only what the network knows
about the place (its state, the area's demand in numbers, the offers and the connection cost),
never who lives there or who ordered. An order's page is reached only through the unguessable
link of its confirmation e-mail. Every write is one service call; a refusal (`DomainError`)
becomes a message on the page, never an error page.
"""

from __future__ import annotations

import json
from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.gis.db.models import Extent
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from areas.models import Area
from common.errors import DomainError, NotFound
from gis_core.models import Address
from gis_core.search import search_addresses
from wholesale.connection_cost import order_connection_cost
from wholesale.lookup import display
from wholesale.lookup.forms import BookingForm, InterestForm, SearchForm, SignupForm
from wholesale.models import InstallationSlot, Offering, Order
from wholesale.selectors import available_slots
from wholesale.serviceability import RETIRED, serviceability_for_address
from wholesale.services import (
    booking_cancel,
    booking_create,
    booking_reschedule,
    interest_place,
    signup_place,
)

SEARCH_LIMIT = 10
NETWORK_CACHE_KEY = "lookup:network"
NETWORK_CACHE_SECONDS = 600
MAP_OUTLINES_MAX = 200  # beyond this many areas the map shows none (the page stays small)
OUTLINE_TOLERANCE = 0.0001  # degrees, about 10 m: enough for an overview
# gis_core's public address API (docs/api-lookup.md), called by the page's script.
SEARCH_API_URL = "/api/addresses/search"
NEAREST_API_URL = "/api/addresses/nearest"


# --- shared ------------------------------------------------------------------


def _base_map() -> dict | None:
    """The configured base map (as on /map/), or None: the pages work without one."""
    if not settings.MAP_TILE_URL:
        return None
    return {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION}


def _network() -> dict:
    """Where /lookup/'s map opens (the active areas' extent) and, for a network of a few
    areas, their simplified outlines coloured by phase: public facts, cached a while."""
    network = cache.get(NETWORK_CACHE_KEY)
    if network is None:
        areas = Area.objects.filter(is_active=True)
        box = areas.aggregate(box=Extent("boundary"))["box"]
        outlines = []
        if box and areas.count() <= MAP_OUTLINES_MAX:
            for area in areas.only("phase", "boundary"):
                shape = area.boundary.simplify(OUTLINE_TOLERANCE, preserve_topology=True)
                outlines.append({"phase": area.phase, "boundary": json.loads(shape.geojson)})
        network = {"extent": list(box) if box else None, "areas": outlines}
        cache.set(NETWORK_CACHE_KEY, network, NETWORK_CACHE_SECONDS)
    return network


def _answer(address_id: int) -> dict:
    try:
        return serviceability_for_address(address_id).as_dict()
    except NotFound as error:
        raise Http404(str(error)) from error


def _show_error(request, error: DomainError, form=None) -> None:
    """A refusal as a message; on the form's field too when it names one."""
    message = error.message[:1].upper() + error.message[1:]
    if form is not None and error.field and error.field in form.fields:
        form.add_error(error.field, message)
    messages.error(request, message)


# --- /lookup/ ----------------------------------------------------------------


@require_GET
def lookup_home(request):
    """The address box (type-ahead with JavaScript, a plain search without), and the map."""
    form = SearchForm(request.GET or None)
    result = None
    if form.is_valid() and form.cleaned_data["q"]:
        try:
            result = search_addresses(form.cleaned_data["q"], limit=SEARCH_LIMIT)
        except DomainError as error:  # the search's own limits on what it accepts
            form.add_error("q", error.message[:1].upper() + error.message[1:])
    return render(
        request,
        "lookup/search.html",
        {
            "form": form,
            "query": request.GET.get("q", "").strip()[: SearchForm.base_fields["q"].max_length],
            "result": result,
            "page_config": {
                "searchUrl": SEARCH_API_URL,
                "nearestUrl": NEAREST_API_URL,
                "addressUrl": reverse("lookup:address", args=[0]).replace("/0/", "/{id}/"),
                **_network(),
                "baseMap": _base_map(),
            },
        },
    )


# --- an address's answer and marketplace -------------------------------------


@require_GET
def address_answer(request, pk: int):
    """Can this address get fibre, when, what does the connection cost and who offers what."""
    answer = _answer(pk)
    sort = request.GET.get("sort", display.DEFAULT_SORT)
    if sort not in display.SORTS:
        sort = display.DEFAULT_SORT
    state_label, tone = display.STATE_TONES.get(answer["state"], (answer["state"], "muted"))
    address = answer["address"] or {}
    return render(
        request,
        "lookup/address.html",
        {
            "answer": answer,
            "address_id": pk,
            "state_label": state_label,
            "tone": tone,
            "cost": display.cost_box(answer.get("connection_cost")),
            "offerings": display.offering_rows(answer.get("offerings") or [], sort),
            "sort": sort,
            "sorts": [(key, label) for key, (label, _) in display.SORTS.items()],
            "demand": display.demand_progress(answer.get("demand")),
            "window": _window(answer.get("window")),
            "page_config": {
                "address": {"lon": address.get("lon"), "lat": address.get("lat")},
                "label": address.get("label", ""),
                "boundary": (answer.get("area") or {}).get("boundary"),
                "state": answer["state"],
                "areaPhase": (answer.get("area") or {}).get("phase"),
                "baseMap": _base_map(),
            },
        },
    )


def _window(window: dict | None) -> dict | None:
    """The expected connection window with real dates, for the `date` filter."""
    if not window:
        return None
    return {"start": date.fromisoformat(window["from"]), "end": date.fromisoformat(window["until"])}


# --- signup --------------------------------------------------------------------


def _asking(pk: int) -> tuple[dict, Address, str]:
    """A form's address: its answer, the address itself and the way back to the answer."""
    answer = _answer(pk)
    return answer, get_object_or_404(Address, pk=pk), reverse("lookup:address", args=[pk])


def _closed(answer: dict, otherwise: str) -> str:
    """Why a form is closed: a retired address says so (its headline), others `otherwise`."""
    return answer["headline"] if answer["state"] == RETIRED else otherwise


def _chosen(answer: dict, request) -> tuple[dict | None, bool]:
    """The offering asked for (it must be one of the address's offers) or connection-only."""
    connection_only = (request.POST or request.GET).get("connection_only") in ("1", "true", "on")
    if connection_only:
        return None, True
    raw = (request.POST or request.GET).get("offering", "")
    chosen = next((o for o in answer.get("offerings") or [] if str(o["id"]) == raw), None)
    return chosen, False


@require_http_methods(["GET", "POST"])
def signup(request, pk: int):
    """The signup form, with the connection cost first in its summary; POST signs up."""
    answer, address, back = _asking(pk)
    if not answer["can_sign_up"]:
        messages.info(request, _closed(answer, "This address cannot be signed up for yet."))
        return redirect(back)
    chosen, connection_only = _chosen(answer, request)
    if connection_only and not answer["connection_only_available"]:
        messages.error(request, "A connection on its own is not offered at this address.")
        return redirect(back)
    if not connection_only and chosen is None:
        messages.error(request, "Please choose one of the offers available at this address.")
        return redirect(back + "#offers")

    form = SignupForm(request.POST or None, address=address)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = signup_place(
                address=address,
                offering=Offering.objects.get(pk=chosen["id"]) if chosen else None,
                connection_only=connection_only,
                name=data["name"],
                email=data["email"],
                phone=data["phone"],
                consent=data["consent"],
                unit=data.get("unit", ""),
            )
        except DomainError as error:
            _show_error(request, error, form)
        else:
            messages.success(
                request,
                f"Thank you: your order {order.reference} is in. "
                "We have sent a confirmation to your e-mail.",
            )
            return redirect("lookup:order", token=order.manage_token)
    offering = display.offering_rows([chosen])[0] if chosen else None
    return render(
        request,
        "lookup/signup.html",
        {
            "answer": answer,
            "address_id": pk,
            "form": form,
            "offering": offering,
            "connection_only": connection_only,
            "cost": display.cost_box(answer.get("connection_cost")),
        },
    )


@require_http_methods(["GET", "POST"])
def interest(request, pk: int):
    """Register interest (no commitment); it counts in the area's demand."""
    answer, address, back = _asking(pk)
    if not answer["can_register_interest"]:
        closed = "Registering interest is not open for this address."
        messages.info(request, _closed(answer, closed))
        return redirect(back)
    form = InterestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            interest_place(
                address=address, name=data["name"], email=data["email"], consent=data["consent"]
            )
        except DomainError as error:
            _show_error(request, error, form)
        else:
            messages.success(
                request,
                "Thank you: your interest is noted. We tell you by e-mail as soon as you can "
                "sign up at this address.",
            )
            return redirect(back)
    return render(
        request,
        "lookup/interest.html",
        {"answer": answer, "address_id": pk, "form": form},
    )


# --- an order's own page ------------------------------------------------------


def _order(token: str) -> Order:
    order = (
        Order.objects.select_related(
            "address", "isp", "offering__product", "customer", "connection_cost_billed_by"
        )
        .filter(manage_token=token)
        .first()
    )
    if order is None or not token:
        raise Http404("No order has this link.")
    return order


@require_http_methods(["GET", "POST"])
def order_manage(request, token: str):
    """An order's page: reference, status, what happens next, the connection cost, booking."""
    order = _order(token)
    answer = _answer(order.address_id)
    booking = order.active_booking
    form = BookingForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                done = _book(order, booking, form.cleaned_data)
            except DomainError as error:
                _show_error(request, error)
            else:
                messages.success(request, done)
                return redirect("lookup:order", token=token)
        else:
            for errors in form.errors.values():
                for message in errors:
                    messages.error(request, message)
    slots = list(available_slots(order)) if answer.get("booking_open") else []
    return render(
        request,
        "lookup/order.html",
        {
            "order": order,
            "answer": answer,
            "status_label": order.get_status_display(),
            "next_step": display.next_step(order.status, answer["state"]),
            "cost": display.cost_box(order_connection_cost(order)),
            "offering": _order_offering(order),
            "booking": booking,
            "slots": slots,
            "slot_days": _slot_days(slots, booking),
            "is_live": order.status not in ("cancelled", "terminated"),
            "window": _window(answer.get("window")),
        },
    )


def _book(order: Order, booking, data: dict) -> str:
    """Book, move or cancel the installation, by one service call each; says what it did."""
    if data["action"] == "cancel":
        if booking is None:
            raise DomainError("There is no appointment to cancel.")
        booking_cancel(booking=booking)
        return "Your installation appointment is cancelled. You can book another time below."
    slot = InstallationSlot.objects.filter(pk=data["slot"]).first()
    if slot is None:
        raise DomainError("That time slot no longer exists; please pick another.", field="slot")
    if booking is None:
        booking = booking_create(order=order, slot=slot)
        done = "booked for"
    else:
        booking = booking_reschedule(booking=booking, slot=slot)
        done = "moved to"
    starts = timezone.localtime(booking.slot.starts_at)
    ends = timezone.localtime(booking.slot.ends_at)
    when = f"{starts:%A} {starts.day} {starts:%B}, {starts:%H:%M}–{ends:%H:%M}"
    return f"Your installation is {done} {when}."


def _order_offering(order: Order) -> dict | None:
    offering = order.offering
    if offering is None:
        return None
    return {
        "isp": order.isp.name if order.isp else "",
        "name": offering.name,
        "download": display.speed(offering.product.download_mbps),
        "upload": display.speed(offering.product.upload_mbps),
        "monthly": display.money(offering.monthly_price, offering.currency),
    }


def _slot_days(slots: list, booking) -> list[dict]:
    """The slots grouped by day, for radio groups a phone can scroll through."""
    days: dict = {}
    booked_id = booking.slot_id if booking else None
    for slot in slots:
        if slot.pk == booked_id:
            continue
        day = days.setdefault(timezone.localtime(slot.starts_at).date(), [])
        day.append(slot)
    return [{"day": day, "slots": day_slots} for day, day_slots in sorted(days.items())]
