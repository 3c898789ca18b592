"""Domain events: publish in the transaction of a change; react in it or via the outbox.

A lower layer publishes (`publish("address.connected", AddressConnected(...))`); higher
layers subscribe in their `AppConfig.ready()` (STYLE.md §6):

- `IN_TRANSACTION` handlers run at once, inside the publisher's transaction, for
  consequences in our own database: if one fails, the whole change rolls back;
- `OUTBOX` handlers get an `OutboxMessage` row in the same transaction; the Celery drain
  delivers it after commit with retries and back-off, at most once successfully.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from common.models import DomainEvent, OutboxMessage

logger = logging.getLogger(__name__)

IN_TRANSACTION = "in_transaction"
OUTBOX = "outbox"


@dataclass(frozen=True)
class Event:
    """What a handler receives: the stored event, its payload as plain JSON values."""

    id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True)
class Handler:
    """A registered reaction to one topic."""

    topic: str
    kind: str
    name: str
    func: Callable[[Event], None]
    ordering_key: Callable[[Event], str] | None = None


_registry: dict[str, list[Handler]] = {}
_by_name: dict[str, Handler] = {}


def subscribe(
    topic: str,
    *,
    kind: str,
    name: str | None = None,
    ordering_key: Callable[[Event], str] | None = None,
) -> Callable[[Callable[[Event], None]], Callable[[Event], None]]:
    """Register the decorated function as a handler of `topic`.

    `name` is the outbox's stable handler id (defaults to module.function): renaming it
    orphans undelivered rows, so keep it. `ordering_key` (outbox only) makes deliveries
    with the same key go out one after another, in publish order.
    """
    if kind not in (IN_TRANSACTION, OUTBOX):
        raise ValueError(f"unknown handler kind {kind!r}")

    def register(func: Callable[[Event], None]) -> Callable[[Event], None]:
        handler_name = name or f"{func.__module__}.{func.__qualname__}"
        existing = _by_name.get(handler_name)
        if existing is not None and existing.topic == topic:
            return func  # a module imported twice registers once
        if existing is not None:
            raise ValueError(f"handler name {handler_name!r} is already used for {existing.topic}")
        handler = Handler(topic, kind, handler_name, func, ordering_key)
        _registry.setdefault(topic, []).append(handler)
        _by_name[handler_name] = handler
        return func

    return register


def unsubscribe(name: str) -> None:
    """Remove a handler (used by tests that register temporary handlers)."""
    handler = _by_name.pop(name, None)
    if handler is not None:
        _registry[handler.topic].remove(handler)


def handlers_for(topic: str, kind: str | None = None) -> list[Handler]:
    """The handlers registered for a topic, in registration order."""
    return [h for h in _registry.get(topic, []) if kind is None or h.kind == kind]


def handler_named(name: str) -> Handler | None:
    """The handler an outbox row names, if it is still registered."""
    return _by_name.get(name)


def _as_json(payload: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(payload) and not isinstance(payload, type):
        payload = dataclasses.asdict(payload)
    if not isinstance(payload, dict):
        raise TypeError("an event payload is a dataclass or a dict of plain values")
    # Round-trip so in-transaction handlers see exactly what outbox handlers will.
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def publish(topic: str, payload: Any) -> Event:
    """Record a domain event in the current transaction and run/queue its handlers."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            f"publish({topic!r}) outside a transaction: call it inside the service's "
            "transaction.atomic() so the event commits or rolls back with the change"
        )
    row = DomainEvent.objects.create(topic=topic, payload=_as_json(payload))
    event = Event(id=row.id, topic=row.topic, payload=row.payload, occurred_at=row.occurred_at)
    for handler in handlers_for(topic, IN_TRANSACTION):
        handler.func(event)
    outbox = [
        OutboxMessage(
            event=row,
            handler=handler.name,
            ordering_key=handler.ordering_key(event) if handler.ordering_key else "",
        )
        for handler in handlers_for(topic, OUTBOX)
    ]
    if outbox:
        OutboxMessage.objects.bulk_create(outbox)
        transaction.on_commit(_schedule_drain)
    return event


def publish_many(topic: str, payloads: list[Any]) -> list[Event]:
    """`publish` for many events of one topic at once (one per address of a bulk change,
    say): two INSERTs whatever their number; handlers see them as if published one by one,
    and outbox rows keep the order of `payloads` (so per-key ordering holds)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            f"publish_many({topic!r}) outside a transaction: call it inside the service's "
            "transaction.atomic() so the events commit or roll back with the change"
        )
    rows = DomainEvent.objects.bulk_create(
        [DomainEvent(topic=topic, payload=_as_json(payload)) for payload in payloads]
    )
    events = [
        Event(id=row.id, topic=row.topic, payload=row.payload, occurred_at=row.occurred_at)
        for row in rows
    ]
    for event in events:
        for handler in handlers_for(topic, IN_TRANSACTION):
            handler.func(event)
    outbox = [
        OutboxMessage(
            event=row,
            handler=handler.name,
            ordering_key=handler.ordering_key(event) if handler.ordering_key else "",
        )
        for row, event in zip(rows, events, strict=True)
        for handler in handlers_for(topic, OUTBOX)
    ]
    if outbox:
        OutboxMessage.objects.bulk_create(outbox)
        transaction.on_commit(_schedule_drain)
    return events


def _schedule_drain() -> None:
    # Imported here: the task module needs the Celery app, which needs settings.
    from common.tasks import outbox_drain_task

    try:
        outbox_drain_task.apply_async(retry=False)
    except Exception as exc:  # broker down: the beat sweep delivers it within a minute
        logger.warning("could not enqueue the outbox drain (%s); the sweep will pick it up", exc)
