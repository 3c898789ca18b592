"""ISP webhooks end to end: signed POSTs to a real receiver on 127.0.0.1, delivered through the
outbox after the change commits, retried with back-off while the receiver fails, is down or
too slow, given up on after OUTBOX_MAX_ATTEMPTS, replayable, and refused for private URLs.

The receiver (tests/wholesale/webhook_receiver.py) checks signatures and keeps an idempotency
set of delivery ids, so "delivered exactly once" is what a real receiver would see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Organisation
from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create
from common.errors import DomainError
from common.events import publish, subscribe, unsubscribe
from common.models import OutboxMessage, OutboxStatus
from common.outbox import DrainReport, RetryLater, outbox_attempt_is_last, outbox_drain
from common.tasks import outbox_drain_task
from tests.celery_worker import celery_worker_process, wait_until
from tests.wholesale.conftest import build
from tests.wholesale.factories import ProductFactory
from tests.wholesale.webhook_receiver import WebhookReceiver, webhook_receiver_running
from wholesale.activation import service_activate, service_change_profile, service_deactivate
from wholesale.lifecycle import NotificationKind, WebhookStatus
from wholesale.models import IspNotification, IspProfile, WebhookAttempt, WebhookDelivery
from wholesale.notifications import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    REPLAY_HEADER,
    webhook_body,
    webhook_replay,
    webhook_signature,
    webhook_signature_valid,
    webhook_test_send,
)
from wholesale.onboarding import (
    isp_webhook_secret_rotate,
    isp_webhook_set,
    webhook_url_refusal,
)
from wholesale.services import order_place

# Deliveries happen after the change commits, as in production: these tests commit.
committed = pytest.mark.django_db(transaction=True)

DELIVER = "wholesale.webhook_deliver"
REPLAY = "wholesale.webhook_replay"
SEQUENCE = [
    "order.ready_for_activation",
    "service.activated",
    "service.profile_changed",
    "service.deactivated",
]


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A receiver listening on 127.0.0.1 for one test; `hooked` tells it the ISP's secret."""
    with webhook_receiver_running() as receiver:
        yield receiver


@pytest.fixture
def hooked(town, webhook_receiver) -> Organisation:
    """Spree Net with its webhook endpoint at the receiver, which knows its secret."""
    isp = town.isps[0]
    profile = isp_webhook_set(isp=isp, url=webhook_receiver.url)
    webhook_receiver.secret = profile.webhook_secret
    return isp


@pytest.fixture
def isp_user(hooked):
    return user_create(username="spree-ops", organisation=hooked, role=Role.ISP_USER)


def _ready_order(town, isp: int = 0, n: int = 0):
    """An order of the ISP at a newly connected home: ready for activation, ISP told."""
    address = build(town.address("live", n), "connected")
    offering = town.offerings[isp]
    return order_place(address=address, isp=offering.isp, offering=offering)


def _due_now() -> None:
    """Time passes: every message waiting for its retry is due."""
    OutboxMessage.objects.filter(status=OutboxStatus.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def _delivery(order) -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("notification").get(notification__order=order)


def _log(delivery: WebhookDelivery) -> list[tuple]:
    return [
        (attempt.status_code, attempt.response_body, attempt.error, attempt.replay)
        for attempt in delivery.log.all()
    ]


def _processed(uid) -> str:
    return json.dumps({"processed": str(uid)})


def _duplicate(uid) -> str:
    return json.dumps({"duplicate": str(uid)})


def _iso(value) -> str:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


# --- the signature --------------------------------------------------------------------------

SECRET = "whsec_test-secret"
BODY = b'{"id":"e1","type":"webhook.test"}'


def test_a_signature_verifies_with_its_secret_body_and_a_fresh_timestamp():
    header = webhook_signature(secret=SECRET, timestamp=1_700_000_000, body=BODY)

    assert header.startswith("t=1700000000,v1=")
    assert len(header.split("v1=")[1]) == 64
    assert webhook_signature_valid(secret=SECRET, header=header, body=BODY, now=1_700_000_000)
    assert webhook_signature_valid(secret=SECRET, header=header, body=BODY, now=1_700_000_300)
    assert webhook_signature_valid(secret=SECRET, header=header, body=BODY, now=1_699_999_700)


@pytest.mark.parametrize(
    ("secret", "body", "now", "why"),
    [
        ("whsec_another-secret", BODY, 1_700_000_000, "another secret"),
        (SECRET, BODY.replace(b"webhook.test", b"order.created"), 1_700_000_000, "altered body"),
        (SECRET, BODY + b" ", 1_700_000_000, "a byte added"),
        (SECRET, BODY, 1_700_000_301, "older than five minutes"),
        (SECRET, BODY, 1_699_999_699, "more than five minutes ahead"),
        ("", BODY, 1_700_000_000, "no secret"),
    ],
)
def test_a_signature_fails_with_another_secret_an_altered_body_or_a_stale_time(
    secret, body, now, why
):
    header = webhook_signature(secret=SECRET, timestamp=1_700_000_000, body=BODY)

    assert not webhook_signature_valid(secret=secret, header=header, body=body, now=now), why


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        "t=1700000000",
        "t=soon,v1=abc",
        "garbage",
        "t=1700000000,v1=",
    ],
)
def test_a_malformed_signature_header_fails_without_an_error(header):
    assert not webhook_signature_valid(secret=SECRET, header=header, body=BODY, now=1_700_000_000)


