"""The ISP portal (/isp/): who may open it, that an ISP sees only its own business (another
ISP's ids are 404s), the forms' happy and refused paths (a refusal is a message on the page
and changes nothing), and lists whose query count does not grow with their rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import ApiToken
from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, organisation_set_active, user_create
from common.models import DomainEvent
from gis_core.lifecycle import AddressStatus
from tests.wholesale.conftest import build
from tests.wholesale.factories import ProductFactory
from wholesale.activation import service_activate
from wholesale.lifecycle import OrderStatus, ServiceStatus, WebhookStatus
from wholesale.models import (
    Customer,
    IspNotification,
    IspProfile,
    MaintenanceWindow,
    Order,
    Service,
    ServiceChange,
    WebhookDelivery,
)
from wholesale.notifications import isp_notify
from wholesale.onboarding import isp_webhook_set
from wholesale.services import order_place

PASSWORD = "isp-pass-123"
WEBHOOK_URL = "http://127.0.0.1:9/hooks"


@pytest.fixture
def spree(town):
    return town.isps[0]


@pytest.fixture
def kiez(town):
    return town.isps[1]


def _isp_user(isp, username):
    return user_create(username=username, organisation=isp, role=Role.ISP_USER, password=PASSWORD)


@pytest.fixture
def spree_user(spree):
    return _isp_user(spree, "spree-user")


@pytest.fixture
def kiez_user(kiez):
    return _isp_user(kiez, "kiez-user")


@pytest.fixture
def contractor_user(db):
    firm = organisation_create(name="Tiefbau GmbH", kind=OrganisationKind.CONTRACTOR)
    return user_create(
        username="digger", organisation=firm, role=Role.CONTRACTOR_TECHNICIAN, password=PASSWORD
    )


def _order(town, isp_index, *, connected=True, customer=None, n=0):
    address = town.address("live", n=n)
    if connected:
        address = build(address, "connected")
    offering = town.offerings[isp_index]
    return order_place(address=address, isp=offering.isp, offering=offering, customer=customer)


@pytest.fixture
def business(town, spree, kiez):
    """Each ISP has a customer with a ready order and a live service; Spree's customer also
    ordered from Kiez (Spree must never see that order)."""
    alice = Customer.objects.create(name="Alice Example", email="alice@example.org")
    bob = Customer.objects.create(name="Bob Other", email="bob@example.org")
    spree_ready = _order(town, 0, customer=alice, n=0)
    spree_live_order = _order(town, 0, customer=alice, n=1)
    spree_service = service_activate(order=spree_live_order, ont_serial="SPRE0001")
    kiez_ready = _order(town, 1, customer=bob, n=2)
    kiez_live_order = _order(town, 1, customer=alice, n=3)
    kiez_service = service_activate(order=kiez_live_order, ont_serial="KIEZ0001")
    for isp in (spree, kiez):
        isp_webhook_set(isp=isp, url=WEBHOOK_URL)
    spree_note = isp_notify(
        isp_id=spree.pk, kind="order_changed", topic="order.changed", message="Spree news", data={}
    )
    kiez_note = isp_notify(
        isp_id=kiez.pk, kind="order_changed", topic="order.changed", message="Kiez news", data={}
    )
    return {
        "alice": alice,
        "bob": bob,
        "spree_ready": spree_ready,
        "spree_service": spree_service,
        "kiez_ready": kiez_ready,
        "kiez_service": kiez_service,
        "spree_delivery": spree_note.delivery,
        "kiez_delivery": kiez_note.delivery,
        "spree_note": spree_note,
        "kiez_note": kiez_note,
    }


def _pages(objects, prefix):
    """Every page of the portal, with the ids of the `prefix` ISP's objects."""
    return [
        reverse("isp:dashboard"),
        reverse("isp:orders"),
        reverse("isp:order", args=[objects[f"{prefix}_ready"].pk]),
        reverse("isp:services"),
        reverse("isp:service", args=[objects[f"{prefix}_service"].pk]),
        reverse("isp:customers"),
        reverse("isp:customer", args=[objects["alice" if prefix == "spree" else "bob"].pk]),
        reverse("isp:notifications"),
        reverse("isp:webhooks"),
        reverse("isp:webhook", args=[objects[f"{prefix}_delivery"].pk]),
        reverse("isp:settings"),
        reverse("isp:catalog"),
        reverse("isp:network"),
    ]


