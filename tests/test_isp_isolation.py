"""Isolation is security: ISP B never sees, nor touches, ISP A's business.

Every route of the ISP doors — the portal's pages under /isp/ and the API under /api/isp/ —
is found from the URL conf (so a new route cannot be forgotten) and called as ISP B: session
login for pages, an API token with every scope for the API.

- A route with an object in its path is called with ISP A's object of that kind, with every
  method it takes: it must answer 404, and A's business must be unchanged afterwards. The
  network data every ISP may read (addresses, areas, maintenance) is the exception: it may
  answer, but must name nothing of A.
- Every other route (lists, B's own settings, actions on B's own things) must answer without
  naming anything of A: no reference, name, serial or id of A's, and list rows only B's.
A path parameter whose kind the walk cannot tell fails the test loudly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.roles import Role
from accounts.services import user_create
from billing.lifecycle import LineKind, StatementStatus
from billing.models import BillingProvider, SettlementLine, SettlementStatement
from tests.wholesale import conftest as wholesale_fixtures
from tests.wholesale.conftest import build
from wholesale.activation import service_activate
from wholesale.models import (
    Customer,
    IspNotification,
    IspProfile,
    MaintenanceWindow,
    Offering,
    Order,
    Service,
    WebhookDelivery,
)
from wholesale.onboarding import isp_token_create, isp_webhook_set
from wholesale.services import order_place

pytestmark = pytest.mark.django_db
town = wholesale_fixtures.town  # the small marketplace: areas in each phase, two ISPs

PREFIXES = ("isp/", "api/isp/")

# A parameter's own name says its kind …
KIND_BY_PARAMETER = {
    "order_id": "order",
    "service_id": "service",
    "delivery_id": "delivery",
    "customer_id": "customer",
    "notification_id": "notification",
    "address_id": "address",
    "area_id": "area",
    "maintenance_id": "maintenance",
    "offering_id": "offering",
    "product_id": "product",
    "token_id": "token",
    "statement_id": "statement",
}
# … or, for a bare pk/id, the path segment before it does.
KIND_BY_SEGMENT = {
    "orders": "order",
    "ready": "order",
    "services": "service",
    "webhooks": "delivery",
    "deliveries": "delivery",
    "customers": "customer",
    "notifications": "notification",
    "addresses": "address",
    "areas": "area",
    "maintenance": "maintenance",
    "offerings": "offering",
    "products": "product",
    "tokens": "token",
    "statements": "statement",
}
GENERIC_PARAMETERS = {"pk", "id"}
# Vertically shared: every ISP may read these, but they must name nothing of another ISP.
SHARED_KINDS = {"address", "area", "maintenance", "product"}
WRITE_METHODS = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    """A route of the URL conf: its pattern text, its parameters and its view."""

    pattern: str
    parameters: tuple[str, ...]
    callback: object

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")


def _pattern_text(pattern) -> str:
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = text.removeprefix("^").removesuffix("$").removesuffix(r"\Z")
    return text


def _parameters(pattern) -> list[str]:
    if isinstance(pattern, RoutePattern):
        return list(pattern.converters)
    return list(pattern.regex.groupindex)


def isp_routes(patterns=None, prefix: str = "", parameters: tuple[str, ...] = ()) -> list[Route]:
    """Every route of the URL conf whose path starts with isp/ or api/isp/."""
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        text = prefix + _pattern_text(entry.pattern)
        names = (*parameters, *_parameters(entry.pattern))
        if isinstance(entry, URLResolver):
            if any(text.startswith(p) or p.startswith(text) for p in PREFIXES):
                found.extend(isp_routes(entry.url_patterns, text, names))
        elif isinstance(entry, URLPattern) and text.startswith(PREFIXES):
            found.append(Route(pattern=text, parameters=names, callback=entry.callback))
    return found


def parameter_kind(route: Route, name: str) -> str:
    """The kind of object a path parameter names; an unknown one fails the walk loudly."""
    if name in KIND_BY_PARAMETER:
        return KIND_BY_PARAMETER[name]
    if name in GENERIC_PARAMETERS:
        before = route.pattern[: _parameter_start(route.pattern, name)]
        segment = before.rstrip("/").rsplit("/", 1)[-1]
        if segment in KIND_BY_SEGMENT:
            return KIND_BY_SEGMENT[segment]
    pytest.fail(
        f"the isolation walk cannot tell what the parameter {name!r} of {route.pattern!r}"
        " names: add it to KIND_BY_PARAMETER or KIND_BY_SEGMENT in tests/test_isp_isolation.py"
    )


def _parameter_start(pattern: str, name: str) -> int:
    match = re.search(rf"<(?:\w+:)?{name}>|\(\?P<{name}>", pattern)
    return match.start()


def _fill(pattern: str, values: dict[str, object]) -> str:
    """The pattern's path with its parameters replaced by the values."""
    out, i = [], 0
    while i < len(pattern):
        route = re.match(r"<(?:\w+:)?(\w+)>", pattern[i:])
        if route:
            out.append(str(values[route.group(1)]))
            i += route.end()
            continue
        if pattern.startswith("(?P<", i):
            name = pattern[i + 4 : pattern.index(">", i)]
            depth, j = 0, i
            while True:  # skip the group, nested parentheses included
                depth += {"(": 1, ")": -1}.get(pattern[j], 0)
                j += 1 if pattern[j] != "\\" else 2
                if depth == 0:
                    break
            out.append(str(values[name]))
            i = j
            continue
        out.append(pattern[i].replace("\\", ""))
        i += 1
    return "/" + "".join(out)