def test_a_signature_with_spaces_or_a_second_v1_still_verifies():
    header = webhook_signature(secret=SECRET, timestamp=1_700_000_000, body=BODY)
    mac = header.split("v1=")[1]

    spaced = f"t=1700000000, v1={mac}"
    two = f"t=1700000000,v1={'0' * 64},v1={mac}"

    assert webhook_signature_valid(secret=SECRET, header=spaced, body=BODY, now=1_700_000_000)
    assert webhook_signature_valid(secret=SECRET, header=two, body=BODY, now=1_700_000_000)
    assert not webhook_signature_valid(
        secret=SECRET, header=f"t=1700000000,v1={'0' * 64}", body=BODY, now=1_700_000_000
    )


@committed
def test_a_delivered_signature_verifies_with_the_isps_secret_only(town, hooked, webhook_receiver):
    # given an order made ready, delivered to the receiver
    order = _ready_order(town)
    assert outbox_drain() == DrainReport(delivered=1)
    (received,) = webhook_receiver.requests
    secret = IspProfile.objects.get(organisation=hooked).webhook_secret
    timestamp = int(received.signature.split(",")[0].removeprefix("t="))

    # then its signature header verifies with the ISP's secret over the body as sent
    assert received.signature_valid
    assert received.signature == webhook_signature(
        secret=secret, timestamp=timestamp, body=received.body
    )
    assert received.body == webhook_body(_delivery(order).notification)
    assert webhook_signature_valid(secret=secret, header=received.signature, body=received.body)
    # and fails with another ISP's secret, an altered body, or when replayed too late
    other = isp_webhook_set(isp=town.isps[1], url=webhook_receiver.url).webhook_secret
    assert other != secret
    assert not webhook_signature_valid(secret=other, header=received.signature, body=received.body)
    altered = received.body.replace(b"ready_for_activation", b"cancelled")
    assert altered != received.body
    assert not webhook_signature_valid(secret=secret, header=received.signature, body=altered)
    assert not webhook_signature_valid(
        secret=secret, header=received.signature, body=received.body, now=timestamp + 301
    )


# --- the body and headers -------------------------------------------------------------------


@committed
def test_a_test_delivery_has_the_documented_body_and_headers(hooked, isp_user, webhook_receiver):
    notification = webhook_test_send(isp=hooked, actor=isp_user)

    assert outbox_drain() == DrainReport(delivered=1)

    (received,) = webhook_receiver.requests
    assert received.json() == {
        "id": str(notification.uid),
        "type": "webhook.test",
        "created_at": _iso(notification.created_at),
        "message": "Test delivery",
        "data": {"requested_by": "spree-ops"},
    }
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"] == "oanm-webhooks/1"
    assert received.headers[EVENT_HEADER] == "webhook.test"
    assert received.headers[DELIVERY_HEADER] == str(notification.uid)
    assert REPLAY_HEADER not in received.headers
    assert received.signature_valid
    assert notification.kind == NotificationKind.TEST


@committed
def test_a_test_delivery_needs_a_webhook_url(town):
    with pytest.raises(DomainError, match="set a webhook URL first") as refused:
        webhook_test_send(isp=town.isps[1])

    assert refused.value.field == "url"
    assert IspNotification.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    assert OutboxMessage.objects.filter(handler=DELIVER).count() == 0