def _text(response) -> str:
    return response.content.decode()


# --- who may open the portal --------------------------------------------------------------------


def test_every_page_renders_for_an_isp_user(client, business, spree_user):
    client.force_login(spree_user)
    for url in _pages(business, "spree"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Kiez Online" not in _text(response), url
        assert "Kiez 1000" not in _text(response), url


def test_every_page_renders_for_the_owners_staff_with_every_isp(client, business, planner):
    client.force_login(planner)
    for url in _pages(business, "spree") + _pages(business, "kiez"):
        assert client.get(url).status_code == 200, url
    orders = _text(client.get(reverse("isp:orders")))
    assert business["spree_ready"].reference in orders
    assert business["kiez_ready"].reference in orders
    assert "<th>ISP</th>" in orders


def test_anonymous_visitors_are_sent_to_sign_in(client, business):
    for url in _pages(business, "spree"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{reverse('login')}?next={url}"


def test_contractors_and_suspended_isps_are_refused(client, business, contractor_user, spree):
    client.force_login(contractor_user)
    for url in _pages(business, "spree"):
        assert client.get(url).status_code == 403, url
    suspended = _isp_user(spree, "spree-two")
    organisation_set_active(organisation=spree, is_active=False)
    client.force_login(suspended)
    assert client.get(reverse("isp:dashboard")).status_code == 403


def test_signing_in_leads_isp_users_to_their_portal(client, spree_user, planner):
    response = client.post(
        reverse("login"), {"username": "spree-user", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("isp:dashboard")
    assert 'href="/isp/"' in _text(response)
    client.logout()
    client.force_login(planner)
    assert client.get("/")["Location"] == reverse("areas:map")


# --- firewalled: another ISP's ids are 404s -----------------------------------------------------


def test_another_isps_objects_are_not_found(client, business, spree_user):
    client.force_login(spree_user)
    foreign = [
        reverse("isp:order", args=[business["kiez_ready"].pk]),
        reverse("isp:service", args=[business["kiez_service"].pk]),
        reverse("isp:customer", args=[business["bob"].pk]),
        reverse("isp:webhook", args=[business["kiez_delivery"].pk]),
    ]
    for url in foreign:
        assert client.get(url).status_code == 404, url
    posts = {
        reverse("isp:order-activate", args=[business["kiez_ready"].pk]): {"ont_serial": "X1"},
        reverse("isp:service-change", args=[business["kiez_service"].pk]): {},
        reverse("isp:service-deactivate", args=[business["kiez_service"].pk]): {
            "reason": "x",
            "confirm": "on",
        },
        reverse("isp:webhook-replay", args=[business["kiez_delivery"].pk]): {},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 404, url
    business["kiez_ready"].refresh_from_db()
    assert business["kiez_ready"].status == OrderStatus.READY_FOR_ACTIVATION
    assert Service.objects.get(pk=business["kiez_service"].pk).status == ServiceStatus.ACTIVE
    assert WebhookDelivery.objects.get(pk=business["kiez_delivery"].pk).replays == 0


def test_lists_hold_only_the_isps_own_rows(client, business, spree_user):
    client.force_login(spree_user)
    orders = _text(client.get(reverse("isp:orders")))
    assert business["spree_ready"].reference in orders
    assert business["kiez_ready"].reference not in orders
    assert business["kiez_service"].order.reference not in orders
    services = _text(client.get(reverse("isp:services")))
    assert business["spree_service"].reference in services
    assert business["kiez_service"].reference not in services
    customers = _text(client.get(reverse("isp:customers")))
    assert "Alice Example" in customers
    assert "Bob Other" not in customers
    # Alice also ordered from Kiez: her page shows Spree's two orders only
    alice = _text(client.get(reverse("isp:customer", args=[business["alice"].pk])))
    assert alice.count('data-order="') == 2
    assert business["kiez_service"].order.reference not in alice
    notes = _text(client.get(reverse("isp:notifications")))
    assert "Spree news" in notes
    assert "Kiez news" not in notes
    hooks = _text(client.get(reverse("isp:webhooks")))
    assert f'data-delivery="{business["spree_delivery"].pk}"' in hooks
    assert f'data-delivery="{business["kiez_delivery"].pk}"' not in hooks


def test_the_owners_staff_filter_the_lists_by_isp(client, business, planner, kiez):
    client.force_login(planner)
    orders = _text(client.get(reverse("isp:orders"), {"isp": kiez.pk}))
    assert business["kiez_ready"].reference in orders
    assert business["spree_ready"].reference not in orders
    customers = _text(client.get(reverse("isp:customers"), {"isp": kiez.pk}))
    assert "Bob Other" in customers
    assert "Alice Example" in customers  # she has a Kiez order too


def test_the_owners_staff_only_read(client, business, planner):
    client.force_login(planner)
    order = business["spree_ready"]
    response = client.post(reverse("isp:order-activate", args=[order.pk]), {"ont_serial": "X1"})
    assert response.status_code == 403
    assert client.post(reverse("isp:settings-secret")).status_code == 403
    assert 'data-form="activate"' not in _text(client.get(reverse("isp:order", args=[order.pk])))
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_ACTIVATION


# --- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_counts_and_lists_what_is_ready(client, business, spree_user):
    client.force_login(spree_user)
    response = client.get(reverse("isp:dashboard"))
    page = _text(response)
    counts = {item["value"]: item["count"] for item in response.context["status_counts"]}
    assert counts[OrderStatus.READY_FOR_ACTIVATION] == 1
    assert counts[OrderStatus.ACTIVE] == 1
    assert [order.pk for order in response.context["ready"]] == [business["spree_ready"].pk]
    assert f'data-order="{business["spree_ready"].reference}"' in page
    assert response.context["active_services"] == 1
    bars = response.context["bars"]
    assert len(bars) == 12
    assert bars[-1]["count"] == 1
    assert sum(bar["count"] for bar in bars) == 1
    assert 'class="unread"' in page


# --- activation ---------------------------------------------------------------------------------


def test_activating_from_the_order_page(client, business, spree_user, town):
    client.force_login(spree_user)
    order = business["spree_ready"]
    page = _text(client.get(reverse("isp:order", args=[order.pk])))
    assert 'data-form="activate"' in page
    assert f'<option value="{town.offerings[0].product.pk}" selected>' in page

    response = client.post(
        reverse("isp:order-activate", args=[order.pk]),
        {
            "ont_serial": "alcl-0042",
            "product": town.offerings[0].product.pk,
            "c_vlan": "100",
            "s_vlan": "",
        },
    )

    service = Service.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == reverse("isp:service", args=[service.pk])
    assert (service.ont_serial, service.c_vlan, service.s_vlan) == ("ALCL-0042", 100, None)
    assert service.status == ServiceStatus.ACTIVE
    assert service.history.get().actor == spree_user
    order.refresh_from_db()
    order.address.refresh_from_db()
    assert order.status == OrderStatus.ACTIVE
    assert order.address.status == AddressStatus.ACTIVATED
    followed = client.get(response["Location"])
    assert f"Service {service.reference} is active" in _text(followed)


def test_a_bad_ont_serial_is_shown_and_nothing_changes(client, business, spree_user, town):
    client.force_login(spree_user)
    order = business["spree_ready"]
    events = DomainEvent.objects.count()

    response = client.post(
        reverse("isp:order-activate", args=[order.pk]),
        {"ont_serial": "bad serial!", "product": town.offerings[0].product.pk},
    )

    assert response.status_code == 400
    page = _text(response)
    assert "&#x27;bad serial!&#x27; is not an ONT serial" in page
    assert 'data-error-field="ont_serial"' in page
    assert 'value="bad serial!"' in page
    assert not Service.objects.filter(order=order).exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_ACTIVATION
    assert DomainEvent.objects.count() == events


def test_an_out_of_range_vlan_and_a_missing_serial_are_form_errors(client, business, spree_user):
    client.force_login(spree_user)
    order = business["spree_ready"]
    response = client.post(
        reverse("isp:order-activate", args=[order.pk]), {"ont_serial": "", "c_vlan": "5000"}
    )
    assert response.status_code == 400
    errors = response.context["activate_form"].errors
    assert set(errors) == {"ont_serial", "product", "c_vlan"}
    assert "The service was not activated" in _text(response)
    assert not Service.objects.filter(order=order).exists()


def test_an_ont_serving_another_line_is_refused(client, business, spree_user, town):
    client.force_login(spree_user)
    order = business["spree_ready"]
    response = client.post(
        reverse("isp:order-activate", args=[order.pk]),
        {"ont_serial": "KIEZ0001", "product": town.offerings[0].product.pk},
    )
    assert response.status_code == 400
    assert "The ONT KIEZ0001 serves another line" in _text(response)
    assert not Service.objects.filter(order=order).exists()


# --- services -----------------------------------------------------------------------------------


def test_changing_a_services_profile(client, business, spree_user):
    client.force_login(spree_user)
    service = business["spree_service"]
    faster = ProductFactory(name="Fibre 1000", download_mbps=1000)
    response = client.post(
        reverse("isp:service-change", args=[service.pk]),
        {"product": faster.pk, "reason": "customer upgrade"},
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.product == faster
    change = service.history.order_by("-at", "-id").first()
    assert (change.kind, change.reason, change.to_product) == (
        "profile_changed",
        "customer upgrade",
        faster,
    )


def test_changing_to_the_same_profile_is_refused(client, business, spree_user):
    client.force_login(spree_user)
    service = business["spree_service"]
    response = client.post(
        reverse("isp:service-change", args=[service.pk]), {"product": service.product_id}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in _text(response)
    assert ServiceChange.objects.filter(service=service).count() == 1


def test_deactivation_needs_a_confirmation(client, business, spree_user):
    client.force_login(spree_user)
    service = business["spree_service"]
    url = reverse("isp:service-deactivate", args=[service.pk])

    refused = client.post(url, {"reason": "moving out"})
    assert refused.status_code == 400
    assert "tick the box to confirm the deactivation" in _text(refused)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE

    done = client.post(url, {"reason": "moving out", "confirm": "on"})
    assert done.status_code == 302
    service.refresh_from_db()
    assert service.status == ServiceStatus.ENDED
    assert service.end_reason == "moving out"
    assert service.order.status == OrderStatus.TERMINATED
    page = _text(client.get(reverse("isp:service", args=[service.pk])))
    assert 'data-service-status="ended"' in page
    assert 'data-form="deactivate"' not in page


def test_another_isps_user_is_not_named_in_the_history(
    client, business, spree_user, kiez_user, town
):
    """A switch ends Spree's service by Kiez's hand: Spree reads "another provider"."""
    service = business["spree_service"]
    offering = town.offerings[1]
    switch = order_place(address=service.address, isp=offering.isp, offering=offering)
    service_activate(order=switch, ont_serial="KIEZ0002", actor=kiez_user)
    client.force_login(spree_user)
    page = _text(client.get(reverse("isp:service", args=[service.pk])))
    assert "by another provider" in page
    assert "kiez-user" not in page


# --- notifications ------------------------------------------------------------------------------


def test_marking_notifications_read(client, business, spree_user, spree):
    client.force_login(spree_user)
    unread = IspNotification.objects.filter(isp=spree, read_at=None)
    total = unread.count()
    assert total > 1
    note = business["spree_note"]
    foreign = business["kiez_note"]

    response = client.post(
        reverse("isp:notifications-read"), {"ids": [str(note.pk), str(foreign.pk)]}
    )
    assert response.status_code == 302
    note.refresh_from_db()
    foreign.refresh_from_db()
    assert note.read_at is not None
    assert foreign.read_at is None
    assert unread.count() == total - 1

    client.post(reverse("isp:notifications-read"), {"all": "1"})
    assert unread.count() == 0
    foreign.refresh_from_db()
    assert foreign.read_at is None


def test_marking_read_without_a_choice_is_a_message(client, business, spree_user, spree):
    client.force_login(spree_user)
    response = client.post(reverse("isp:notifications-read"), {"ids": ["x"]}, follow=True)
    assert "Choose notifications by their number." in _text(response)
    assert not IspNotification.objects.filter(isp=spree).exclude(read_at=None).exists()


# --- webhooks and settings ----------------------------------------------------------------------


def test_replaying_a_delivery(client, business, spree_user):
    client.force_login(spree_user)
    delivery = business["spree_delivery"]
    response = client.post(reverse("isp:webhook-replay", args=[delivery.pk]), follow=True)
    delivery.refresh_from_db()
    assert delivery.replays == 1
    assert delivery.status == WebhookStatus.PENDING
    assert "The delivery is queued again" in _text(response)


def test_replaying_without_a_webhook_url_is_a_message(client, business, spree_user, spree):
    client.force_login(spree_user)
    isp_webhook_set(isp=spree, url="")
    delivery = business["spree_delivery"]
    response = client.post(reverse("isp:webhook-replay", args=[delivery.pk]), follow=True)
    assert response.status_code == 200
    assert "Set a webhook URL first" in _text(response)
    delivery.refresh_from_db()
    assert delivery.replays == 0


def test_setting_the_webhook_url(client, spree_user, spree):
    client.force_login(spree_user)
    url = reverse("isp:settings-webhook")

    refused = client.post(url, {"url": "not a url"})
    assert refused.status_code == 400
    assert "&#x27;not a url&#x27; is not a web address" in _text(refused)
    assert not IspProfile.objects.filter(organisation=spree).exclude(webhook_url="").exists()

    done = client.post(url, {"url": "http://127.0.0.1:8099/in"})
    assert done.status_code == 302
    assert IspProfile.objects.get(organisation=spree).webhook_url == "http://127.0.0.1:8099/in"


def test_a_rotated_secret_is_shown_once(client, spree_user, spree):
    client.force_login(spree_user)
    isp_webhook_set(isp=spree, url=WEBHOOK_URL)
    old = IspProfile.objects.get(organisation=spree).webhook_secret

    response = client.post(reverse("isp:settings-secret"), follow=True)

    new = IspProfile.objects.get(organisation=spree).webhook_secret
    assert new != old
    assert f'<code class="secret" data-secret>{new}</code>' in _text(response)
    assert new not in _text(client.get(reverse("isp:settings")))


def test_sending_a_test_delivery(client, spree_user, spree):
    client.force_login(spree_user)
    refused = client.post(reverse("isp:settings-test"), follow=True)
    assert "Set a webhook URL first" in _text(refused)
    assert not WebhookDelivery.objects.filter(isp=spree).exists()

    isp_webhook_set(isp=spree, url=WEBHOOK_URL)
    response = client.post(reverse("isp:settings-test"))
    delivery = WebhookDelivery.objects.get(isp=spree)
    assert delivery.notification.topic == "webhook.test"
    assert response["Location"] == reverse("isp:webhook", args=[delivery.pk])


def test_api_tokens_are_created_shown_once_and_revoked(client, spree_user, spree, kiez_user):
    client.force_login(spree_user)
    refused = client.post(reverse("isp:token-create"), {"name": "CRM"})
    assert refused.status_code == 400
    assert "choose at least one scope" in _text(refused)
    assert not ApiToken.objects.exists()

    response = client.post(
        reverse("isp:token-create"), {"name": "CRM", "scopes": ["read", "services"]}, follow=True
    )
    token = ApiToken.objects.get(organisation=spree)
    assert token.scopes == ["read", "services"]
    key = response.context["revealed"]["value"]
    assert ApiToken.hash_key(key) == token.key_hash
    assert key in _text(response)
    assert key not in _text(client.get(reverse("isp:settings")))

    client.force_login(kiez_user)
    assert client.post(reverse("isp:token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None

    client.force_login(spree_user)
    assert client.post(reverse("isp:token-revoke", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


# --- catalog and network ------------------------------------------------------------------------


def test_the_catalog_shows_the_isps_offerings_and_the_products(client, spree_user, town):
    client.force_login(spree_user)
    page = _text(client.get(reverse("isp:catalog")))
    assert "Spree 500" in page
    assert "Kiez 1000" not in page
    assert f'data-product="{town.offerings[1].product.code}"' in page


def test_the_network_page_shows_build_progress_and_maintenance(client, business, spree_user, town):
    from django.utils import timezone

    MaintenanceWindow.objects.create(
        area=town.areas["live"],
        title="Splice closure swap",
        starts_at=timezone.now() + timezone.timedelta(days=2),
        ends_at=timezone.now() + timezone.timedelta(days=2, hours=3),
    )
    client.force_login(spree_user)
    response = client.get(reverse("isp:network"))
    page = _text(response)
    assert "Splice closure swap" in page
    live = next(row for row in response.context["rows"] if row["area"].code == "t-live")
    assert (live["area"].homes, live["area"].built_homes) == (4, 4)
    assert "Kiez Online" not in page


def test_looking_up_an_address(client, business, spree_user, town):
    client.force_login(spree_user)
    address = business["spree_ready"].address
    response = client.get(reverse("isp:network"), {"address": str(address.pk)})
    answer = response.context["lookup"]["answer"]
    assert answer["state"] == "available"
    assert answer["status_value"] == AddressStatus.CONNECTED
    assert [order.pk for order in answer["own_orders"]] == [business["spree_ready"].pk]
    # another ISP's address: its status, never its orders
    kiez_address = business["kiez_ready"].address
    response = client.get(reverse("isp:network"), {"address": str(kiez_address.pk)})
    assert response.context["lookup"]["answer"]["own_orders"] == []
    assert business["kiez_ready"].reference not in _text(response)


def test_looking_up_an_unknown_address_is_a_message(client, spree_user, town):
    client.force_login(spree_user)
    response = client.get(reverse("isp:network"), {"address": "999999999"})
    assert response.status_code == 200
    assert "There is no address with id 999999999." in _text(response)
    response = client.get(reverse("isp:network"), {"address": "x"})
    assert response.status_code == 200
    assert response.context["lookup"]["error"]


# --- query counts -------------------------------------------------------------------------------

LISTS = ["isp:orders", "isp:services", "isp:customers", "isp:notifications", "isp:webhooks"]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("name", [*LISTS, "isp:dashboard", "isp:network", "isp:catalog"])
def test_list_pages_do_not_query_per_row(
    client, town, spree_user, name, django_assert_max_num_queries
):
    client.force_login(spree_user)
    isp_webhook_set(isp=town.isps[0], url=WEBHOOK_URL)
    customer = Customer.objects.create(name="First", email="first@example.org")
    _order(town, 0, customer=customer, n=0)
    service_activate(order=_order(town, 0, customer=customer, n=1), ont_serial="ONT1")
    url = reverse(name)
    client.get(url)  # warm the session and caches
    few = _queries(client, url)

    for n in range(2, 8):
        more = Customer.objects.create(name=f"C{n}", email=f"c{n}@example.org")
        placed = _order(town, 0, customer=more, n=n)
        if n % 2:
            service_activate(order=placed, ont_serial=f"ONT{n}")

    with django_assert_max_num_queries(few):
        client.get(url)
    assert few <= 8
    assert Order.objects.filter(isp=town.isps[0]).count() == 8


def test_the_owners_staff_read_an_isps_settings_without_its_secret(client, planner, spree):
    profile = isp_webhook_set(isp=spree, url=WEBHOOK_URL)
    client.force_login(planner)
    page = _text(client.get(reverse("isp:settings"), {"isp": spree.pk}))
    assert WEBHOOK_URL in page
    assert profile.webhook_secret[:10] not in page
    assert 'data-form="webhook"' not in page
    assert 'data-form="token"' not in page