def route_methods(route: Route) -> tuple[list[str], bool]:
    """The HTTP methods the route's view takes, and whether that is known for sure
    (a plain function view may take any)."""
    actions = getattr(route.callback, "actions", None)
    if actions:
        # DRF adds "head" to a viewset's actions once it has served a GET: skip it (no body)
        return sorted(set(actions) & {"get", *WRITE_METHODS}), True
    view_class = getattr(route.callback, "view_class", None) or getattr(route.callback, "cls", None)
    if view_class is not None:
        methods = [m for m in ("get", *WRITE_METHODS) if hasattr(view_class, m)]
        return methods, True
    return ["get", "post"], False


# --- the two ISPs' business ------------------------------------------------------------------


@dataclass
class Business:
    """One ISP's things, with the words that would give them away."""

    objects: dict[str, object]
    markers: list[str]
    ids: dict[str, set[int]]


def _business(town, index: int, tag: str, receiver_url: str) -> Business:
    isp, offering = town.isps[index], town.offerings[index]
    isp_webhook_set(isp=isp, url=receiver_url)
    customer = Customer.objects.create(name=f"Customer {tag}", email=f"{tag.lower()}@example.org")
    ready_at = build(town.address("live", n=2 * index), "connected")
    ready = order_place(
        address=ready_at,
        isp=isp,
        offering=offering,
        customer=customer,
        isp_reference=f"REF-{tag}",
    )
    live_at = build(town.address("live", n=2 * index + 1), "connected")
    active = order_place(address=live_at, isp=isp, offering=offering, customer=customer)
    service = service_activate(order=active, ont_serial=f"ONT-{tag}-1")
    user = user_create(username=f"{tag.lower()}-ops", organisation=isp, role=Role.ISP_USER)
    token, _ = isp_token_create(user=user, name=f"{tag} CRM", scopes=["read"])
    notification = IspNotification.objects.filter(isp=isp).order_by("pk").first()
    statement = _statement(town, isp, service, tag)
    delivery = WebhookDelivery.objects.filter(isp=isp).order_by("pk").first()
    orders = list(Order.objects.filter(isp=isp))
    return Business(
        objects={
            "order": ready,
            "service": service,
            "delivery": delivery,
            "customer": customer,
            "notification": notification,
            "address": ready_at,
            "area": town.areas["live"],
            "offering": offering,
            "product": offering.product,
            "token": token,
            "statement": statement,
        },
        markers=[
            isp.name,
            offering.name,
            customer.name,
            customer.email,
            f"REF-{tag}",
            f"{tag} CRM",
            token.prefix,
            service.reference,
            service.ont_serial,
            *(order.reference for order in orders),
            *(str(n.uid) for n in IspNotification.objects.filter(isp=isp)),
        ],
        ids={
            "order": {order.pk for order in orders},
            "service": {service.pk},
            "customer": {customer.pk},
            "notification": set(
                IspNotification.objects.filter(isp=isp).values_list("pk", flat=True)
            ),
            "delivery": set(WebhookDelivery.objects.filter(isp=isp).values_list("pk", flat=True)),
            "statement": {statement.pk},
        },
    )