@committed
def test_an_order_event_carries_the_order_and_its_address(town, hooked, webhook_receiver):
    order = _ready_order(town)
    outbox_drain()

    (received,) = webhook_receiver.requests
    body = received.json()
    address = order.address
    address.refresh_from_db()
    assert body["type"] == received.event_type == "order.ready_for_activation"
    assert body["message"] == f"{address.label}: ready for activation ({order.reference})"
    assert body["data"]["order"] == {
        "id": order.pk,
        "reference": order.reference,
        "isp_reference": "",
        "status": "ready_for_activation",
        "from_status": "received",
        "unit": "",
        "offering_id": town.offerings[0].pk,
        "placed_at": _iso(order.placed_at),
    }
    assert body["data"]["address"] == {
        "id": address.pk,
        "label": address.label,
        "status": "connected",
        "location": list(address.location.coords),
    }
    assert body["data"]["reason"] == "address status"


# --- retries: failing, down, slow -----------------------------------------------------------


@committed
def test_a_receiver_failing_three_times_gets_every_event_exactly_once(
    town, hooked, webhook_receiver
):
    # given a receiver that answers 500 to its first three requests
    webhook_receiver.fail_next(3)

    # when an order becomes ready and its service is activated, upgraded and deactivated
    order = _ready_order(town)
    service = service_activate(order=order, ont_serial="ALCL-0001", c_vlan=100, s_vlan=200)
    faster = ProductFactory(download_mbps=1000, monthly_fee="25.00")
    service = service_change_profile(service=service, product=faster, reason="upgrade")
    service_deactivate(service=service, reason="moved out")
    notifications = list(IspNotification.objects.filter(isp=hooked).order_by("pk"))
    assert [n.topic for n in notifications] == SEQUENCE
    deliveries = [n.delivery for n in notifications]
    assert [d.status for d in deliveries] == [WebhookStatus.PENDING] * 4

    # and the outbox drains: the first three attempts fail, the fourth gets through
    assert outbox_drain() == DrainReport(delivered=1, failed=3)
    statuses = [WebhookDelivery.objects.get(pk=d.pk).status for d in deliveries]
    assert statuses == [WebhookStatus.FAILED] * 3 + [WebhookStatus.DELIVERED]
    # nothing is retried before its back-off has passed
    assert outbox_drain() == DrainReport()

    # and once the back-off has passed, the retries get through
    _due_now()
    assert outbox_drain() == DrainReport(delivered=3)

    # then every event was processed exactly once by the receiver's idempotency check
    uids = [str(n.uid) for n in notifications]
    assert webhook_receiver.processed == [uids[3], uids[0], uids[1], uids[2]]
    assert webhook_receiver.duplicates == []
    assert webhook_receiver.processed_counts() == {uid: 1 for uid in uids}
    assert all(r.signature_valid for r in webhook_receiver.requests)
    assert [r.event_type for r in webhook_receiver.requests] == [
        SEQUENCE[0],
        SEQUENCE[1],
        SEQUENCE[2],
        SEQUENCE[3],
        SEQUENCE[0],
        SEQUENCE[1],
        SEQUENCE[2],
    ]
    # and every attempt is logged with its status code and the start of the answer
    logs = [_log(WebhookDelivery.objects.get(pk=d.pk)) for d in deliveries]
    assert logs == [
        [
            (500, "receiver failing (2 more to go)", "HTTP 500", False),
            (200, _processed(uids[0]), "", False),
        ],
        [
            (500, "receiver failing (1 more to go)", "HTTP 500", False),
            (200, _processed(uids[1]), "", False),
        ],
        [
            (500, "receiver failing (0 more to go)", "HTTP 500", False),
            (200, _processed(uids[2]), "", False),
        ],
        [(200, _processed(uids[3]), "", False)],
    ]
    for delivery in WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]):
        assert delivery.status == WebhookStatus.DELIVERED
        assert delivery.last_status_code == 200
        assert delivery.last_error == ""
        assert delivery.delivered_at is not None
        assert delivery.attempts == delivery.log.count()
    assert all(a.url == webhook_receiver.url for a in WebhookAttempt.objects.all())

    # and a later sweep sends nothing again
    _due_now()
    assert outbox_drain() == DrainReport()
    assert len(webhook_receiver.requests) == 7
    assert set(OutboxMessage.objects.filter(handler=DELIVER).values_list("status", "attempts")) == {
        (OutboxStatus.DELIVERED, 1),
        (OutboxStatus.DELIVERED, 2),
    }


