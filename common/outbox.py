"""Delivering outbox messages: one row at a time, locked, retried with capped back-off."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from common.events import Event, handler_named
from common.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)


# The attempt number of the message whose handler is running (set only around the handler).
_current_attempt: ContextVar[int | None] = ContextVar("outbox_current_attempt", default=None)


class RetryLater(Exception):
    """Raised by an outbox handler whose delivery failed but whose own writes (a log of the
    attempt, say) must be kept: they commit, and the message is retried with back-off."""


@dataclass
class DrainReport:
    """What one drain pass did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.failed + self.dead


def outbox_attempt_is_last() -> bool | None:
    """Inside an outbox handler: whether a failure now makes the message dead (this is its
    last allowed attempt), so a handler can say so in its own log. None outside a handler."""
    attempt = _current_attempt.get()
    if attempt is None:
        return None
    return attempt >= settings.OUTBOX_MAX_ATTEMPTS


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off after the n-th failed attempt, capped at an hour."""
    base = settings.OUTBOX_RETRY_BASE_SECONDS
    seconds = min(base * 2 ** max(attempts - 1, 0), settings.OUTBOX_RETRY_CAP_SECONDS)
    return timedelta(seconds=seconds)


def _due_messages():
    earlier_pending_same_key = OutboxMessage.objects.filter(
        handler=OuterRef("handler"),
        ordering_key=OuterRef("ordering_key"),
        status=OutboxStatus.PENDING,
        id__lt=OuterRef("id"),
    )
    return (
        OutboxMessage.objects.filter(
            status=OutboxStatus.PENDING, next_attempt_at__lte=timezone.now()
        )
        .filter(Q(ordering_key="") | ~Exists(earlier_pending_same_key))
        .order_by("next_attempt_at", "id")
    )


def outbox_deliver_one() -> OutboxMessage | None:
    """Deliver the next due message, holding its row lock so no other worker can.

    The handler runs in a savepoint inside the same transaction that marks the row
    delivered: a handler's own database writes and the `delivered` mark commit together,
    and a failure rolls back only the handler's work while the attempt is recorded (a
    handler raising `RetryLater` keeps its writes and is retried all the same).
    """
    with transaction.atomic():
        message = (
            _due_messages()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("event")
            .first()
        )
        if message is None:
            return None
        handler = handler_named(message.handler)
        message.attempts += 1
        if handler is None:
            message.status = OutboxStatus.DEAD
            message.last_error = f"no handler named {message.handler!r} is registered"
            message.save(update_fields=["status", "attempts", "last_error"])
            return message
        event = Event(
            id=message.event.id,
            topic=message.event.topic,
            payload=message.event.payload,
            occurred_at=message.event.occurred_at,
        )
        attempt = _current_attempt.set(message.attempts)
        try:
            with transaction.atomic():
                try:
                    handler.func(event)
                except RetryLater as failure:
                    failed = failure  # the handler's writes are kept; the delivery failed
                else:
                    failed = None
            if failed is not None:
                raise failed
        except Exception as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:4000]
            if message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                message.status = OutboxStatus.DEAD
                logger.error("outbox %s gave up after %s attempts", message.pk, message.attempts)
            else:
                message.next_attempt_at = timezone.now() + retry_delay(message.attempts)
                logger.warning(
                    "outbox %s failed (attempt %s): %s", message.pk, message.attempts, exc
                )
        else:
            message.status = OutboxStatus.DELIVERED
            message.delivered_at = timezone.now()
            message.last_error = ""
        finally:
            _current_attempt.reset(attempt)
        message.save(
            update_fields=["status", "attempts", "next_attempt_at", "last_error", "delivered_at"]
        )
        return message


def outbox_drain(*, limit: int = 500) -> DrainReport:
    """Deliver up to `limit` due messages, one transaction each."""
    report = DrainReport()
    for _ in range(limit):
        message = outbox_deliver_one()
        if message is None:
            break
        if message.status == OutboxStatus.DELIVERED:
            report.delivered += 1
        elif message.status == OutboxStatus.DEAD:
            report.dead += 1
        else:
            report.failed += 1
    return report


@transaction.atomic
def outbox_message_retry(*, message: OutboxMessage) -> OutboxMessage:
    """Put a failed or dead message back in the queue, due now (operator action)."""
    message = OutboxMessage.objects.select_for_update().get(pk=message.pk)
    if message.status == OutboxStatus.DELIVERED:
        return message
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = timezone.now()
    message.save(update_fields=["status", "next_attempt_at"])
    return message


def outbox_prune(*, older_than_days: int | None = None) -> int:
    """Delete delivered messages older than the retention period; returns how many."""
    days = settings.OUTBOX_KEEP_DELIVERED_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = OutboxMessage.objects.filter(
        status=OutboxStatus.DELIVERED, delivered_at__lt=cutoff
    ).delete()
    return deleted
