"""Domain events: publish inside the change's transaction; in-transaction and outbox handlers."""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import Organisation
from accounts.roles import OrganisationKind
from accounts.services import organisation_create
from common.events import (
    IN_TRANSACTION,
    handlers_for,
    publish,
    publish_many,
    subscribe,
    unsubscribe,
)
from common.models import DomainEvent, OutboxMessage, OutboxStatus

TOPIC = "test.happened"


@dataclass(frozen=True)
class Happened:
    thing_id: int
    amount: Decimal
    at: datetime


def _nothing_recorded() -> tuple[int, int]:
    return DomainEvent.objects.count(), OutboxMessage.objects.count()


@pytest.mark.django_db(transaction=True)
def test_publish_outside_a_transaction_is_refused():
    # given autocommit, no transaction open
    assert not connection.in_atomic_block

    # when an event is published, then it is refused and nothing is stored
    with pytest.raises(RuntimeError) as raised:
        publish(TOPIC, {"thing_id": 1})
    assert str(raised.value) == (
        "publish('test.happened') outside a transaction: call it inside the service's "
        "transaction.atomic() so the event commits or rolls back with the change"
    )
    assert _nothing_recorded() == (0, 0)


def test_publish_stores_the_event_with_its_payload_as_json(db):
    # given a dataclass payload with a Decimal and a datetime
    payload = Happened(thing_id=7, amount=Decimal("12.50"), at=datetime(2026, 3, 1, 12, tzinfo=UTC))

    # when it is published
    with transaction.atomic():
        event = publish(TOPIC, payload)

    # then one event row holds its JSON form, and the returned Event matches the row
    row = DomainEvent.objects.get()
    assert row.id == event.id
    assert row.topic == TOPIC
    assert row.payload == {"thing_id": 7, "amount": "12.50", "at": "2026-03-01T12:00:00Z"}
    assert event.payload == row.payload
    assert event.occurred_at == row.occurred_at


def test_publish_refuses_a_payload_that_is_not_a_dataclass_or_dict(db):
    with transaction.atomic(), pytest.raises(TypeError) as raised:
        publish(TOPIC, [1, 2])
    assert str(raised.value) == "an event payload is a dataclass or a dict of plain values"
    assert _nothing_recorded() == (0, 0)


def test_in_transaction_handler_runs_inside_the_publishers_transaction(db, handlers):
    # given an in-transaction handler that looks for the publisher's uncommitted row
    seen = []

    def look(event):
        seen.append(
            (
                event.payload,
                connection.in_atomic_block,
                Organisation.objects.filter(pk=event.payload["organisation_id"]).exists(),
                DomainEvent.objects.filter(pk=event.id).exists(),
            )
        )

    handlers.in_transaction(TOPIC, look, name="tests.look")

    # when a change publishes in its transaction
    with transaction.atomic():
        organisation = organisation_create(name="Kiez ISP", kind=OrganisationKind.ISP)
        publish(TOPIC, {"organisation_id": organisation.pk})

    # then the handler ran once, at once, seeing the change and the event
    assert seen == [({"organisation_id": organisation.pk}, True, True, True)]


def test_a_failing_in_transaction_handler_rolls_back_the_whole_change(db, handlers):
    # given a handler that writes its own row and a second one that fails
    def write(event):
        organisation_create(name="Written by a handler", kind=OrganisationKind.CONTRACTOR)

    def fail(event):
        raise ValueError("the reaction is impossible")

    delivered = []
    handlers.in_transaction(TOPIC, write, name="tests.write")
    handlers.in_transaction(TOPIC, fail, name="tests.fail")
    handlers.outbox(TOPIC, delivered.append, name="tests.outbox_after_failure")

    # when a change publishes and the failing handler raises
    with pytest.raises(ValueError, match="the reaction is impossible"), transaction.atomic():
        organisation_create(name="Kiez ISP", kind=OrganisationKind.ISP)
        publish(TOPIC, {"thing_id": 1})

    # then nothing of it is left: no change, no handler row, no event, no outbox row
    assert Organisation.objects.count() == 0
    assert _nothing_recorded() == (0, 0)
    assert delivered == []


def test_a_service_failure_after_publish_rolls_back_the_event_and_its_outbox_rows(db, handlers):
    # given two outbox handlers on the topic
    handlers.outbox(TOPIC, lambda event: None, name="tests.first")
    handlers.outbox(TOPIC, lambda event: None, name="tests.second")

    # when the service fails after it has published
    with pytest.raises(RuntimeError, match="later step failed"), transaction.atomic():
        organisation_create(name="Kiez ISP", kind=OrganisationKind.ISP)
        publish(TOPIC, {"thing_id": 1})
        assert _nothing_recorded() == (1, 2)
        raise RuntimeError("later step failed")

    # then the event and its outbox rows went with the change
    assert Organisation.objects.count() == 0
    assert _nothing_recorded() == (0, 0)


