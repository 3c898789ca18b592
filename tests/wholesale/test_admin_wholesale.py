"""The wholesale admin: services read-only with their history, ISPs activated and suspended
by actions that call the onboarding services, deliveries replayed through the outbox, and
maintenance windows edited as plain rows. Through Django's test client, signed in as the
operator admin."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.models import OutboxMessage
from gis_core.lifecycle import AddressStatus
from tests.wholesale.conftest import build
from wholesale.activation import service_activate
from wholesale.lifecycle import IspStatus, ServiceStatus, WebhookStatus
from wholesale.models import (
    IspStatusChange,
    MaintenanceWindow,
    Service,
    WebhookDelivery,
)
from wholesale.notifications import webhook_test_send
from wholesale.onboarding import isp_onboard, isp_webhook_set
from wholesale.services import order_place


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def service(town) -> Service:
    """A live service of the first ISP on a connected home of the live area."""
    address = build(town.address("live"), "connected")
    offering = town.offerings[0]
    order = order_place(address=address, isp=offering.isp, offering=offering)
    return service_activate(order=order, ont_serial="ZTEG0A1B2C3D", c_vlan=120, s_vlan=1010)


def _action(client, path: str, action: str, *pks: int):
    return client.post(
        path, {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True
    )


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- services --------------------------------------------------------------------------------


def test_services_are_listed_filtered_and_found_by_reference_or_ont_serial(
    staff, service, town, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        listed = staff.get("/admin/wholesale/service/")
    assert listed.status_code == 200
    assert service.reference in listed.content.decode()

    by_serial = staff.get("/admin/wholesale/service/", {"q": "zteg0a1b2c3d"})
    by_reference = staff.get("/admin/wholesale/service/", {"q": service.reference})
    other_isp = staff.get("/admin/wholesale/service/", {"isp__id__exact": town.isps[1].pk})
    ended = staff.get("/admin/wholesale/service/", {"status__exact": ServiceStatus.ENDED})

    assert list(by_serial.context["cl"].result_list) == [service]
    assert list(by_reference.context["cl"].result_list) == [service]
    assert list(other_isp.context["cl"].result_list) == []
    assert list(ended.context["cl"].result_list) == []


def test_a_service_shows_its_history_and_cannot_be_edited_by_hand(staff, service):
    page = staff.get(f"/admin/wholesale/service/{service.pk}/change/")

    assert page.status_code == 200
    body = page.content.decode()
    assert "ZTEG0A1B2C3D" in body and "activated" in body
    assert 'name="ont_serial"' not in body  # shown, not an input

    staff.post(
        f"/admin/wholesale/service/{service.pk}/change/",
        {"ont_serial": "HACKED", "status": ServiceStatus.ENDED},
    )

    service.refresh_from_db()
    assert (service.ont_serial, service.status) == ("ZTEG0A1B2C3D", ServiceStatus.ACTIVE)
    assert staff.get("/admin/wholesale/service/add/").status_code == 403


def test_deactivating_a_service_from_the_admin_goes_through_its_service(staff, service):
    response = _action(staff, "/admin/wholesale/service/", "service_deactivate", service.pk)

    service.refresh_from_db()
    service.address.refresh_from_db()
    assert service.status == ServiceStatus.ENDED
    assert service.end_reason == "admin action"
    assert service.history.last().actor.username == "admin"
    assert service.address.status == AddressStatus.CONNECTED
    assert "1 service(s) moved." in _messages(response)


# --- ISP profiles: onboarding ------------------------------------------------------------------


@pytest.fixture
def draft_isp(owner):
    return isp_onboard(name="Wedding Wave", contact_email="ops@wedding-wave.example")


def test_an_isp_is_activated_then_suspended_by_the_admin_actions(staff, draft_isp):
    profile = draft_isp.isp_profile
    assert profile.status == IspStatus.DRAFT

    activated = _action(
        staff, "/admin/wholesale/ispprofile/", "isp_activate_from_admin", profile.pk
    )
    profile.refresh_from_db()
    draft_isp.refresh_from_db()
    assert (profile.status, draft_isp.is_active) == (IspStatus.ACTIVE, True)
    assert "1 ISP(s) moved." in _messages(activated)

    _action(staff, "/admin/wholesale/ispprofile/", "isp_suspend_from_admin", profile.pk)

    profile.refresh_from_db()
    draft_isp.refresh_from_db()
    assert (profile.status, draft_isp.is_active) == (IspStatus.SUSPENDED, False)
    history = list(
        IspStatusChange.objects.filter(profile=profile).values_list(
            "from_status", "to_status", "actor__username", "reason"
        )
    )
    assert history == [
        ("", IspStatus.DRAFT, None, "onboarding started"),
        (IspStatus.DRAFT, IspStatus.ACTIVE, "admin", "activated by admin from the admin"),
        (IspStatus.ACTIVE, IspStatus.SUSPENDED, "admin", "suspended by admin from the admin"),
    ]


def test_a_refused_move_says_why_and_changes_nothing(staff, draft_isp):
    profile = draft_isp.isp_profile

    response = _action(staff, "/admin/wholesale/ispprofile/", "isp_suspend_from_admin", profile.pk)

    profile.refresh_from_db()
    assert profile.status == IspStatus.DRAFT
    assert IspStatusChange.objects.filter(profile=profile).count() == 1
    assert any("draft" in message for message in _messages(response))


def test_the_profile_shows_its_status_read_only_and_saves_contacts_through_the_service(
    staff, draft_isp
):
    profile = draft_isp.isp_profile
    path = f"/admin/wholesale/ispprofile/{profile.pk}/change/"
    page = staff.get(path)
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()
    assert profile.webhook_secret not in page.content.decode()

    form = {
        "logo": "",
        "website": "https://wedding-wave.example",
        "contact_name": "Ada Wave",
        "contact_email": "ada@wedding-wave.example",
        "contact_phone": "+49 30 1234",
        "support_email": "noc@wedding-wave.example",
        "webhook_url": "",
        "status": IspStatus.ACTIVE,  # ignored: not a field of the form
        "history-TOTAL_FORMS": "1",
        "history-INITIAL_FORMS": "1",
        "history-MIN_NUM_FORMS": "0",
        "history-MAX_NUM_FORMS": "0",
    }
    saved = staff.post(path, form)

    assert saved.status_code == 302
    profile.refresh_from_db()
    assert (profile.contact_name, profile.support_email, profile.status) == (
        "Ada Wave",
        "noc@wedding-wave.example",
        IspStatus.DRAFT,
    )


# --- notifications and webhook deliveries ---------------------------------------------------


@pytest.fixture
def delivery(town, settings) -> WebhookDelivery:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    isp = town.isps[0]
    isp_webhook_set(isp=isp, url="http://127.0.0.1:9/hooks/oanm")
    notification = webhook_test_send(isp=isp)
    return notification.delivery


def test_replaying_a_delivery_queues_it_again_through_the_outbox(staff, delivery):
    queued = OutboxMessage.objects.filter(handler="wholesale.webhook_replay")
    assert queued.count() == 0

    response = _action(staff, "/admin/wholesale/webhookdelivery/", "replay", delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.replays, delivery.status) == (1, WebhookStatus.PENDING)
    assert queued.count() == 1
    assert queued.get().event.payload["delivery_id"] == delivery.pk
    assert "1 delivery(ies) queued again." in _messages(response)


def test_a_delivery_whose_isp_has_no_endpoint_any_more_is_not_replayed(staff, delivery):
    isp_webhook_set(isp=delivery.isp, url="")

    response = _action(staff, "/admin/wholesale/webhookdelivery/", "replay", delivery.pk)

    delivery.refresh_from_db()
    assert delivery.replays == 0
    assert not OutboxMessage.objects.filter(handler="wholesale.webhook_replay").exists()
    assert any("set a webhook URL first" in message for message in _messages(response))


def test_notifications_and_deliveries_are_read_only_lists(
    staff, delivery, django_assert_max_num_queries
):
    for path in ("/admin/wholesale/ispnotification/", "/admin/wholesale/webhookdelivery/"):
        with django_assert_max_num_queries(12):
            listed = staff.get(path)
        assert listed.status_code == 200
        assert "Test delivery" in listed.content.decode()
    page = staff.get(f"/admin/wholesale/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert staff.get("/admin/wholesale/webhookdelivery/add/").status_code == 403
    assert staff.get("/admin/wholesale/ispnotification/add/").status_code == 403


# --- maintenance -------------------------------------------------------------------------------


def test_maintenance_is_planned_through_the_admin(staff, town):
    starts = timezone.localtime() + timedelta(days=3)
    form = {
        "title": "Splicing in the cabinet",
        "description": "Up to 30 minutes without service.",
        "area": town.areas["live"].pk,
        "starts_at_0": starts.strftime("%Y-%m-%d"),
        "starts_at_1": "01:00:00",
        "ends_at_0": starts.strftime("%Y-%m-%d"),
        "ends_at_1": "03:00:00",
        "service_affecting": "on",
    }

    created = staff.post("/admin/wholesale/maintenancewindow/add/", form)

    assert created.status_code == 302
    window = MaintenanceWindow.objects.get()
    assert (window.title, window.area, window.ends_at - window.starts_at) == (
        "Splicing in the cabinet",
        town.areas["live"],
        timedelta(hours=2),
    )


def test_a_maintenance_window_ending_before_it_starts_is_refused(staff, town):
    day = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%d")
    form = {
        "title": "Backwards",
        "starts_at_0": day,
        "starts_at_1": "03:00:00",
        "ends_at_0": day,
        "ends_at_1": "01:00:00",
    }

    refused = staff.post("/admin/wholesale/maintenancewindow/add/", form)

    assert refused.status_code == 200
    assert "maintenance_ends_after_start" in refused.content.decode()
    assert not MaintenanceWindow.objects.exists()