@committed
def test_a_receiver_that_is_down_gets_the_event_once_it_is_up(town, hooked, webhook_receiver):
    # given the receiver's port is closed
    webhook_receiver.down()
    order = _ready_order(town)

    # when the outbox tries, the connection is refused and the attempt logged
    assert outbox_drain() == DrainReport(failed=1)
    delivery = _delivery(order)
    assert delivery.status == WebhookStatus.FAILED
    assert delivery.last_status_code is None
    (refused,) = delivery.log.all()
    assert refused.status_code is None
    assert refused.response_body == ""
    assert refused.error.startswith("ConnectionError: ")
    assert "Connection refused" in refused.error
    assert delivery.last_error == refused.error
    message = OutboxMessage.objects.get(handler=DELIVER)
    assert message.status == OutboxStatus.PENDING
    assert message.last_error.startswith(f"RetryLater: webhook to {webhook_receiver.url} failed")

    # when the receiver is up again and the back-off has passed
    webhook_receiver.up()
    _due_now()
    assert outbox_drain() == DrainReport(delivered=1)

    # then it got the event once, and the log shows both attempts
    delivery.refresh_from_db()
    assert delivery.status == WebhookStatus.DELIVERED
    assert webhook_receiver.processed == [str(delivery.notification.uid)]
    assert [(a.status_code, a.error == "") for a in delivery.log.all()] == [
        (None, False),
        (200, True),
    ]


@committed
def test_a_receiver_too_slow_to_answer_times_out_and_the_retry_is_a_duplicate(
    town, hooked, webhook_receiver, settings
):
    # given a receiver that processes the event but answers only after the timeout
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    webhook_receiver.sleep_next(1, 1.5)
    order = _ready_order(town)

    # when the outbox tries, the attempt times out and is logged as failed
    assert outbox_drain() == DrainReport(failed=1)
    delivery = _delivery(order)
    uid = str(delivery.notification.uid)
    assert delivery.status == WebhookStatus.FAILED
    (timed_out,) = delivery.log.all()
    assert timed_out.status_code is None
    assert timed_out.error == (
        f"ReadTimeout: HTTPConnectionPool(host='127.0.0.1', port={webhook_receiver.port}): "
        "Read timed out. (read timeout=0.3)"
    )
    assert 300 <= timed_out.duration_ms < 1500

    # when it is retried
    _due_now()
    assert outbox_drain() == DrainReport(delivered=1)

    # then the receiver processed it once and acknowledged the retry as a duplicate
    delivery.refresh_from_db()
    assert delivery.status == WebhookStatus.DELIVERED
    assert webhook_receiver.processed == [uid]
    assert webhook_receiver.duplicates == [uid]
    assert _log(delivery)[1] == (200, _duplicate(uid), "", False)


@committed
def test_a_delivery_is_dead_after_the_maximum_attempts(town, hooked, webhook_receiver, settings):
    # given at most three attempts and a receiver that always fails
    settings.OUTBOX_MAX_ATTEMPTS = 3
    webhook_receiver.fail_next(100, status=503, body="maintenance")
    order = _ready_order(town)
    delivery = _delivery(order)

    # when the outbox tries three times
    reports, statuses = [], []
    for _ in range(3):
        _due_now()
        reports.append(outbox_drain())
        delivery.refresh_from_db()
        statuses.append(delivery.status)

    # then the third failure gives up on it, in the outbox and in the ISP's log
    assert reports == [DrainReport(failed=1), DrainReport(failed=1), DrainReport(dead=1)]
    assert statuses == [WebhookStatus.FAILED, WebhookStatus.FAILED, WebhookStatus.DEAD]
    assert _log(delivery) == [(503, "maintenance", "HTTP 503", False)] * 3
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        3,
        503,
        "HTTP 503",
    )
    assert delivery.delivered_at is None
    message = OutboxMessage.objects.get(handler=DELIVER)
    assert (message.status, message.attempts) == (OutboxStatus.DEAD, 3)

    # and it is never tried again
    _due_now()
    assert outbox_drain() == DrainReport()
    assert len(webhook_receiver.requests) == 3
    assert webhook_receiver.processed == []


@committed
def test_a_receiver_with_the_wrong_secret_refuses_and_the_delivery_is_retried(
    town, hooked, webhook_receiver
):
    webhook_receiver.secret = "whsec_not-the-isps"
    order = _ready_order(town)

    assert outbox_drain() == DrainReport(failed=1)

    delivery = _delivery(order)
    assert delivery.status == WebhookStatus.FAILED
    assert _log(delivery) == [(401, "signature does not verify", "HTTP 401", False)]
    assert webhook_receiver.processed == []


# --- replay ---------------------------------------------------------------------------------