def test_each_outbox_handler_gets_one_row_per_event(db, handlers):
    # given two outbox handlers (one with an ordering key) and an in-transaction one
    handlers.outbox(TOPIC, lambda event: None, name="tests.notify")
    handlers.outbox(
        TOPIC,
        lambda event: None,
        name="tests.sync",
        ordering_key=lambda event: f"thing:{event.payload['thing_id']}",
    )
    handlers.in_transaction(TOPIC, lambda event: None, name="tests.local")

    # when two events are published
    with transaction.atomic():
        first = publish(TOPIC, {"thing_id": 1})
        second = publish(TOPIC, {"thing_id": 2})

    # then each event has one pending row per outbox handler, none for the local one
    rows = OutboxMessage.objects.order_by("id").values_list(
        "event_id", "handler", "ordering_key", "status", "attempts"
    )
    assert list(rows) == [
        (first.id, "tests.notify", "", OutboxStatus.PENDING, 0),
        (first.id, "tests.sync", "thing:1", OutboxStatus.PENDING, 0),
        (second.id, "tests.notify", "", OutboxStatus.PENDING, 0),
        (second.id, "tests.sync", "thing:2", OutboxStatus.PENDING, 0),
    ]
    assert OutboxMessage.objects.get(event_id=first.id, handler="tests.notify").idempotency_key == (
        f"{first.id}:tests.notify"
    )


def test_an_event_and_handler_pair_is_stored_once(db, handlers):
    # given an event with its outbox row
    handlers.outbox(TOPIC, lambda event: None, name="tests.notify")
    with transaction.atomic():
        event = publish(TOPIC, {"thing_id": 1})

    # when a second row for the same (event, handler) is written, then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboxMessage.objects.create(event_id=event.id, handler="tests.notify")
    assert OutboxMessage.objects.filter(event_id=event.id).count() == 1


def test_publish_schedules_one_drain_after_commit_only_when_there_are_outbox_rows(
    db, handlers, django_capture_on_commit_callbacks
):
    # given a topic with only an in-transaction handler
    handlers.in_transaction(TOPIC, lambda event: None, name="tests.local")

    # when it is published, then no drain is scheduled
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        publish(TOPIC, {"thing_id": 1})
    assert callbacks == []

    # given an outbox handler too, when it is published, then one drain runs after commit
    handlers.outbox(TOPIC, lambda event: None, name="tests.notify")
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        publish(TOPIC, {"thing_id": 2})
    assert [callback.__name__ for callback in callbacks] == ["_schedule_drain"]


def test_a_topic_without_handlers_still_records_its_event(db):
    with transaction.atomic():
        event = publish("test.unheard", {"thing_id": 1})
    assert list(DomainEvent.objects.values_list("id", "topic")) == [(event.id, "test.unheard")]
    assert OutboxMessage.objects.count() == 0


def test_subscribe_refuses_an_unknown_kind_and_a_name_used_for_another_topic(handlers):
    with pytest.raises(ValueError) as raised:
        subscribe(TOPIC, kind="later", name="tests.never")
    assert str(raised.value) == "unknown handler kind 'later'"

    handlers.in_transaction(TOPIC, lambda event: None, name="tests.taken")
    with pytest.raises(ValueError) as raised:
        subscribe("test.other", kind=IN_TRANSACTION, name="tests.taken")(lambda event: None)
    assert str(raised.value) == "handler name 'tests.taken' is already used for test.happened"


def test_subscribing_the_same_name_to_the_same_topic_registers_once(handlers):
    # given a handler registered (as a module imported twice would do)
    def react(event):
        pass

    handlers.in_transaction(TOPIC, react, name="tests.react")

    # when it registers again, then it is still there once
    subscribe(TOPIC, kind=IN_TRANSACTION, name="tests.react")(react)
    assert [handler.name for handler in handlers_for(TOPIC)] == ["tests.react"]


def test_unsubscribe_removes_the_handler(handlers):
    handlers.in_transaction(TOPIC, lambda event: None, name="tests.gone")
    unsubscribe("tests.gone")
    assert handlers_for(TOPIC) == []
    unsubscribe("tests.gone")  # a second time is harmless


def test_publish_many_records_each_event_and_queues_them_in_order(db, handlers):
    # given an in-transaction and an outbox handler keyed by thing
    seen = []
    handlers.in_transaction(TOPIC, lambda event: seen.append(event.payload), name="tests.seen")
    handlers.outbox(
        TOPIC,
        lambda event: None,
        name="tests.many",
        ordering_key=lambda event: f"thing:{event.payload['thing_id']}",
    )

    # when three events are published at once
    with transaction.atomic():
        events = publish_many(TOPIC, [{"thing_id": n} for n in (3, 1, 2)])

    # then each is stored, handled in the transaction, and queued in the order given
    assert [event.payload for event in events] == seen == [{"thing_id": n} for n in (3, 1, 2)]
    assert DomainEvent.objects.filter(topic=TOPIC).count() == 3
    queued = OutboxMessage.objects.filter(handler="tests.many").order_by("id")
    assert [m.ordering_key for m in queued] == ["thing:3", "thing:1", "thing:2"]
    assert [m.event_id for m in queued] == [event.id for event in events]
    with transaction.atomic():
        assert publish_many(TOPIC, []) == []


@pytest.mark.django_db(transaction=True)
def test_publish_many_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="outside a transaction"):
        publish_many(TOPIC, [{"thing_id": 1}])
    assert _nothing_recorded() == (0, 0)