def _statement(town, isp, service, tag: str) -> SettlementStatement:
    """An issued settlement statement of the ISP, with a line for its service."""
    provider, _ = BillingProvider.objects.get_or_create(
        organisation=town.billing, defaults={"name": "Owner billing", "invoice_prefix": "OWN"}
    )
    statement = SettlementStatement.objects.create(
        isp=isp,
        provider=provider,
        month="2024-04-01",
        status=StatementStatus.ISSUED,
        currency="EUR",
        actual_total="30.00",
    )
    SettlementLine.objects.create(
        statement=statement,
        kind=LineKind.WHOLESALE,
        service=service,
        address=service.address,
        product=service.product,
        description=f"{service.reference} · days of {tag}",
        full_days=30,
        monthly_rate="30.00",
        amount="30.00",
    )
    return statement


def _state_of(isp) -> list:
    """Everything of the ISP's business that B's requests could change."""
    return [
        list(Order.objects.filter(isp=isp).order_by("pk").values_list("pk", "status", "unit")),
        list(
            Service.objects.filter(isp=isp)
            .order_by("pk")
            .values_list("pk", "status", "product_id", "ended_at")
        ),
        list(IspNotification.objects.filter(isp=isp).order_by("pk").values_list("pk", "read_at")),
        list(
            WebhookDelivery.objects.filter(isp=isp)
            .order_by("pk")
            .values_list("pk", "status", "replays", "attempts")
        ),
        list(
            Customer.objects.filter(orders__isp=isp)
            .order_by("pk")
            .values_list("pk", "name", "email")
            .distinct()
        ),
        list(
            IspProfile.objects.filter(organisation=isp).values_list("webhook_url", "webhook_secret")
        ),
        list(Offering.objects.filter(isp=isp).order_by("pk").values_list("pk", "valid_to")),
        list(
            ApiToken.objects.filter(organisation=isp)
            .order_by("pk")
            .values_list("pk", "revoked_at", "scopes")
        ),
        list(
            SettlementStatement.objects.filter(isp=isp)
            .order_by("pk")
            .values_list("pk", "status", "actual_total", "invoice_id")
        ),
    ]


@dataclass
class Walk:
    """ISP A's and ISP B's business, and B's two doors: its API token and its session."""

    town: object
    a: Business
    b: Business
    api: APIClient
    pages: APIClient


