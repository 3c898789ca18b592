"""The ISP portal's pages (/isp/): an ISP's orders, services, customers, notifications,
webhook log, settings and catalog, and the network data every ISP may read.

Who sees what: an ISP user sees their own ISP's business only; the owner's staff see every
ISP's (with an ISP filter and column), read-only. Every read starts from the tenancy
selectors of `wholesale.selectors`, so another ISP's id is a 404 exactly like an id that does
not exist. Every write is one named service call from a POST form; a refusal (`DomainError`)
is shown on the page (as a message, and on the form's field when it names one), never a 500;
a successful POST redirects (POST-redirect-GET).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, TruncWeek
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.models import ApiToken, Organisation
from accounts.permissions import is_isp_user, is_owner_staff
from accounts.roles import OrganisationKind
from accounts.services import api_token_revoke
from areas.lifecycle import AreaPhase
from areas.models import Area
from areas.selectors import PHASE_RANK
from common.errors import DomainError, NotFound
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.search import search_addresses
from wholesale.activation import service_activate, service_change_profile, service_deactivate
from wholesale.lifecycle import OrderStatus, ServiceStatus
from wholesale.models import IspProfile, Order
from wholesale.notifications import notifications_mark_read, webhook_replay, webhook_test_send
from wholesale.onboarding import isp_token_create, isp_webhook_secret_rotate, isp_webhook_set
from wholesale.portal import forms
from wholesale.selectors import (
    areas_build_progress,
    customer_orders_for,
    customers_for,
    deliveries_for,
    isp_order_counts,
    isp_scope,
    maintenance_upcoming,
    notifications_for,
    offerings_for,
    orders_for,
    products_current,
    ready_orders_for,
    services_for,
)
from wholesale.serviceability import serviceability_for_address

PAGE_SIZE = 50
DASHBOARD_READY = 10  # ready orders listed on the dashboard (the rest: the order list)
DASHBOARD_NOTIFICATIONS = 8
CHART_WEEKS = 12
# the chart's geometry in SVG units (viewBox 720 × 150): a 60-wide slot a week, bars up to
# 100 high standing on the baseline at 120, the week's date under it
CHART_STEP = 60
CHART_HEIGHT = 100
CHART_BASELINE = 120
LOOKUP_MATCHES = 10
MAINTENANCE_SHOWN = 20
REVEAL_KEY = "isp_portal_reveal"  # a new secret or token key, shown once after its POST
STAFF_READ_ONLY = "the owner's staff see the ISPs' business read-only; its own users change it"
STATE_LABELS = {
    "available": "available now",
    "being_built": "being built",
    "gathering_interest": "gathering interest",
    "planned": "planned",
    "outside": "outside the network",
    "retired": "no longer in the network's records",
}


# --- access -----------------------------------------------------------------------------------


def isp_portal_required(view):
    """Page decorator: sign-in first (redirect to the login page), then 403 for anyone but
    users of an active ISP and the owner's staff."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (is_isp_user(request.user) or is_owner_staff(request.user)):
            raise PermissionDenied("only users of an active ISP and the owner's staff may")
        return view(request, *args, **kwargs)

    return guarded


def _is_staff(request) -> bool:
    """The viewer sees every ISP (owner staff) rather than one."""
    return isp_scope(request.user) is None


def _acting_isp(request) -> Organisation:
    """The ISP a write acts for: the user's own; the owner's staff only read here."""
    if _is_staff(request):
        raise PermissionDenied(STAFF_READ_ONLY)
    return request.user.organisation


def _refusal(request, error: DomainError, form=None) -> None:
    """A service's refusal as a message, and on the form's field when it names one."""
    message = error.message[:1].upper() + error.message[1:]
    if form is not None and error.field and error.field in form.fields:
        form.add_error(error.field, message)
    messages.error(request, message)