@committed
def test_a_replay_sends_the_delivery_again_with_the_same_id(
    town, hooked, isp_user, webhook_receiver
):
    # given a delivered event
    order = _ready_order(town)
    assert outbox_drain() == DrainReport(delivered=1)
    delivery = _delivery(order)
    uid = str(delivery.notification.uid)

    # when the ISP replays it
    replayed = webhook_replay(delivery=delivery, actor=isp_user)
    assert (replayed.status, replayed.replays) == (WebhookStatus.PENDING, 1)
    replay_message = OutboxMessage.objects.get(handler=REPLAY)
    assert replay_message.event.payload == {"delivery_id": delivery.pk, "actor_id": isp_user.pk}
    assert outbox_drain() == DrainReport(delivered=1)

    # then the receiver got it again, marked as a replay, with the same delivery id
    first, second = webhook_receiver.requests
    assert REPLAY_HEADER not in first.headers
    assert second.headers[REPLAY_HEADER] == "1"
    assert second.delivery_id == first.delivery_id == uid
    assert second.signature_valid
    assert second.json() == first.json()
    assert webhook_receiver.processed == [uid]
    assert webhook_receiver.duplicates == [uid]
    # and the log shows it as a replay
    delivery.refresh_from_db()
    assert _log(delivery) == [
        (200, _processed(uid), "", False),
        (200, _duplicate(uid), "", True),
    ]
    assert (delivery.status, delivery.attempts, delivery.replays) == (
        WebhookStatus.DELIVERED,
        2,
        1,
    )


@committed
def test_each_replay_counts_its_own_attempts(town, hooked, webhook_receiver, settings):
    # given a delivery that died after two attempts, and a replay of it that died too
    settings.OUTBOX_MAX_ATTEMPTS = 2
    webhook_receiver.fail_next(5)
    order = _ready_order(town)
    delivery = _delivery(order)
    statuses = []
    for replay in (False, True):
        if replay:
            webhook_replay(delivery=delivery)
        for _ in range(2):
            _due_now()
            outbox_drain()
            delivery.refresh_from_db()
            statuses.append(delivery.status)
    assert statuses == [WebhookStatus.FAILED, WebhookStatus.DEAD] * 2

    # when the ISP replays it again and this replay's first attempt fails
    webhook_replay(delivery=delivery)
    assert outbox_drain() == DrainReport(failed=1)

    # then it is still being retried (this replay has a second attempt of its own)
    delivery.refresh_from_db()
    assert delivery.status == WebhookStatus.FAILED
    _due_now()
    assert outbox_drain() == DrainReport(delivered=1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.replays) == (
        WebhookStatus.DELIVERED,
        6,
        2,
    )
    assert [(code, replay) for code, _, _, replay in _log(delivery)] == [
        (500, False),
        (500, False),
        (500, True),
        (500, True),
        (500, True),
        (200, True),
    ]
    assert webhook_receiver.processed == [str(delivery.notification.uid)]
    assert list(
        OutboxMessage.objects.order_by("pk").values_list("handler", "status", "attempts")
    ) == [
        (DELIVER, OutboxStatus.DEAD, 2),
        (REPLAY, OutboxStatus.DEAD, 2),
        (REPLAY, OutboxStatus.DELIVERED, 2),
    ]


@committed
def test_a_replay_needs_a_webhook_url_and_changes_nothing_without_one(
    town, hooked, webhook_receiver
):
    order = _ready_order(town)
    outbox_drain()
    isp_webhook_set(isp=hooked, url="")
    delivery = _delivery(order)

    with pytest.raises(DomainError, match="set a webhook URL first") as refused:
        webhook_replay(delivery=delivery)

    assert refused.value.field == "url"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.replays, delivery.attempts) == (
        WebhookStatus.DELIVERED,
        0,
        1,
    )
    assert OutboxMessage.objects.filter(handler=REPLAY).count() == 0


# --- no endpoint, a removed endpoint, a refused endpoint, a new secret ----------------------


@committed
def test_an_isp_without_a_webhook_url_is_told_in_its_portal_only(town, webhook_receiver):
    # given Kiez Online, which has no webhook endpoint (one without a profile, one with an
    # empty URL)
    isp = town.isps[1]
    order = _ready_order(town, isp=1)
    isp_webhook_set(isp=isp, url="")
    second = _ready_order(town, isp=1, n=1)

    # then it has its portal notifications, and no delivery is made or sent
    told = IspNotification.objects.filter(isp=isp).order_by("pk")
    assert [(n.order_id, n.topic) for n in told] == [
        (order.pk, "order.ready_for_activation"),
        (second.pk, "order.ready_for_activation"),
    ]
    assert WebhookDelivery.objects.count() == 0
    assert OutboxMessage.objects.filter(handler=DELIVER).count() == 0
    assert outbox_drain() == DrainReport()
    assert webhook_receiver.requests == []


