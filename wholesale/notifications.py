"""Telling ISPs: notifications in their portal, and the signed webhooks that carry them.

A notification is written in the transaction of the change it reports. When the ISP has a
webhook endpoint, a delivery row is made with it and an `isp.notified` event queues the
POST in the outbox: sent after commit, retried with back-off while the receiver fails or
is down, every attempt logged with the response, replayable from the portal.

Each POST carries, as headers, the event type, the delivery id (the receiver's idempotency
key: a retry or replay has the same one) and a signature
`X-Oanm-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the ISP's secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation, User
from common.errors import DomainError
from common.events import publish
from common.outbox import RetryLater, outbox_attempt_is_last
from wholesale.events import (
    ISP_NOTIFIED,
    WEBHOOK_REPLAY_REQUESTED,
    IspNotified,
    WebhookReplayRequested,
)
from wholesale.lifecycle import NotificationKind, WebhookStatus
from wholesale.models import IspNotification, IspProfile, WebhookAttempt, WebhookDelivery
from wholesale.onboarding import UrlRefusal, webhook_url_problem

SIGNATURE_HEADER = "X-Oanm-Signature"
EVENT_HEADER = "X-Oanm-Event"
DELIVERY_HEADER = "X-Oanm-Delivery"
REPLAY_HEADER = "X-Oanm-Replay"
SIGNATURE_TOLERANCE_SECONDS = 300  # what receivers should accept between signing and now
RESPONSE_KEPT = 2000  # characters of a receiver's answer kept in the log
RESPONSE_READ_LIMIT = 16 * 1024  # bytes of a receiver's answer read at most


def isp_notify(
    *,
    isp_id: int,
    kind: str,
    topic: str,
    message: str,
    data: dict[str, Any],
    address_id: int | None = None,
    order_id: int | None = None,
    service_id: int | None = None,
    has_endpoint: bool | None = None,
) -> IspNotification:
    """Tell an ISP something (inside the caller's transaction): a portal notification, and a
    webhook delivery queued through the outbox when the ISP has an endpoint.

    `has_endpoint` may be given by a caller that has the ISP's profile at hand already
    (it saves a query); None looks it up."""
    notification = IspNotification.objects.create(
        isp_id=isp_id,
        kind=kind,
        topic=topic,
        message=message[:500],
        address_id=address_id,
        order_id=order_id,
        service_id=service_id,
        data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    )
    if has_endpoint is None:
        has_endpoint = (
            IspProfile.objects.filter(organisation_id=isp_id).exclude(webhook_url="").exists()
        )
    if has_endpoint:
        WebhookDelivery.objects.create(notification=notification, isp_id=isp_id)
        publish(
            ISP_NOTIFIED, IspNotified(notification_id=notification.pk, isp_id=isp_id, kind=kind)
        )
    return notification


@transaction.atomic
def notifications_mark_read(*, isp: Organisation, ids: list[int] | None = None) -> int:
    """Mark the ISP's notifications read (the given ones, or all); returns how many."""
    unread = IspNotification.objects.filter(isp=isp, read_at=None)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())


@transaction.atomic
def webhook_test_send(*, isp: Organisation, actor: User | None = None) -> IspNotification:
    """Queue a test delivery to the ISP's endpoint (to check its receiver and signature)."""
    profile = IspProfile.objects.filter(organisation=isp).first()
    if profile is None or not profile.webhook_url:
        raise DomainError("set a webhook URL first", field="url")
    return isp_notify(
        isp_id=isp.pk,
        kind=NotificationKind.TEST,
        topic="webhook.test",
        message="Test delivery",
        data={"requested_by": actor.username if actor else None},
    )