@pytest.fixture
def two_isps(town) -> Walk:
    a = _business(town, 0, "Alpha", "http://127.0.0.1:9/a")
    b = _business(town, 1, "Bravo", "http://127.0.0.1:9/b")
    MaintenanceWindow.objects.create(
        area=town.areas["live"],
        starts_at="2999-01-01T08:00:00Z",
        ends_at="2999-01-01T10:00:00Z",
        title="Splice work",
    )
    a.objects["maintenance"] = MaintenanceWindow.objects.get()
    user_b = user_create(username="bravo-walker", organisation=town.isps[1], role=Role.ISP_USER)
    _, secret = isp_token_create(user=user_b, name="walk", scopes=["read", "orders", "services"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    pages = APIClient()
    pages.force_login(user_b)
    return Walk(town=town, a=a, b=b, api=api, pages=pages)


# --- checks ----------------------------------------------------------------------------------


def _json(response):
    if not response.get("Content-Type", "").startswith("application/json"):
        return None
    return json.loads(response.content)


def _rows(body):
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return body["results"]
    return []


def assert_names_nothing_of(a: Business, b_isp_id: int, route: Route, method: str, response):
    where = f"{method.upper()} {route.pattern}"
    assert response.status_code < 500, f"{where}: {response.status_code}"
    text = response.content.decode("utf-8", "replace")
    leaked = [marker for marker in a.markers if marker in text]
    assert not leaked, f"{where} shows ISP A's {leaked}"
    body = _json(response)
    segment = route.pattern.removeprefix("api/").removeprefix("isp/").split("/")[0]
    kind = KIND_BY_SEGMENT.get(segment)
    for row in _rows(body):
        if isinstance(row, dict) and isinstance(row.get("isp"), dict):
            assert row["isp"]["id"] == b_isp_id, f"{where} lists another ISP's row {row}"
        if kind in a.ids and isinstance(row, dict):
            assert row.get("id") not in a.ids[kind], f"{where} lists A's {kind} {row['id']}"


# --- the walk --------------------------------------------------------------------------------


def test_the_walk_finds_the_isp_api(two_isps):
    patterns = {route.pattern for route in isp_routes()}

    assert r"api/isp/orders/(?P<pk>\d+)/activate/" in patterns
    assert "api/isp/network/addresses/<int:pk>/" in patterns
    assert len(patterns) >= 24


def test_an_unknown_parameter_fails_the_walk_loudly():
    route = Route(pattern="isp/things/<int:thing>/", parameters=("thing",), callback=None)

    with pytest.raises(pytest.fail.Exception, match="thing"):
        parameter_kind(route, "thing")
    with pytest.raises(pytest.fail.Exception, match="gadgets"):
        parameter_kind(Route("isp/gadgets/<int:pk>/", ("pk",), None), "pk")


def test_kinds_follow_names_and_segments():
    assert parameter_kind(Route(r"api/isp/webhooks/(?P<pk>\d+)/replay/", ("pk",), None), "pk") == (
        "delivery"
    )
    assert parameter_kind(Route("isp/orders/<int:order_id>/", ("order_id",), None), "order_id") == (
        "order"
    )
    assert _fill(r"api/isp/orders/(?P<pk>\d+)/cancel/", {"pk": 7}) == "/api/isp/orders/7/cancel/"
    assert _fill("isp/x/<int:pk>/", {"pk": 7}) == "/isp/x/7/"


def test_isp_b_never_sees_nor_touches_isp_a(two_isps):
    a, api, pages = two_isps.a, two_isps.api, two_isps.pages
    isp_a, isp_b = two_isps.town.isps
    before = _state_of(isp_a)
    walked = []

    for route in isp_routes():
        client = api if route.is_api else pages
        methods, certain = route_methods(route)
        kinds = {name: parameter_kind(route, name) for name in route.parameters}
        url = _fill(route.pattern, {name: a.objects[kind].pk for name, kind in kinds.items()})
        assert resolve(url).func == route.callback, f"{url} does not resolve to {route.pattern}"
        shared = all(kind in SHARED_KINDS for kind in kinds.values())
        answers = []
        for method in methods:
            send = getattr(client, method)
            response = send(url, {}, format="json") if method in WRITE_METHODS else send(url)
            answers.append(response.status_code)
            walked.append(f"{method.upper()} {url} → {response.status_code}")
            assert_names_nothing_of(a, isp_b.pk, route, method, response)
            if kinds and not shared:
                allowed = {404} if certain else {404, 405}
                assert response.status_code in allowed, (
                    f"{method.upper()} {url} as ISP B answered {response.status_code}, not 404"
                )
            elif method == "get" and not kinds:
                # a page that only takes POST (a plain function view) may refuse a GET
                allowed = {200} if certain else {200, 302, 405}
                assert response.status_code in allowed, f"GET {url}: {response.status_code}"
            assert _state_of(isp_a) == before, f"{method.upper()} {url} changed ISP A's business"
        if kinds and not shared and not certain:
            assert 404 in answers, f"{url} never answered 404 as ISP B ({answers})"

    assert len(walked) >= 25, walked
    assert _state_of(isp_a) == before


def test_b_cannot_mark_as_notifications_read(two_isps):
    ids = sorted(two_isps.a.ids["notification"])
    api = two_isps.api

    response = api.post("/api/isp/notifications/read/", {"ids": ids}, format="json")

    assert response.json() == {"marked": 0}
    assert not IspNotification.objects.filter(pk__in=ids).exclude(read_at=None).exists()


def test_b_lists_its_own_rows(two_isps):
    api, b = two_isps.api, two_isps.b

    orders = api.get("/api/isp/orders/").json()["results"]
    services = api.get("/api/isp/services/").json()["results"]
    customers = api.get("/api/isp/customers/").json()["results"]

    assert {row["id"] for row in orders} == b.ids["order"]
    assert {row["id"] for row in services} == b.ids["service"]
    assert {row["id"] for row in customers} == b.ids["customer"]