@committed
def test_a_url_removed_before_delivery_makes_it_dead_with_the_reason(
    town, hooked, webhook_receiver
):
    # given an event queued for the ISP's endpoint, which the ISP then removes
    order = _ready_order(town)
    isp_webhook_set(isp=hooked, url="")

    # when the outbox gets to it
    assert outbox_drain() == DrainReport(delivered=1)

    # then it is dead, saying why, nothing was sent, and the outbox does not retry it
    delivery = _delivery(order)
    assert delivery.status == WebhookStatus.DEAD
    assert delivery.last_error == "the ISP has no webhook URL"
    assert delivery.last_status_code is None
    assert [(a.url, a.status_code, a.error) for a in delivery.log.all()] == [
        ("-", None, "the ISP has no webhook URL")
    ]
    assert webhook_receiver.requests == []
    assert OutboxMessage.objects.get(handler=DELIVER).status == OutboxStatus.DELIVERED
    _due_now()
    assert outbox_drain() == DrainReport()


@committed
def test_a_private_url_is_refused_at_delivery_when_private_urls_are_off(
    town, hooked, webhook_receiver, settings
):
    # given an event queued while private URLs were allowed, sent after they no longer are
    order = _ready_order(town)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    assert outbox_drain() == DrainReport(delivered=1)

    delivery = _delivery(order)
    assert delivery.status == WebhookStatus.DEAD
    assert delivery.last_error == "a webhook URL must use https"
    assert webhook_receiver.requests == []


@committed
def test_a_host_that_cannot_be_resolved_at_delivery_is_retried_not_given_up(
    town, webhook_receiver, settings
):
    # given an endpoint set while private URLs were allowed, whose name does not resolve
    # when the guard is on at sending time (DNS may fail for a moment)
    isp = town.isps[0]
    isp_webhook_set(isp=isp, url="https://oanm-hooks.invalid/hooks")
    order = _ready_order(town)
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    assert outbox_drain() == DrainReport(failed=1)

    delivery = _delivery(order)
    assert delivery.status == WebhookStatus.FAILED
    assert _log(delivery) == [(None, "", "the host oanm-hooks.invalid cannot be resolved", False)]
    message = OutboxMessage.objects.get(handler=DELIVER)
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)


@committed
def test_after_a_secret_rotation_deliveries_are_signed_with_the_new_secret(
    town, hooked, webhook_receiver
):
    # given one event delivered under the first secret
    old = IspProfile.objects.get(organisation=hooked).webhook_secret
    _ready_order(town, n=0)
    assert outbox_drain() == DrainReport(delivered=1)

    # when the ISP rotates its secret (and its receiver learns the new one)
    new = isp_webhook_secret_rotate(isp=hooked).webhook_secret
    assert new != old
    assert new.startswith("whsec_")
    webhook_receiver.secret = new
    _ready_order(town, n=1)
    assert outbox_drain() == DrainReport(delivered=1)

    # then the later delivery verifies with the new secret only
    before, after = webhook_receiver.requests
    assert webhook_signature_valid(secret=old, header=before.signature, body=before.body)
    assert not webhook_signature_valid(secret=new, header=before.signature, body=before.body)
    assert webhook_signature_valid(secret=new, header=after.signature, body=after.body)
    assert not webhook_signature_valid(secret=old, header=after.signature, body=after.body)
    assert len(webhook_receiver.processed) == 2


# --- what a receiver answers is kept safely ------------------------------------------------


@committed
def test_a_huge_answer_is_cut_to_an_excerpt(town, hooked, webhook_receiver):
    webhook_receiver.answer_body = b"x" * 1_000_000
    order = _ready_order(town)

    assert outbox_drain() == DrainReport(delivered=1)

    (attempt,) = _delivery(order).log.all()
    assert (attempt.status_code, attempt.response_body, attempt.error) == (200, "x" * 2000, "")


@committed
def test_an_answer_with_nul_characters_is_logged_not_lost(town, hooked, webhook_receiver):
    # given a receiver whose error page holds a NUL byte (PostgreSQL text cannot)
    webhook_receiver.fail_next(1, status=502, body="bad\x00gateway")
    order = _ready_order(town)

    assert outbox_drain() == DrainReport(failed=1)

    delivery = _delivery(order)
    assert delivery.status == WebhookStatus.FAILED
    assert _log(delivery) == [(502, "bad\ufffdgateway", "HTTP 502", False)]


