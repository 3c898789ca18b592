"""The ISP systems' API (/api/isp/): every endpoint's happy path, token scopes, a suspended
ISP's token, bad input naming its field, and the number of queries of every list."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import user_create
from gis_core.lifecycle import AddressStatus
from tests.wholesale.conftest import build
from tests.wholesale.factories import ProductFactory
from wholesale.activation import service_activate
from wholesale.lifecycle import OrderStatus, ServiceChangeKind, ServiceStatus, WebhookStatus
from wholesale.models import (
    Customer,
    IspNotification,
    MaintenanceWindow,
    Order,
    Service,
    WebhookDelivery,
)
from wholesale.notifications import webhook_send
from wholesale.onboarding import isp_suspend, isp_token_create, isp_webhook_set
from wholesale.services import order_place

pytestmark = pytest.mark.django_db

ALL_SCOPES = ["read", "orders", "services"]


# --- fixtures and helpers --------------------------------------------------------------------


def isp_user(isp, username: str):
    return user_create(username=username, organisation=isp, role=Role.ISP_USER, password="x-pass-1")


def token_client(user, scopes=ALL_SCOPES) -> APIClient:
    """An API client that sends a token of the user with these scopes."""
    _, secret = isp_token_create(user=user, name="crm", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def user_a(town):
    return isp_user(town.isps[0], "spree-ops")


@pytest.fixture
def user_b(town):
    return isp_user(town.isps[1], "kiez-ops")


@pytest.fixture
def api_a(user_a):
    return token_client(user_a)


@pytest.fixture
def api_b(user_b):
    return token_client(user_b)


@pytest.fixture
def staff_api(admin_user):
    client = APIClient()
    client.force_login(admin_user)
    return client


@pytest.fixture
def connected(town):
    return build(town.address("live"), "connected")


def order_for(town, address, isp=0, unit="", **kwargs):
    offering = town.offerings[isp]
    return order_place(address=address, isp=offering.isp, offering=offering, unit=unit, **kwargs)


def place_body(town, where, **overrides):
    body = {
        "address": where.pk,
        "offering": town.offerings[0].pk,
        "customer": {"name": "Ada Kiez", "email": "ada@example.org", "phone": "+49 30 1"},
        "unit": "",
        "isp_reference": "CRM-1",
    }
    body.update(overrides)
    return body


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def assert_refused(response, status: int, field: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] and body["detail"]
    if field is not None:
        assert body["field"] == field, body


# --- orders ----------------------------------------------------------------------------------


def test_orders_list_only_the_isps_own_newest_first(town, api_a, connected):
    first = order_for(town, connected, unit="1")
    second = order_for(town, connected, unit="2")
    order_for(town, connected, isp=1)

    response = api_a.get("/api/isp/orders/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert ids(response) == [second.pk, first.pk]
    row = body["results"][0]
    assert row["reference"] == second.reference
    assert row["isp"] == {"id": town.isps[0].pk, "name": "Spree Net"}
    assert row["address"]["id"] == connected.pk
    assert row["status"] == OrderStatus.READY_FOR_ACTIVATION
    assert row["monthly_price"] == "39.90"
    assert row["service"] is None
    assert "manage_token" not in row


def test_orders_filter_by_status_time_address_and_search(town, api_a, connected):
    other = town.address("in_deployment")
    ready = order_for(town, connected, isp_reference="CRM-77")
    waiting = order_for(town, other)
    Order.objects.filter(pk=waiting.pk).update(placed_at=timezone.now() - timedelta(days=3))

    def listed(**params):
        response = api_a.get("/api/isp/orders/", params)
        assert response.status_code == 200, response.content
        return ids(response)

    assert listed(status="ready_for_activation") == [ready.pk]
    assert listed(status="ready_for_activation,awaiting_infrastructure") == [ready.pk, waiting.pk]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert listed(placed_after=since) == [ready.pk]
    assert listed(placed_before=since) == [waiting.pk]
    assert listed(address=other.pk) == [waiting.pk]
    assert listed(search="crm-77") == [ready.pk]
    assert listed(search=waiting.reference) == [waiting.pk]
    assert listed(limit=1) == [ready.pk]


def test_an_unknown_status_filter_is_a_400_naming_it(api_a):
    response = api_a.get("/api/isp/orders/", {"status": "shipped"})

    assert_refused(response, 400, "status")


def test_a_bad_placed_after_is_a_400_naming_it(api_a):
    assert_refused(
        api_a.get("/api/isp/orders/", {"placed_after": "yesterday"}), 400, "placed_after"
    )


def test_order_detail_has_its_history(town, api_a, connected):
    order = order_for(town, connected)

    response = api_a.get(f"/api/isp/orders/{order.pk}/")

    assert response.status_code == 200
    history = response.json()["history"]
    assert [(step["from_status"], step["to_status"]) for step in history] == [
        ("", OrderStatus.RECEIVED),
        (OrderStatus.RECEIVED, OrderStatus.READY_FOR_ACTIVATION),
    ]
    assert "actor" not in history[0]


def test_an_isp_places_an_order_with_its_customer(town, api_a, user_a, connected):
    response = api_a.post(
        "/api/isp/orders/", place_body(town, connected, unit="2 OG"), format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert order.isp == town.isps[0]
    assert order.offering == town.offerings[0]
    assert (order.unit, order.isp_reference) == ("2 OG", "CRM-1")
    assert order.status == OrderStatus.READY_FOR_ACTIVATION
    assert order.customer.name == "Ada Kiez"
    assert order.customer.email == "ada@example.org"
    assert order.status_history.first().actor == user_a
    assert body["customer"]["name"] == "Ada Kiez"
    assert body["status"] == "ready_for_activation"


def test_placing_outside_the_isps_areas_is_refused(town, api_a):
    outside = town.address(None)

    response = api_a.post("/api/isp/orders/", place_body(town, outside), format="json")

    assert_refused(response, 400, "address")
    assert response.json()["code"] == "area_not_served"
    assert not Order.objects.exists()
    assert not Customer.objects.exists()


def test_placing_in_an_area_being_planned_is_refused(town, api_a):
    response = api_a.post(
        "/api/isp/orders/", place_body(town, town.address("planning")), format="json"
    )

    assert_refused(response, 400, "address")
    assert not Order.objects.exists()


def test_placing_with_another_isps_offering_is_refused(town, api_a, connected):
    body = place_body(town, connected, offering=town.offerings[1].pk)

    assert_refused(api_a.post("/api/isp/orders/", body, format="json"), 400, "offering")
    assert not Order.objects.exists()


def test_a_second_live_order_on_the_same_line_is_a_409(town, api_a, connected):
    order_for(town, connected, unit="1")

    response = api_a.post("/api/isp/orders/", place_body(town, connected, unit="1"), format="json")

    assert_refused(response, 409, "unit")
    assert Order.objects.count() == 1
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"address": "ten"}, "address"),
        ({"address": 999_999}, "address"),
        ({"customer": {"name": "Ada"}}, "customer"),
        ({"customer": {"name": "Ada", "email": "not-mail"}}, "customer"),
        ({"unit": "x" * 61}, "unit"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_order_input_is_a_400_naming_the_field(town, api_a, connected, change, field):
    response = api_a.post("/api/isp/orders/", place_body(town, connected, **change), format="json")

    assert_refused(response, 400, field)
    assert field in response.json()["detail"] or field == "address"
    assert not Order.objects.exists()


def test_owner_staff_cannot_place_orders_here(town, staff_api, connected):
    response = staff_api.post("/api/isp/orders/", place_body(town, connected), format="json")

    assert_refused(response, 403)
    assert not Order.objects.exists()


def test_a_read_only_token_cannot_place_an_order(town, user_a, connected):
    api = token_client(user_a, ["read"])

    response = api.post("/api/isp/orders/", place_body(town, connected), format="json")

    assert_refused(response, 403)
    assert "orders" in response.json()["detail"]
    assert not Order.objects.exists()


def test_an_isp_cancels_its_order(town, api_a, connected):
    order = order_for(town, connected)

    response = api_a.post(f"/api/isp/orders/{order.pk}/cancel/", {"reason": "moved"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == OrderStatus.CANCELLED
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.status_history.last().reason == "moved"


def test_cancelling_an_active_order_is_a_409(town, api_a, connected):
    order = order_for(town, connected)
    service_activate(order=order, ont_serial="ONT1")

    response = api_a.post(f"/api/isp/orders/{order.pk}/cancel/", {}, format="json")

    assert_refused(response, 409)
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVE


def test_ready_lists_the_orders_waiting_for_activation(town, api_a, connected):
    ready = order_for(town, connected)
    order_for(town, town.address("in_deployment"))
    order_for(town, connected, isp=1)

    response = api_a.get("/api/isp/ready/")

    assert response.status_code == 200
    assert ids(response) == [ready.pk]


# --- activation and services -----------------------------------------------------------------


def test_an_isp_activates_its_order(town, api_a, user_a, connected):
    order = order_for(town, connected)
    faster = ProductFactory(code="fibre-1000", download_mbps=1000)
    body = {
        "ont_serial": "alcl-0001",
        "product": "fibre-1000",
        "c_vlan": 100,
        "s_vlan": 200,
        "parameters": {"qos": "gold"},
    }

    response = api_a.post(f"/api/isp/orders/{order.pk}/activate/", body, format="json")

    assert response.status_code == 201, response.content
    service = Service.objects.get(order=order)
    assert response.json()["id"] == service.pk
    assert response.json()["reference"] == service.reference
    assert response.json()["product"]["code"] == "fibre-1000"
    assert response.json()["history"][0]["kind"] == ServiceChangeKind.ACTIVATED
    assert service.product == faster
    assert (service.ont_serial, service.c_vlan, service.s_vlan) == ("ALCL-0001", 100, 200)
    assert service.parameters == {"qos": "gold"}
    assert service.history.get().actor == user_a
    connected.refresh_from_db()
    assert connected.status == AddressStatus.ACTIVATED


def test_a_read_only_token_cannot_activate(town, user_a, connected):
    order = order_for(town, connected)
    api = token_client(user_a, ["read", "orders"])

    response = api.post(
        f"/api/isp/orders/{order.pk}/activate/", {"ont_serial": "ONT1"}, format="json"
    )

    assert_refused(response, 403)
    assert "services" in response.json()["detail"]
    assert not Service.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_ACTIVATION


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "ont_serial"),
        ({"ont_serial": "ONT1", "c_vlan": 5000}, "c_vlan"),
        ({"ont_serial": "ONT1", "s_vlan": "x"}, "s_vlan"),
        ({"ont_serial": "ONT1", "product": "no-such"}, "product"),
        ({"ont_serial": "ONT1", "parameters": [1]}, "parameters"),
        ({"ont_serial": "bad serial!"}, "ont_serial"),
    ],
)
def test_bad_activation_input_is_a_400_naming_the_field(town, api_a, connected, body, field):
    order = order_for(town, connected)

    response = api_a.post(f"/api/isp/orders/{order.pk}/activate/", body, format="json")

    assert_refused(response, 400, field)
    assert not Service.objects.exists()


def test_activating_before_the_address_is_connected_is_a_409(town, api_a):
    order = order_for(town, build(town.address("live"), "in_deployment"))

    response = api_a.post(
        f"/api/isp/orders/{order.pk}/activate/", {"ont_serial": "ONT1"}, format="json"
    )

    assert_refused(response, 409)
    assert response.json()["code"] == "not_connected"
    assert not Service.objects.exists()


def test_services_list_and_filter_by_status(town, api_a, connected):
    live = service_activate(order=order_for(town, connected, unit="1"), ont_serial="ONT1")
    ended = service_activate(order=order_for(town, connected, unit="2"), ont_serial="ONT2")
    from wholesale.activation import service_deactivate

    service_deactivate(service=ended, reason="moved out")
    service_activate(order=order_for(town, connected, isp=1, unit="3"), ont_serial="ONT3")

    assert ids(api_a.get("/api/isp/services/")) == [ended.pk, live.pk]
    assert ids(api_a.get("/api/isp/services/", {"status": "active"})) == [live.pk]
    assert ids(api_a.get("/api/isp/services/", {"status": "ended"})) == [ended.pk]
    assert_refused(api_a.get("/api/isp/services/", {"status": "paused"}), 400, "status")


def test_service_detail_has_its_history(town, api_a, connected):
    service = service_activate(order=order_for(town, connected), ont_serial="ONT1")

    response = api_a.get(f"/api/isp/services/{service.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["isp"]["id"] == town.isps[0].pk
    assert body["order"]["reference"] == service.order.reference
    assert body["history"] == [
        {
            "kind": "activated",
            "from_product": None,
            "to_product": service.product.code,
            "reason": "",
            "at": body["activated_at"],
        }
    ]


def test_an_isp_deactivates_its_service(town, api_a, connected):
    service = service_activate(order=order_for(town, connected), ont_serial="ONT1")

    response = api_a.post(
        f"/api/isp/services/{service.pk}/deactivate/", {"reason": "moved out"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == ServiceStatus.ENDED
    assert response.json()["end_reason"] == "moved out"
    connected.refresh_from_db()
    assert connected.status == AddressStatus.CONNECTED


def test_deactivation_needs_a_reason(town, api_a, connected):
    service = service_activate(order=order_for(town, connected), ont_serial="ONT1")

    response = api_a.post(f"/api/isp/services/{service.pk}/deactivate/", {}, format="json")

    assert_refused(response, 400, "reason")
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE


def test_an_isp_changes_its_services_profile(town, api_a, connected):
    service = service_activate(order=order_for(town, connected), ont_serial="ONT1")
    ProductFactory(code="fibre-1000", download_mbps=1000, monthly_fee=Decimal("25.00"))

    response = api_a.post(
        f"/api/isp/services/{service.pk}/change-profile/",
        {"product": "fibre-1000", "reason": "upgrade"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["product"]["code"] == "fibre-1000"
    assert body["wholesale_monthly_fee"] == "25.00"
    assert [step["kind"] for step in body["history"]] == ["activated", "profile_changed"]


def test_a_change_to_an_unknown_product_is_a_400(town, api_a, connected):
    service = service_activate(order=order_for(town, connected), ont_serial="ONT1")

    response = api_a.post(
        f"/api/isp/services/{service.pk}/change-profile/", {"product": "warp"}, format="json"
    )

    assert_refused(response, 400, "product")
    service.refresh_from_db()
    assert service.product == town.offerings[0].product


def test_a_token_without_services_cannot_change_services(town, user_a, connected):
    service = service_activate(order=order_for(town, connected), ont_serial="ONT1")
    api = token_client(user_a, ["read", "orders"])

    response = api.post(
        f"/api/isp/services/{service.pk}/deactivate/", {"reason": "x"}, format="json"
    )

    assert_refused(response, 403)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE


# --- customers -------------------------------------------------------------------------------


def test_customers_and_a_customer_with_only_the_isps_orders(town, api_a, connected):
    shared = Customer.objects.create(name="Bea Both", email="bea@example.org")
    mine = order_for(town, connected, unit="1", customer=shared)
    order_for(town, connected, isp=1, unit="2", customer=shared)
    only_b = Customer.objects.create(name="Cem Kiez", email="cem@example.org")
    order_for(town, connected, isp=1, unit="3", customer=only_b)

    listed = api_a.get("/api/isp/customers/")
    detail = api_a.get(f"/api/isp/customers/{shared.pk}/")

    assert listed.status_code == 200
    assert ids(listed) == [shared.pk]
    assert detail.status_code == 200
    assert detail.json()["name"] == "Bea Both"
    assert [order["id"] for order in detail.json()["orders"]] == [mine.pk]
    assert api_a.get(f"/api/isp/customers/{only_b.pk}/").status_code == 404


# --- notifications and webhooks --------------------------------------------------------------


def test_notifications_list_filter_unread_and_mark_read(town, api_a, connected):
    order_for(town, connected, unit="1")
    order_for(town, connected, isp=1, unit="2")
    own = list(IspNotification.objects.filter(isp=town.isps[0]).order_by("-created_at", "-id"))
    assert own

    listed = api_a.get("/api/isp/notifications/")
    marked = api_a.post("/api/isp/notifications/read/", {"ids": [own[0].pk]}, format="json")
    unread = api_a.get("/api/isp/notifications/", {"unread": "true"})
    all_read = api_a.post("/api/isp/notifications/read/", {}, format="json")

    assert ids(listed) == [n.pk for n in own]
    assert listed.json()["results"][0]["isp"]["id"] == town.isps[0].pk
    assert marked.json() == {"marked": 1}
    assert ids(unread) == [n.pk for n in own[1:]]
    assert all_read.json() == {"marked": len(own) - 1}
    assert IspNotification.objects.filter(isp=town.isps[1], read_at=None).count() == 1


def test_bad_notification_ids_are_a_400(api_a):
    response = api_a.post("/api/isp/notifications/read/", {"ids": ["one"]}, format="json")

    assert_refused(response, 400, "ids")


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    """A real webhook receiver on 127.0.0.1 that accepts everything."""
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_webhook_endpoint_set_shown_without_secret_and_rotated(town, api_a, receiver):
    first = api_a.put("/api/isp/webhook/", {"url": receiver}, format="json")
    shown = api_a.get("/api/isp/webhook/")
    again = api_a.put("/api/isp/webhook/", {"url": receiver}, format="json")
    rotated = api_a.post("/api/isp/webhook/rotate-secret/")

    profile = town.isps[0].isp_profile
    profile.refresh_from_db()
    assert first.status_code == 200
    assert first.json()["url"] == receiver
    assert first.json()["secret"].startswith("whsec_")
    assert shown.json() == {"url": receiver, "has_secret": True}
    assert "secret" not in again.json()
    assert rotated.json()["secret"] == profile.webhook_secret != first.json()["secret"]


def test_a_bad_webhook_url_is_a_400(api_a):
    assert_refused(api_a.put("/api/isp/webhook/", {"url": "ftp://x"}, format="json"), 400, "url")


def test_webhook_settings_need_orders_and_services_scopes(user_a, receiver):
    api = token_client(user_a, ["read", "orders"])

    assert_refused(api.put("/api/isp/webhook/", {"url": receiver}, format="json"), 403)
    assert_refused(api.post("/api/isp/webhook/rotate-secret/"), 403)
    assert api.get("/api/isp/webhook/").json() == {"url": "", "has_secret": False}


def test_owner_staff_have_no_webhook_endpoint(staff_api):
    assert_refused(staff_api.get("/api/isp/webhook/"), 403)


def test_webhook_test_deliveries_log_and_replay(town, api_a, receiver):
    isp_webhook_set(isp=town.isps[0], url=receiver)

    sent = api_a.post("/api/isp/webhook/test/")
    delivery = WebhookDelivery.objects.get(notification_id=sent.json()["id"])
    webhook_send(delivery_id=delivery.pk)
    listed = api_a.get("/api/isp/webhooks/")
    detail = api_a.get(f"/api/isp/webhooks/{delivery.pk}/")
    replayed = api_a.post(f"/api/isp/webhooks/{delivery.pk}/replay/")

    assert sent.status_code == 202
    assert sent.json()["topic"] == "webhook.test"
    assert ids(listed) == [delivery.pk]
    assert listed.json()["results"][0]["status"] == WebhookStatus.DELIVERED
    assert listed.json()["results"][0]["attempts"] == 1
    assert detail.json()["log"][0]["status_code"] == 200
    assert detail.json()["log"][0]["url"] == receiver
    assert replayed.status_code == 202
    assert replayed.json()["replays"] == 1
    delivery.refresh_from_db()
    assert (delivery.replays, delivery.status) == (1, WebhookStatus.PENDING)


def test_webhook_test_without_an_endpoint_is_a_400(api_a):
    assert_refused(api_a.post("/api/isp/webhook/test/"), 400, "url")


def test_webhooks_filter_by_status(town, api_a, receiver):
    isp_webhook_set(isp=town.isps[0], url=receiver)
    api_a.post("/api/isp/webhook/test/")

    assert api_a.get("/api/isp/webhooks/", {"status": "pending"}).json()["count"] == 1
    assert api_a.get("/api/isp/webhooks/", {"status": "delivered"}).json()["count"] == 0


# --- catalog ---------------------------------------------------------------------------------


def test_catalog_offerings_are_the_isps_own_and_products_everyones(town, api_a):
    offerings = api_a.get("/api/isp/catalog/offerings/")
    products = api_a.get("/api/isp/catalog/products/")

    assert ids(offerings) == [town.offerings[0].pk]
    assert offerings.json()["results"][0]["monthly_price"] == "39.90"
    codes = {row["code"] for row in products.json()["results"]}
    assert codes == {offering.product.code for offering in town.offerings}


# --- the shared network ----------------------------------------------------------------------


def test_network_address_shows_status_and_only_the_callers_offerings_and_orders(
    town, api_a, connected
):
    mine = order_for(town, connected, unit="1")
    order_for(town, connected, isp=1, unit="2")

    response = api_a.get(f"/api/isp/network/addresses/{connected.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["address"]["id"] == connected.pk
    assert body["address"]["status"] == AddressStatus.CONNECTED
    assert body["state"] == "available"
    assert body["area"]["phase"] == "live"
    assert body["served"] is True and body["can_order"] is True
    assert body["offerings"] == [{"id": town.offerings[0].pk, "name": "Spree 500"}]
    assert [order["id"] for order in body["orders"]] == [mine.pk]
    text = response.content.decode()
    assert "Kiez Online" not in text and "Kiez 1000" not in text  # nothing of the other ISP


def test_network_address_of_a_retired_address_says_so_and_takes_no_order(town, api_a, connected):
    from gis_core.services import addresses_retire

    mine = order_for(town, connected)
    addresses_retire(address_ids=[connected.pk], reason="feature gone")

    body = api_a.get(f"/api/isp/network/addresses/{connected.pk}/").json()

    assert body["state"] == "retired"
    assert body["address"]["id"] == connected.pk
    assert body["area"] is None and body["window"] is None
    assert body["served"] is False and body["can_order"] is False
    assert body["offerings"] == []
    assert [order["id"] for order in body["orders"]] == [mine.pk]  # kept with its address


def test_network_address_of_no_address_is_a_404(api_a):
    assert_refused(api_a.get("/api/isp/network/addresses/999999/"), 404)


def test_network_areas_show_phase_homes_and_build_progress(town, api_a, connected):
    build(town.address("live", n=1), "in_deployment")
    service_activate(order=order_for(town, connected), ont_serial="ONT1")

    response = api_a.get("/api/isp/network/areas/", {"phase": "live"})

    assert response.status_code == 200
    [live] = response.json()["results"]
    assert live["code"] == "t-live"
    assert (live["addresses"], live["connected"], live["activated"]) == (2, 1, 1)
    assert live["build_progress"] == 0.5
    assert "take_rate" not in live and "orders" not in live


def test_network_maintenance_lists_upcoming_work(town, api_a):
    now = timezone.now()
    soon = MaintenanceWindow.objects.create(
        area=town.areas["live"],
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=2),
        title="Splice work",
    )
    MaintenanceWindow.objects.create(
        starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=1), title="Done"
    )

    response = api_a.get("/api/isp/network/maintenance/")

    assert ids(response) == [soon.pk]
    assert response.json()["results"][0]["area"]["code"] == "t-live"


# --- who may call ----------------------------------------------------------------------------


def test_without_credentials_the_api_is_a_401():
    response = APIClient().get("/api/isp/orders/")

    assert response.status_code == 401


def test_a_suspended_isps_token_fails_at_once(town, api_a, user_a):
    assert api_a.get("/api/isp/orders/").status_code == 200

    isp_suspend(isp=town.isps[0], reason="unpaid invoices")

    assert api_a.get("/api/isp/orders/").status_code == 401
    session = APIClient()
    session.force_login(user_a)
    assert session.get("/api/isp/orders/").status_code == 403


def test_session_users_have_every_scope(town, user_a, connected):
    order = order_for(town, connected)
    session = APIClient()
    session.force_login(user_a)

    response = session.post(
        f"/api/isp/orders/{order.pk}/activate/", {"ont_serial": "ONT1"}, format="json"
    )

    assert response.status_code == 201


def test_owner_staff_see_every_isps_orders_with_their_isp(town, staff_api, connected):
    a = order_for(town, connected, unit="1")
    b = order_for(town, connected, isp=1, unit="2")

    response = staff_api.get("/api/isp/orders/")

    assert ids(response) == [b.pk, a.pk]
    assert [row["isp"]["name"] for row in response.json()["results"]] == [
        "Kiez Online",
        "Spree Net",
    ]
    assert ids(staff_api.get("/api/isp/orders/", {"isp": town.isps[0].pk})) == [a.pk]


def test_owner_staff_activate_an_isps_order(town, staff_api, admin_user, connected):
    order = order_for(town, connected)

    response = staff_api.post(
        f"/api/isp/orders/{order.pk}/activate/", {"ont_serial": "ONT1"}, format="json"
    )

    assert response.status_code == 201
    assert Service.objects.get().history.get().actor == admin_user


def test_other_organisations_users_are_refused(town, planner):
    from tests.accounts.factories import UserFactory

    contractor = UserFactory(contractor=True)
    client = APIClient()
    client.force_login(contractor)

    assert client.get("/api/isp/orders/").status_code == 403


# --- the number of queries of every list -----------------------------------------------------

LISTS = [
    "/api/isp/orders/",
    "/api/isp/ready/",
    "/api/isp/services/",
    "/api/isp/customers/",
    "/api/isp/notifications/",
    "/api/isp/webhooks/",
    "/api/isp/catalog/offerings/",
    "/api/isp/catalog/products/",
    "/api/isp/network/areas/",
    "/api/isp/network/maintenance/",
]


@pytest.fixture
def busy(town, receiver):
    """Several rows of every kind for ISP A."""
    isp_webhook_set(isp=town.isps[0], url=receiver)
    now = timezone.now()
    for n in range(4):
        address = build(town.address("live", n=n), "connected")
        customer = Customer.objects.create(name=f"C{n}", email=f"c{n}@example.org")
        order = order_for(town, address, customer=customer)
        if n % 2:
            service_activate(order=order, ont_serial=f"ONT{n}")
        MaintenanceWindow.objects.create(
            starts_at=now + timedelta(days=n + 1),
            ends_at=now + timedelta(days=n + 2),
            area=town.areas["live"] if n % 2 else None,
            title=f"work {n}",
        )


@pytest.mark.parametrize("url", LISTS)
def test_every_list_takes_a_fixed_number_of_queries(
    url, busy, api_a, django_assert_max_num_queries
):
    api_a.get(url)  # the token's last use is stamped once; count the next request
    with django_assert_max_num_queries(6):
        response = api_a.get(url)

    assert response.status_code == 200
    assert response.json()["count"] >= 1, url


def test_the_api_is_in_the_openapi_schema(staff_api):
    schema = staff_api.get("/api/schema/", {"format": "json"}).json()

    paths = set(schema["paths"])
    assert "/api/isp/orders/{id}/activate/" in paths
    assert "/api/isp/network/addresses/{id}/" in paths
    assert "/api/isp/webhook/rotate-secret/" in paths
    assert json.dumps(schema).count("apiToken") >= 1


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))

    assert "/api/isp/customers/{id}/" in target.read_text()


def test_pages_follow_one_another_in_the_lists_order(town, api_a):
    homes = [build(town.address("live", n=k), "connected") for k in range(7)]
    orders = [order_for(town, home) for home in homes]
    for k, order in enumerate(orders):  # placed a day apart, the newest last
        Order.objects.filter(pk=order.pk).update(placed_at=timezone.now() - timedelta(days=7 - k))
    newest_first = [order.pk for order in reversed(orders)]

    pages = [
        api_a.get("/api/isp/orders/", {"limit": 3, "offset": offset}).json()
        for offset in (0, 3, 6, 9)
    ]

    assert [[row["id"] for row in page["results"]] for page in pages] == [
        newest_first[0:3],
        newest_first[3:6],
        newest_first[6:7],
        [],
    ]
    assert {page["count"] for page in pages} == {7}