def _base_map() -> dict | None:
    """The configured base map (as on /map/), or None: the pages work without one."""
    if not settings.MAP_TILE_URL:
        return None
    return {"url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION}


def _actor_label(actor, scope: int | None) -> str:
    """Who made a change, as this viewer may know it: names within the viewer's own ISP (or
    for the owner's staff), never the name of another ISP's user."""
    if actor is None:
        return "oanm"
    organisation = actor.organisation
    if scope is None or (organisation is not None and organisation.pk == scope):
        return actor.get_full_name() or actor.username
    if organisation is not None and organisation.kind == OrganisationKind.OWNER:
        return "the network owner"
    return "another provider"


# --- lists: filters and pages -------------------------------------------------------------------


def _filtered(request, form_class, queryset: QuerySet) -> tuple:
    """The list's filter form (with the ISP filter for the owner's staff), its valid values,
    and the queryset narrowed to the chosen ISP."""
    staff = _is_staff(request)
    form = form_class(request.GET or None, staff=staff)
    data = form.cleaned_data if form.is_valid() else {}
    if staff and data.get("isp"):
        queryset = queryset.filter(isp=data["isp"])
    return form, data, queryset


def _page(request, queryset) -> tuple[Page, str]:
    """One page of 50 rows, and the query string of the other pages (filters kept)."""
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def _list_context(request, form, page: Page, query: str, **extra) -> dict:
    return {
        "form": form,
        "page": page,
        "page_query": query,
        "is_filtered": any(
            value not in ("", None) for key, value in request.GET.items() if key != "page"
        ),
        "staff": _is_staff(request),
        **extra,
    }


# --- the dashboard ------------------------------------------------------------------------------


def _activations_per_week(user, weeks: int = CHART_WEEKS) -> list[dict]:
    """Services activated in each of the last `weeks` weeks (this one last), one query."""
    today = timezone.localdate()
    first = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    rows = (
        services_for(user)
        .filter(activated_at__gte=since)
        .annotate(week=TruncWeek("activated_at"))
        .order_by()
        .values("week")
        .annotate(n=Count("pk"))
    )
    counted = {timezone.localtime(row["week"]).date(): row["n"] for row in rows}
    highest = max(counted.values(), default=0)
    bars = []
    for index in range(weeks):
        monday = first + timedelta(weeks=index)
        count = counted.get(monday, 0)
        height = round(count / highest * CHART_HEIGHT) if highest else 0
        bars.append(
            {
                "week": monday,
                "count": count,
                "x": index * CHART_STEP + 8,
                "height": height,
                "y": CHART_BASELINE - height,
                "label_x": index * CHART_STEP + 30,
            }
        )
    return bars


@require_GET
@isp_portal_required
def dashboard(request):
    """Orders by status, the addresses ready for activation, recent notifications, live
    services and the activations of the last 12 weeks."""
    user = request.user
    counts = isp_order_counts(user)
    notifications = notifications_for(user).order_by("-created_at", "-id")
    bars = _activations_per_week(user)
    return render(
        request,
        "isp/dashboard.html",
        {
            "staff": _is_staff(request),
            "status_counts": [
                {"value": value, "label": label, "count": counts.get(value, 0)}
                for value, label in OrderStatus.choices
            ],
            "orders_total": sum(counts.values()),
            "ready": list(ready_orders_for(user)[:DASHBOARD_READY]),
            "ready_total": counts.get(OrderStatus.READY_FOR_ACTIVATION, 0),
            "notifications": list(notifications[:DASHBOARD_NOTIFICATIONS]),
            "unread": notifications.filter(read_at=None).count(),
            "active_services": services_for(user).filter(status=ServiceStatus.ACTIVE).count(),
            "bars": bars,
            "activations_total": sum(bar["count"] for bar in bars),
        },
    )


# --- orders -------------------------------------------------------------------------------------


@require_GET
@isp_portal_required
def order_list(request):
    """The orders, newest first: filter by status, search reference, address or customer."""
    orders = orders_for(request.user).order_by("-placed_at", "-id")
    form, data, orders = _filtered(request, forms.OrderFilterForm, orders)
    if data.get("status"):
        orders = orders.filter(status=data["status"])
    if data.get("q"):
        q = data["q"].strip()
        orders = orders.filter(
            Q(reference__icontains=q)
            | Q(isp_reference__icontains=q)
            | Q(address__label__icontains=q)
            | Q(customer__name__icontains=q)
            | Q(customer__email__icontains=q)
        )
    page, query = _page(request, orders)
    return render(request, "isp/order_list.html", _list_context(request, form, page, query))


def _service_of(order: Order):
    try:
        return order.service
    except ObjectDoesNotExist:
        return None


def _order_page(request, order: Order, *, activate_form=None, status: int = 200) -> HttpResponse:
    scope = isp_scope(request.user)
    history = [
        {"change": change, "actor": _actor_label(change.actor, scope)}
        for change in order.status_history.select_related(
            "actor__membership__organisation"
        ).order_by("changed_at", "id")
    ]
    may_activate = order.status == OrderStatus.READY_FOR_ACTIVATION and scope is not None
    if may_activate and activate_form is None:
        product = order.offering.product_id if order.offering_id else None
        activate_form = forms.ActivateForm(initial={"product": product})
    location = order.address.location
    return render(
        request,
        "isp/order_detail.html",
        {
            "staff": scope is None,
            "order": order,
            "service": _service_of(order),
            "history": history,
            "activate_form": activate_form if may_activate else None,
            "map_config": {
                "lat": location.y,
                "lon": location.x,
                "label": order.address.label,
                "baseMap": _base_map(),
            },
        },
        status=status,
    )


@require_GET
@isp_portal_required
def order_detail(request, pk: int):
    """An order: its address (on a small map), customer, history, and when it is ready for
    activation, the form that activates its service."""
    return _order_page(request, get_object_or_404(orders_for(request.user), pk=pk))


@require_POST
@isp_portal_required
def order_activate(request, pk: int):
    """Activate the order's service (service_activate); a refusal stays on the order's page."""
    _acting_isp(request)
    order = get_object_or_404(orders_for(request.user), pk=pk)
    form = forms.ActivateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            service = service_activate(
                order=order,
                ont_serial=data["ont_serial"],
                product=data["product"],
                c_vlan=data["c_vlan"],
                s_vlan=data["s_vlan"],
                actor=request.user,
            )
        except DomainError as error:
            _refusal(request, error, form)
        else:
            messages.success(
                request, f"Service {service.reference} is active at {order.address.label}."
            )
            return redirect("isp:service", pk=service.pk)
    else:
        messages.error(request, "The service was not activated: see the form below.")
    order.refresh_from_db()
    return _order_page(request, order, activate_form=form, status=400)


# --- services -----------------------------------------------------------------------------------


@require_GET
@isp_portal_required
def service_list(request):
    """The services, newest activation first: filter by status, search reference, ONT or
    address."""
    services = services_for(request.user).order_by("-activated_at", "-id")
    form, data, services = _filtered(request, forms.ServiceFilterForm, services)
    if data.get("status"):
        services = services.filter(status=data["status"])
    if data.get("q"):
        q = data["q"].strip()
        services = services.filter(
            Q(reference__icontains=q)
            | Q(ont_serial__icontains=q)
            | Q(address__label__icontains=q)
            | Q(order__reference__icontains=q)
        )
    page, query = _page(request, services)
    return render(request, "isp/service_list.html", _list_context(request, form, page, query))


def _service_page(
    request, service, *, change_form=None, deactivate_form=None, status: int = 200
) -> HttpResponse:
    scope = isp_scope(request.user)
    history = [
        {"change": change, "actor": _actor_label(change.actor, scope)}
        for change in service.history.select_related(
            "from_product", "to_product", "actor__membership__organisation"
        ).order_by("at", "id")
    ]
    may_change = service.status == ServiceStatus.ACTIVE and scope is not None
    return render(
        request,
        "isp/service_detail.html",
        {
            "staff": scope is None,
            "service": service,
            "history": history,
            # the service it took over belongs to another ISP: only the owner's staff see it
            "previous": service.previous if scope is None else None,
            "change_form": (change_form or forms.ChangeProfileForm(current=service.product))
            if may_change
            else None,
            "deactivate_form": (deactivate_form or forms.DeactivateForm()) if may_change else None,
        },
        status=status,
    )


@require_GET
@isp_portal_required
def service_detail(request, pk: int):
    """A service: its contract (product, ONT, VLANs, fee), its history and, while it is
    live, the forms that change its profile or deactivate it."""
    return _service_page(request, get_object_or_404(services_for(request.user), pk=pk))


@require_POST
@isp_portal_required
def service_change(request, pk: int):
    """Move the service to another product (service_change_profile)."""
    _acting_isp(request)
    service = get_object_or_404(services_for(request.user), pk=pk)
    form = forms.ChangeProfileForm(request.POST, current=service.product)
    if form.is_valid():
        try:
            service = service_change_profile(
                service=service,
                product=form.cleaned_data["product"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except DomainError as error:
            _refusal(request, error, form)
        else:
            messages.success(
                request, f"Service {service.reference} is on {service.product.name} now."
            )
            return redirect("isp:service", pk=service.pk)
    else:
        messages.error(request, "The profile was not changed: see the form below.")
    service.refresh_from_db()
    return _service_page(request, service, change_form=form, status=400)


@require_POST
@isp_portal_required
def service_end(request, pk: int):
    """End the service (service_deactivate), once confirmed."""
    _acting_isp(request)
    service = get_object_or_404(services_for(request.user), pk=pk)
    form = forms.DeactivateForm(request.POST)
    if form.is_valid():
        try:
            service = service_deactivate(
                service=service, reason=form.cleaned_data["reason"], actor=request.user
            )
        except DomainError as error:
            _refusal(request, error, form)
        else:
            messages.success(request, f"Service {service.reference} has ended.")
            return redirect("isp:service", pk=service.pk)
    else:
        messages.error(request, "The service was not deactivated: see the form below.")
    service.refresh_from_db()
    return _service_page(request, service, deactivate_form=form, status=400)


# --- customers ----------------------------------------------------------------------------------


@require_GET
@isp_portal_required
def customer_list(request):
    """The customers with an order of this ISP (the owner's staff: of any ISP), with how many
    orders each has here."""
    scope = isp_scope(request.user)
    staff = scope is None
    form = forms.CustomerFilterForm(request.GET or None, staff=staff)
    data = form.cleaned_data if form.is_valid() else {}
    customers = customers_for(request.user)
    counted = Q(orders__isp_id=scope) if scope is not None else Q(orders__isp__isnull=False)
    if staff and data.get("isp"):
        isp = data["isp"]
        customers = customers.filter(Exists(Order.objects.filter(customer=OuterRef("pk"), isp=isp)))
        counted = Q(orders__isp=isp)
    if data.get("q"):
        q = data["q"].strip()
        customers = customers.filter(Q(name__icontains=q) | Q(email__icontains=q))
    customers = customers.annotate(order_count=Count("orders", filter=counted))
    page, query = _page(request, customers)
    return render(request, "isp/customer_list.html", _list_context(request, form, page, query))


@require_GET
@isp_portal_required
def customer_detail(request, pk: int):
    """A customer and their orders with this ISP (never another ISP's)."""
    customer = get_object_or_404(customers_for(request.user), pk=pk)
    orders = customer_orders_for(request.user, customer).order_by("-placed_at", "-id")
    return render(
        request,
        "isp/customer_detail.html",
        {"staff": _is_staff(request), "customer": customer, "orders": list(orders)},
    )


# --- notifications ------------------------------------------------------------------------------


@require_GET
@isp_portal_required
def notification_list(request):
    """What the ISP was told, newest first; unread ones stand out."""
    notifications = notifications_for(request.user).order_by("-created_at", "-id")
    form, data, notifications = _filtered(request, forms.NotificationFilterForm, notifications)
    if data.get("unread"):
        notifications = notifications.filter(read_at=None)
    page, query = _page(request, notifications)
    return render(
        request,
        "isp/notifications.html",
        _list_context(
            request,
            form,
            page,
            query,
            unread=notifications_for(request.user).filter(read_at=None).count(),
        ),
    )


@require_POST
@isp_portal_required
def notifications_read(request):
    """Mark the chosen notifications read, or all of them (notifications_mark_read)."""
    isp = _acting_isp(request)
    ids = None
    if "all" not in request.POST:
        try:
            ids = [int(value) for value in request.POST.getlist("ids")]
        except ValueError:
            messages.error(request, "Choose notifications by their number.")
            return redirect("isp:notifications")
        if not ids:
            messages.error(request, "Choose the notifications to mark read.")
            return redirect("isp:notifications")
    marked = notifications_mark_read(isp=isp, ids=ids)
    messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect("isp:notifications")


# --- webhooks -----------------------------------------------------------------------------------


@require_GET
@isp_portal_required
def webhook_list(request):
    """Every webhook delivery with its state, newest first."""
    deliveries = deliveries_for(request.user).order_by("-created_at", "-id")
    form, data, deliveries = _filtered(request, forms.DeliveryFilterForm, deliveries)
    if data.get("status"):
        deliveries = deliveries.filter(status=data["status"])
    page, query = _page(request, deliveries)
    return render(request, "isp/webhook_list.html", _list_context(request, form, page, query))


@require_GET
@isp_portal_required
def webhook_detail(request, pk: int):
    """A delivery: what was sent, and every attempt (status code, response excerpt, error,
    duration), with a Replay button."""
    delivery = get_object_or_404(deliveries_for(request.user), pk=pk)
    return render(
        request,
        "isp/webhook_detail.html",
        {
            "staff": _is_staff(request),
            "delivery": delivery,
            "notification": delivery.notification,
            "attempts": list(delivery.log.order_by("attempted_at", "id")),
        },
    )


@require_POST
@isp_portal_required
def webhook_replay_view(request, pk: int):
    """Send a delivery again (webhook_replay); it keeps its delivery id."""
    _acting_isp(request)
    delivery = get_object_or_404(deliveries_for(request.user), pk=pk)
    try:
        webhook_replay(delivery=delivery, actor=request.user)
    except DomainError as error:
        _refusal(request, error)
    else:
        messages.success(
            request,
            "The delivery is queued again, with the same delivery id: a receiver that has it"
            " already can drop it.",
        )
    return redirect("isp:webhook", pk=delivery.pk)


# --- settings -----------------------------------------------------------------------------------


def _settings_page(request, *, webhook_form=None, token_form=None, status: int = 200):
    staff = _is_staff(request)
    isp = None
    chooser = None
    if staff:
        chooser = forms.IspFilterMixin(request.GET or None, staff=True)
        if chooser.is_valid():
            isp = chooser.cleaned_data.get("isp")
    else:
        isp = request.user.organisation
    profile = IspProfile.objects.filter(organisation=isp).first() if isp else None
    tokens = (
        list(
            ApiToken.objects.filter(organisation=isp).select_related("user").order_by("-created_at")
        )
        if isp
        else []
    )
    return render(
        request,
        "isp/settings.html",
        {
            "staff": staff,
            "chooser": chooser,
            "isp": isp,
            "profile": profile,
            "tokens": tokens,
            "revealed": None if staff else request.session.pop(REVEAL_KEY, None),
            "webhook_form": webhook_form
            or forms.WebhookUrlForm(initial={"url": profile.webhook_url if profile else ""}),
            "token_form": token_form or forms.TokenCreateForm(),
        },
        status=status,
    )


@require_GET
@isp_portal_required
def settings_page(request):
    """The webhook endpoint (URL, secret, a test), the API tokens, and the contacts the owner
    has on file. The owner's staff pick an ISP and see it read-only."""
    return _settings_page(request)


@require_POST
@isp_portal_required
def settings_webhook(request):
    """Set or remove the webhook URL (isp_webhook_set)."""
    isp = _acting_isp(request)
    form = forms.WebhookUrlForm(request.POST)
    if form.is_valid():
        try:
            profile = isp_webhook_set(isp=isp, url=form.cleaned_data["url"])
        except DomainError as error:
            _refusal(request, error, form)
        else:
            messages.success(
                request,
                f"Webhooks go to {profile.webhook_url} now."
                if profile.webhook_url
                else "The webhook URL is removed: no webhooks are sent.",
            )
            return redirect("isp:settings")
    return _settings_page(request, webhook_form=form, status=400)


@require_POST
@isp_portal_required
def settings_secret(request):
    """Replace the signing secret (isp_webhook_secret_rotate); the new one is shown once."""
    isp = _acting_isp(request)
    profile = isp_webhook_secret_rotate(isp=isp)
    request.session[REVEAL_KEY] = {"kind": "secret", "value": profile.webhook_secret}
    messages.success(request, "A new signing secret is in use from now on.")
    return redirect("isp:settings")


@require_POST
@isp_portal_required
def settings_test(request):
    """Queue a test delivery to the webhook URL (webhook_test_send)."""
    isp = _acting_isp(request)
    try:
        notification = webhook_test_send(isp=isp, actor=request.user)
    except DomainError as error:
        _refusal(request, error)
        return redirect("isp:settings")
    messages.success(request, "A test delivery is on its way; its attempts show here.")
    return redirect("isp:webhook", pk=notification.delivery.pk)


@require_POST
@isp_portal_required
def token_create(request):
    """Issue an API token for the ISP's systems (isp_token_create); the key is shown once."""
    _acting_isp(request)
    form = forms.TokenCreateForm(request.POST)
    if form.is_valid():
        try:
            token, key = isp_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
            )
        except DomainError as error:
            _refusal(request, error, form)
        else:
            request.session[REVEAL_KEY] = {"kind": "token", "value": key, "name": token.name}
            messages.success(request, f"The token {token.name} is ready.")
            return redirect("isp:settings")
    return _settings_page(request, token_form=form, status=400)


@require_POST
@isp_portal_required
def token_revoke(request, pk: int):
    """Revoke one of the ISP's own tokens at once (api_token_revoke)."""
    isp = _acting_isp(request)
    token = get_object_or_404(ApiToken.objects.filter(organisation=isp), pk=pk)
    token = api_token_revoke(token=token)
    messages.success(request, f"The token {token.name} is revoked.")
    return redirect("isp:settings")


# --- catalog ------------------------------------------------------------------------------------


@require_GET
@isp_portal_required
def catalog(request):
    """The ISP's retail offerings, and the owner's wholesale products they are built on."""
    today = timezone.localdate()
    offerings = offerings_for(request.user).order_by("isp__name", "monthly_price", "id")
    return render(
        request,
        "isp/catalog.html",
        {
            "staff": _is_staff(request),
            "today": today,
            "offerings": list(offerings),
            "products": list(products_current(today)),
        },
    )


# --- the shared network data --------------------------------------------------------------------


def _lookup(request, text: str) -> dict:
    """An address's status and serviceability, by id or by a search that finds one."""
    result: dict = {"matches": [], "answer": None, "error": None}
    address_id = int(text) if text.isdigit() else None
    if address_id is None:
        try:
            found = search_addresses(text, limit=LOOKUP_MATCHES)
        except DomainError as error:
            result["error"] = error.message[:1].upper() + error.message[1:]
            return result
        if len(found.matches) != 1:
            result["matches"] = found.matches
            result["did_you_mean"] = found.did_you_mean
            if not found.matches:
                result["error"] = f"No address matches {text!r}."
            return result
        address_id = found.matches[0].id
    try:
        answer = serviceability_for_address(address_id)
    except NotFound:
        result["error"] = f"There is no address with id {address_id}."
        return result
    address = Address.objects.filter(pk=address_id).values("status", "units").first()
    result["answer"] = {
        "id": address_id,
        "label": answer.address["label"],
        "state": answer.state,
        "state_label": STATE_LABELS.get(answer.state, answer.state),
        "headline": answer.headline,
        "status": AddressStatus(address["status"]).label,
        "status_value": address["status"],
        "units": address["units"],
        "area": answer.area,
        "area_phase": AreaPhase(answer.area["phase"]).label if answer.area else None,
        "window": answer.window,
        "own_orders": list(
            orders_for(request.user).filter(address_id=address_id).order_by("-placed_at")[:5]
        ),
    }
    return result


@require_GET
@isp_portal_required
def network(request):
    """What every ISP may read of the network: the areas' phases and build progress, planned
    maintenance, and the status and serviceability of any address. No other ISP's names,
    orders or counts."""
    phase_counts = dict(
        Area.objects.filter(is_active=True).order_by().values_list("phase").annotate(n=Count("pk"))
    )
    areas = (
        areas_build_progress()
        .annotate(homes=Coalesce("figures__homes", 0), phase_rank=PHASE_RANK)
        .order_by("-phase_rank", "code")
    )
    phase = request.GET.get("phase", "")
    if phase in AreaPhase.values:
        areas = areas.filter(phase=phase)
    page, query = _page(request, areas)
    rows = [
        {"area": area, "share": area.built_homes / area.homes if area.homes else None}
        for area in page.object_list
    ]
    lookup_form = forms.AddressLookupForm(request.GET if "address" in request.GET else None)
    lookup = None
    if lookup_form.is_valid():
        lookup = _lookup(request, lookup_form.cleaned_data["address"].strip())
    return render(
        request,
        "isp/network.html",
        {
            "staff": _is_staff(request),
            "phases": [
                {"value": value, "label": label, "count": phase_counts.get(value, 0)}
                for value, label in AreaPhase.choices
            ],
            "phase": phase if phase in AreaPhase.values else "",
            "page": page,
            "page_query": query,
            "rows": rows,
            "maintenance": list(maintenance_upcoming()[:MAINTENANCE_SHOWN]),
            "lookup_form": lookup_form,
            "lookup": lookup,
            "lookup_url": reverse("isp:network"),
        },
    )