@committed
def test_a_redirect_is_not_followed_and_counts_as_a_failure(town, hooked, webhook_receiver):
    webhook_receiver.fail_next(1, status=301, body="moved")
    order = _ready_order(town)

    assert outbox_drain() == DrainReport(failed=1)

    assert _log(_delivery(order)) == [
        (301, "moved", "HTTP 301 (redirects are not followed)", False)
    ]
    assert len(webhook_receiver.requests) == 1


# --- the private-URL guard ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://93.184.216.34/hooks", "a webhook URL must use https"),
        ("ftp://93.184.216.34/hooks", "a webhook URL is an http(s) address"),
        ("https:///hooks", "a webhook URL is an http(s) address"),
        ("https://127.0.0.1/hooks", "the host 127.0.0.1 is on a private network"),
        ("https://localhost:8443/hooks", "the host localhost is on a private network"),
        ("https://10.20.30.40/hooks", "the host 10.20.30.40 is on a private network"),
        ("https://172.16.0.9/hooks", "the host 172.16.0.9 is on a private network"),
        ("https://192.168.1.1/hooks", "the host 192.168.1.1 is on a private network"),
        ("https://100.64.0.1/hooks", "the host 100.64.0.1 is on a private network"),
        ("https://169.254.169.254/latest", "the host 169.254.169.254 is on a private network"),
        ("https://0.0.0.0/hooks", "the host 0.0.0.0 is on a private network"),
        ("https://[::1]/hooks", "the host ::1 is on a private network"),
        ("https://[::ffff:127.0.0.1]/hooks", "the host ::ffff:127.0.0.1 is on a private network"),
        ("https://[fd00::1]/hooks", "the host fd00::1 is on a private network"),
        ("https://[fe80::1]/hooks", "the host fe80::1 is on a private network"),
        ("https://93.184.216.34/hooks", None),
        ("https://[2606:4700:4700::1111]/hooks", None),
    ],
)
def test_webhook_url_refusal_refuses_http_and_private_hosts(settings, url, refusal):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False

    assert webhook_url_refusal(url) == refusal