@transaction.atomic
def webhook_replay(*, delivery: WebhookDelivery, actor: User | None = None) -> WebhookDelivery:
    """Send a delivery again, whatever became of it (the ISP asks from its portal); it keeps
    its delivery id, so a receiver that has it already can drop it."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    profile = IspProfile.objects.filter(organisation_id=delivery.isp_id).first()
    if profile is None or not profile.webhook_url:
        raise DomainError("set a webhook URL first", field="url")
    delivery.replays += 1
    delivery.status = WebhookStatus.PENDING
    delivery.save(update_fields=["replays", "status"])
    publish(
        WEBHOOK_REPLAY_REQUESTED,
        WebhookReplayRequested(delivery_id=delivery.pk, actor_id=actor.pk if actor else None),
    )
    return delivery


# --- the POST itself (run by the outbox, after commit) --------------------------------------


def webhook_body(notification: IspNotification) -> bytes:
    """The JSON a receiver gets: the event's id, type, time and data."""
    body = {
        "id": str(notification.uid),
        "type": notification.topic,
        "created_at": notification.created_at,
        "message": notification.message,
        "data": notification.data,
    }
    return json.dumps(body, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Oanm-Signature` value: `t=<timestamp>,v1=<hex HMAC-SHA256>`."""
    return f"t={timestamp},v1={_mac(secret=secret, timestamp=timestamp, body=body)}"


def _mac(*, secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `<timestamp>.<body>` with the secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def webhook_signature_valid(
    *, secret: str, header: str | None, body: bytes, now: float | None = None
) -> bool:
    """What a receiver does with the signature (documented in docs/webhooks.md; the tests'
    receiver uses it): recompute, compare in constant time, refuse stale timestamps.

    `header` is `t=<unix time>,v1=<hex>`; several `v1=` values are accepted (any may match),
    so a sender could sign with two secrets while a receiver rotates.
    """
    if not header or not secret:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif name == "v1" and value:
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    expected = _mac(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def _printable(text: str, limit: int) -> str:
    """Text fit for the log: PostgreSQL text cannot hold NUL characters; at most `limit`."""
    return text.replace("\x00", "\ufffd")[:limit]


def _record(
    delivery: WebhookDelivery,
    *,
    url: str,
    replay: bool,
    started: float,
    status_code: int | None = None,
    response: str = "",
    error: str = "",
) -> WebhookAttempt:
    attempt = WebhookAttempt.objects.create(
        delivery=delivery,
        url=url,
        status_code=status_code,
        response_body=_printable(response, RESPONSE_KEPT),
        error=_printable(error, 1000),
        duration_ms=round((time.monotonic() - started) * 1000),
        replay=replay,
    )
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = attempt.error
    return attempt


def _finish(delivery: WebhookDelivery, status: str, at: datetime | None = None) -> None:
    delivery.status = status
    if at is not None:
        delivery.delivered_at = at
    delivery.save(
        update_fields=["status", "attempts", "last_status_code", "last_error", "delivered_at"]
    )


def webhook_send(*, delivery_id: int, replay: bool = False) -> WebhookAttempt | None:
    """POST one delivery to its ISP's endpoint now, log the attempt, and raise `RetryLater`
    when the receiver failed (the outbox retries with back-off). Called by the outbox."""
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("notification", "isp__isp_profile")
        .get(pk=delivery_id)
    )
    if delivery.status == WebhookStatus.DELIVERED and not replay:
        return None  # delivered already (a replay of the outbox row itself): nothing to do
    profile = delivery.isp.isp_profile
    started = time.monotonic()
    url = profile.webhook_url
    refusal = UrlRefusal("the ISP has no webhook URL") if not url else webhook_url_problem(url)
    if refusal is not None and refusal.transient:  # DNS may answer next time
        _record(delivery, url=url, replay=replay, started=started, error=refusal.reason)
        _finish(delivery, _failed_status())
        raise RetryLater(f"webhook to {url} refused for now: {refusal.reason}")
    if refusal is not None:
        attempt = _record(
            delivery, url=url or "-", replay=replay, started=started, error=refusal.reason
        )
        _finish(delivery, WebhookStatus.DEAD)
        return attempt
    body = webhook_body(delivery.notification)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "oanm-webhooks/1",
        EVENT_HEADER: delivery.notification.topic,
        DELIVERY_HEADER: str(delivery.notification.uid),
        SIGNATURE_HEADER: webhook_signature(
            secret=profile.webhook_secret, timestamp=timestamp, body=body
        ),
    }
    if replay:
        headers[REPLAY_HEADER] = "1"
    try:
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=(3.0, settings.WEBHOOK_TIMEOUT_SECONDS),
            allow_redirects=False,
            stream=True,  # read only the first bytes of the answer (see _answer_excerpt)
        )
    except requests.RequestException as exc:
        _record(
            delivery, url=url, replay=replay, started=started, error=f"{type(exc).__name__}: {exc}"
        )
        _finish(delivery, _failed_status())
        raise RetryLater(f"webhook to {url} failed: {exc}") from exc
    with response:
        excerpt, unreadable = _answer_excerpt(response)
    accepted = 200 <= response.status_code < 300
    if accepted:
        error = ""
    elif 300 <= response.status_code < 400:
        error = f"HTTP {response.status_code} (redirects are not followed)"
    else:
        error = f"HTTP {response.status_code}"
    if unreadable:
        error = f"{error}; {unreadable}" if error else unreadable
    attempt = _record(
        delivery,
        url=url,
        replay=replay,
        started=started,
        status_code=response.status_code,
        response=excerpt,
        error=error,
    )
    if accepted:
        _finish(delivery, WebhookStatus.DELIVERED, at=timezone.now())
        return attempt
    _finish(delivery, _failed_status())
    raise RetryLater(f"webhook to {url} answered HTTP {response.status_code}")


def _answer_excerpt(response: requests.Response) -> tuple[str, str]:
    """The start of a receiver's answer as text, and why it could not be read (or "").

    At most RESPONSE_READ_LIMIT bytes are read: a receiver answering a huge body costs
    neither memory nor time. A 2xx whose body breaks off still counts as accepted.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=4096):
            chunks.append(chunk)
            size += len(chunk)
            if size >= RESPONSE_READ_LIMIT:
                break
    except requests.RequestException as exc:
        problem = f"answer unreadable: {type(exc).__name__}"
    else:
        problem = ""
    raw = b"".join(chunks)[:RESPONSE_READ_LIMIT]
    try:
        text = raw.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = raw.decode("utf-8", errors="replace")
    return text, problem


def _failed_status() -> str:
    """Failed (to be retried), or dead once the outbox will give up on this message.

    The outbox knows which attempt this is: a replay counts its own attempts, never the
    original delivery's. Called outside the outbox (nothing will retry), it is just failed.
    """
    return WebhookStatus.DEAD if outbox_attempt_is_last() else WebhookStatus.FAILED