def test_webhook_url_refusal_allows_local_receivers_when_private_urls_are_on(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True

    assert webhook_url_refusal("http://127.0.0.1:9000/hooks") is None
    assert webhook_url_refusal("ftp://127.0.0.1/hooks") == "a webhook URL is an http(s) address"


def test_setting_a_private_webhook_url_is_refused_and_changes_nothing(db, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    isp = organisation_create(name="Spree Net", kind=OrganisationKind.ISP)
    profile = isp_webhook_set(isp=isp, url="https://93.184.216.34/hooks")
    secret = profile.webhook_secret

    for url, message in [
        ("https://127.0.0.1/hooks", "the host 127.0.0.1 is on a private network"),
        ("http://93.184.216.34/hooks", "a webhook URL must use https"),
        ("not a url", "'not a url' is not a web address"),
        ("https://93.184.216.34/" + "a" * 500, "the webhook URL is too long"),
    ]:
        with pytest.raises(DomainError) as refused:
            isp_webhook_set(isp=isp, url=url)
        assert refused.value.field == "url"
        assert str(refused.value).startswith(message)

    profile.refresh_from_db()
    assert (profile.webhook_url, profile.webhook_secret) == ("https://93.184.216.34/hooks", secret)


# --- the outbox keeps a failed attempt's log, and rolls back anything else -----------------

TOPIC = "test.webhook_probe"


@pytest.fixture
def temporary_handler():
    """Subscribe one outbox handler to TOPIC for the test; unsubscribed afterwards."""
    names = []

    def add(func, name):
        subscribe(TOPIC, kind="outbox", name=name)(func)
        names.append(name)

    yield add
    for name in names:
        unsubscribe(name)


def _probe_isp():
    return organisation_create(name="Probe ISP", kind=OrganisationKind.ISP)


@committed
def test_a_handler_raising_retry_later_keeps_its_log_row(temporary_handler):
    # given a handler that logs its attempt, then says the delivery failed
    isp = _probe_isp()
    profile = isp_webhook_set(isp=isp, url="http://127.0.0.1:9/hooks")

    def log_then_retry(event):
        notification = IspNotification.objects.create(
            isp=isp, kind=NotificationKind.TEST, topic=TOPIC, message="probe"
        )
        delivery = WebhookDelivery.objects.create(notification=notification, isp=isp)
        WebhookAttempt.objects.create(
            delivery=delivery, url=profile.webhook_url, status_code=500, error="HTTP 500"
        )
        raise RetryLater("the receiver answered HTTP 500")

    temporary_handler(log_then_retry, "tests.webhooks.log_then_retry")
    with transaction.atomic():
        publish(TOPIC, {"n": 1})

    # when the outbox runs it
    assert outbox_drain() == DrainReport(failed=1)

    # then its log row is committed, and the message waits for its retry
    assert list(WebhookAttempt.objects.values_list("status_code", "error")) == [(500, "HTTP 500")]
    message = OutboxMessage.objects.get(handler="tests.webhooks.log_then_retry")
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 1)
    assert message.last_error == "RetryLater: the receiver answered HTTP 500"
    assert message.next_attempt_at > timezone.now()


@committed
def test_a_handler_raising_another_exception_has_its_writes_rolled_back(temporary_handler):
    # given a handler that writes, then breaks
    isp = _probe_isp()

    def write_then_break(event):
        notification = IspNotification.objects.create(
            isp=isp, kind=NotificationKind.TEST, topic=TOPIC, message="probe"
        )
        WebhookDelivery.objects.create(notification=notification, isp=isp)
        raise KeyError("a bug")

    temporary_handler(write_then_break, "tests.webhooks.write_then_break")
    with transaction.atomic():
        publish(TOPIC, {"n": 1})

    # when the outbox runs it
    assert outbox_drain() == DrainReport(failed=1)

    # then nothing it wrote is left, and the failure is recorded on the message
    assert IspNotification.objects.count() == 0
    assert WebhookDelivery.objects.count() == 0
    message = OutboxMessage.objects.get(handler="tests.webhooks.write_then_break")
    assert (message.status, message.attempts, message.last_error) == (
        OutboxStatus.PENDING,
        1,
        "KeyError: 'a bug'",
    )


@committed
def test_a_handler_learns_whether_its_attempt_is_the_last(temporary_handler, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    seen = []

    def note(event):
        seen.append(outbox_attempt_is_last())
        raise RetryLater("again")

    temporary_handler(note, "tests.webhooks.note")
    with transaction.atomic():
        publish(TOPIC, {"n": 1})

    for _ in range(3):
        _due_now()
        outbox_drain()

    assert seen == [False, False, True]
    assert outbox_attempt_is_last() is None
    assert OutboxMessage.objects.get(handler="tests.webhooks.note").status == OutboxStatus.DEAD


# --- a real Celery worker -------------------------------------------------------------------


@pytest.fixture
def worker(transactional_db):
    """A real Celery worker on the test database for one test (queued drains go to it)."""
    with celery_worker_process(database_name=connection.settings_dict["NAME"]) as running:
        yield running


@committed
@pytest.mark.celery_worker
def test_a_real_worker_delivers_a_webhook_after_the_commit_and_retries_it(
    town, hooked, webhook_receiver, worker
):
    # given a receiver that fails its first request
    webhook_receiver.fail_next(1)

    # when an order becomes ready (its commit queues a drain, which the worker runs)
    order = _ready_order(town)
    delivery = _delivery(order)
    failed = worker.wait_until(
        lambda: WebhookDelivery.objects.filter(pk=delivery.pk, attempts=1).first(),
        what="the first, failing webhook attempt",
    )
    assert failed.status == WebhookStatus.FAILED
    message = OutboxMessage.objects.get(handler=DELIVER)

    # and the sweep's drain runs once the back-off (1 s in tests) has passed
    wait_until(lambda: timezone.now() >= message.next_attempt_at, what="the back-off to pass")
    retry = outbox_drain_task.delay()
    assert worker.wait_for_task(retry.id) == "1"

    # then the receiver got it exactly once, signed, and the log has both attempts
    delivery.refresh_from_db()
    uid = str(delivery.notification.uid)
    assert delivery.status == WebhookStatus.DELIVERED
    assert _log(delivery) == [
        (500, "receiver failing (0 more to go)", "HTTP 500", False),
        (200, _processed(uid), "", False),
    ]
    assert webhook_receiver.processed == [uid]
    assert webhook_receiver.duplicates == []
    assert all(r.signature_valid for r in webhook_receiver.requests)
    again = outbox_drain_task.delay()
    assert worker.wait_for_task(again.id) == "0"
    assert len(webhook_receiver.requests) == 2
