"""The outbox: delivered once, retried with capped exponential back-off, never twice."""

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Organisation
from accounts.roles import OrganisationKind
from accounts.services import organisation_create
from common.events import publish, unsubscribe
from common.models import DomainEvent, OutboxMessage, OutboxStatus
from common.outbox import (
    DrainReport,
    outbox_drain,
    outbox_message_retry,
    outbox_prune,
    retry_delay,
)
from common.tasks import outbox_drain_task, outbox_prune_task

TOPIC = "test.happened"


def _publish(**payload):
    with transaction.atomic():
        return publish(TOPIC, payload)


def _rewind(message: OutboxMessage) -> None:
    """Time passes: the message's next attempt is due."""
    OutboxMessage.objects.filter(pk=message.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


class Receiver:
    """An outbox handler that records what it was given and fails while told to."""

    def __init__(self, *, failing: bool = False):
        self.calls: list = []
        self.failing = failing

    def __call__(self, event):
        self.calls.append(event.payload["n"])
        if self.failing:
            raise RuntimeError("receiver said no")


def test_retry_delay_doubles_from_the_base_and_is_capped_at_an_hour(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 5
    delays = [retry_delay(attempts).total_seconds() for attempts in range(13)]
    assert delays == [5, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    assert retry_delay(40) == timedelta(hours=1)


def test_retry_delay_uses_the_configured_base(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 1
    assert [retry_delay(attempts).total_seconds() for attempts in (1, 2, 3, 12, 13)] == [
        1,
        2,
        4,
        2048,
        3600,
    ]


def test_drain_delivers_each_message_once(db, handlers):
    # given two events for an outbox handler
    received = []
    handlers.outbox(TOPIC, received.append, name="tests.record")
    first = _publish(n=1)
    second = _publish(n=2)

    # when the outbox is drained
    report = outbox_drain()

    # then each event was delivered once, in publish order, with what was published
    assert report == DrainReport(delivered=2, failed=0, dead=0)
    assert [(event.id, event.topic, event.payload) for event in received] == [
        (first.id, TOPIC, {"n": 1}),
        (second.id, TOPIC, {"n": 2}),
    ]
    assert [event.occurred_at for event in received] == [first.occurred_at, second.occurred_at]
    rows = OutboxMessage.objects.order_by("id")
    assert [(row.status, row.attempts, row.last_error) for row in rows] == [
        (OutboxStatus.DELIVERED, 1, ""),
        (OutboxStatus.DELIVERED, 1, ""),
    ]
    assert all(row.delivered_at is not None for row in rows)

    # when it is drained again, then nothing is delivered a second time
    assert outbox_drain() == DrainReport(delivered=0, failed=0, dead=0)
    assert len(received) == 2
    assert list(OutboxMessage.objects.values_list("attempts", flat=True)) == [1, 1]


def test_drain_stops_at_its_limit(db, handlers):
    receiver = Receiver()
    handlers.outbox(TOPIC, receiver, name="tests.record")
    for n in range(3):
        _publish(n=n)

    assert outbox_drain(limit=2) == DrainReport(delivered=2)
    assert receiver.calls == [0, 1]
    assert outbox_drain(limit=2) == DrainReport(delivered=1)
    assert receiver.calls == [0, 1, 2]


def test_drain_task_delivers_and_returns_how_many_it_handled(db, handlers):
    receiver = Receiver()
    handlers.outbox(TOPIC, receiver, name="tests.record")
    _publish(n=1)
    _publish(n=2)

    assert outbox_drain_task() == 2
    assert outbox_drain_task() == 0
    assert receiver.calls == [1, 2]


def test_a_handlers_database_writes_commit_with_its_delivery(db, handlers):
    # given a handler that writes a row of its own
    def write(event):
        organisation_create(name=f"Partner {event.payload['n']}", kind=OrganisationKind.ISP)

    handlers.outbox(TOPIC, write, name="tests.write")
    _publish(n=1)

    # when delivered, then its row exists and the message is delivered
    assert outbox_drain() == DrainReport(delivered=1)
    assert list(Organisation.objects.values_list("name", flat=True)) == ["Partner 1"]
    assert OutboxMessage.objects.get().status == OutboxStatus.DELIVERED


def test_a_failing_handler_is_rolled_back_and_its_attempt_recorded(db, handlers):
    # given a handler that writes a row and then fails
    def write_then_fail(event):
        organisation_create(name="Half-done", kind=OrganisationKind.ISP)
        raise RuntimeError("receiver said no")

    handlers.outbox(TOPIC, write_then_fail, name="tests.write_then_fail")
    _publish(n=1)

    # when it is drained
    before = timezone.now()
    report = outbox_drain()
    after = timezone.now()

    # then its write is gone, the attempt is recorded and a retry is due after the back-off
    assert report == DrainReport(failed=1)
    assert Organisation.objects.count() == 0
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.PENDING
    assert message.attempts == 1
    assert message.last_error == "RuntimeError: receiver said no"
    assert message.delivered_at is None
    assert before + retry_delay(1) <= message.next_attempt_at <= after + retry_delay(1)

    # and it is not retried before then
    assert outbox_drain() == DrainReport()
    assert OutboxMessage.objects.get().attempts == 1


def test_a_handlers_database_error_does_not_break_the_drain(db, handlers):
    # given a handler that hits a unique constraint
    organisation_create(name="Taken", kind=OrganisationKind.ISP)

    def duplicate(event):
        Organisation.objects.create(name="Taken", slug="taken-again", kind=OrganisationKind.ISP)

    received = []
    handlers.outbox(TOPIC, duplicate, name="tests.duplicate")
    handlers.outbox(TOPIC, received.append, name="tests.record")
    _publish(n=1)

    # when drained, then the database error is recorded and the next message still goes out
    assert outbox_drain() == DrainReport(delivered=1, failed=1)
    failed = OutboxMessage.objects.get(handler="tests.duplicate")
    assert failed.status == OutboxStatus.PENDING
    assert failed.last_error.startswith("IntegrityError: duplicate key value violates unique")
    assert OutboxMessage.objects.get(handler="tests.record").status == OutboxStatus.DELIVERED
    assert len(received) == 1


def test_back_off_grows_exponentially_and_is_capped_at_an_hour(db, handlers, settings):
    # given a handler that always fails, back-off from 5 s
    settings.OUTBOX_RETRY_BASE_SECONDS = 5
    handlers.outbox(TOPIC, Receiver(failing=True), name="tests.failing")
    _publish(n=1)
    message = OutboxMessage.objects.get()

    # when it is attempted twelve times, each time once its retry is due
    delays = []
    for _ in range(12):
        _rewind(message)
        attempted_at = timezone.now()
        assert outbox_drain() == DrainReport(failed=1)
        message.refresh_from_db()
        delays.append(round((message.next_attempt_at - attempted_at).total_seconds()))

    # then each wait doubles until it reaches the one-hour cap
    assert delays == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    assert message.attempts == 12
    assert message.status == OutboxStatus.PENDING


def test_a_message_goes_dead_after_the_maximum_attempts(db, handlers, settings):
    # given at most three attempts and a handler that always fails
    settings.OUTBOX_MAX_ATTEMPTS = 3
    receiver = Receiver(failing=True)
    handlers.outbox(TOPIC, receiver, name="tests.failing")
    _publish(n=1)
    message = OutboxMessage.objects.get()

    # when it is attempted three times
    reports = []
    for _ in range(3):
        _rewind(message)
        reports.append(outbox_drain())

    # then the third failure gives up on it
    assert reports == [DrainReport(failed=1), DrainReport(failed=1), DrainReport(dead=1)]
    message.refresh_from_db()
    assert message.status == OutboxStatus.DEAD
    assert message.attempts == 3
    assert message.last_error == "RuntimeError: receiver said no"

    # and it is never attempted again by a drain
    _rewind(message)
    assert outbox_drain() == DrainReport()
    assert receiver.calls == [1, 1, 1]


def test_retry_revives_a_dead_message(db, handlers, settings):
    # given a dead message whose receiver is fixed afterwards
    settings.OUTBOX_MAX_ATTEMPTS = 1
    receiver = Receiver(failing=True)
    handlers.outbox(TOPIC, receiver, name="tests.failing")
    _publish(n=1)
    assert outbox_drain() == DrainReport(dead=1)
    receiver.failing = False

    # when an operator retries it
    before = timezone.now()
    message = outbox_message_retry(message=OutboxMessage.objects.get())

    # then it is pending and due now, and the next drain delivers it
    assert message.status == OutboxStatus.PENDING
    assert before <= message.next_attempt_at <= timezone.now()
    assert outbox_drain() == DrainReport(delivered=1)
    message.refresh_from_db()
    assert message.status == OutboxStatus.DELIVERED
    assert message.attempts == 2
    assert message.last_error == ""
    assert receiver.calls == [1, 1]


def test_retry_makes_a_backing_off_message_due_now(db, handlers):
    receiver = Receiver(failing=True)
    handlers.outbox(TOPIC, receiver, name="tests.failing")
    _publish(n=1)
    assert outbox_drain() == DrainReport(failed=1)
    receiver.failing = False

    outbox_message_retry(message=OutboxMessage.objects.get())

    assert outbox_drain() == DrainReport(delivered=1)
    assert receiver.calls == [1, 1]


def test_retry_leaves_a_delivered_message_alone(db, handlers):
    receiver = Receiver()
    handlers.outbox(TOPIC, receiver, name="tests.record")
    _publish(n=1)
    outbox_drain()
    delivered = OutboxMessage.objects.get()

    message = outbox_message_retry(message=delivered)

    assert message.status == OutboxStatus.DELIVERED
    assert message.next_attempt_at == delivered.next_attempt_at
    assert outbox_drain() == DrainReport()
    assert receiver.calls == [1]


def test_a_message_for_an_unknown_handler_goes_dead_with_a_reason(db, handlers):
    # given a message whose handler was renamed away before delivery
    handlers.outbox(TOPIC, Receiver(), name="tests.renamed")
    _publish(n=1)
    unsubscribe("tests.renamed")

    # when drained, then it gives up at once, saying why
    assert outbox_drain() == DrainReport(dead=1)
    message = OutboxMessage.objects.get()
    assert message.status == OutboxStatus.DEAD
    assert message.attempts == 1
    assert message.last_error == "no handler named 'tests.renamed' is registered"
    assert message.delivered_at is None


def test_a_message_waits_while_an_earlier_one_with_the_same_key_is_pending(db, handlers):
    # given deliveries ordered per key; the first for key "a" fails
    receiver = Receiver()

    def deliver(event):
        receiver.calls.append(event.payload["n"])
        if event.payload["n"] == 1 and receiver.failing:
            raise RuntimeError("receiver said no")

    receiver.failing = True
    handlers.outbox(
        TOPIC, deliver, name="tests.ordered", ordering_key=lambda event: event.payload["key"]
    )
    _publish(n=1, key="a")
    _publish(n=2, key="a")
    _publish(n=3, key="b")

    # when drained, then the second "a" waits behind the failing first; "b" goes out
    assert outbox_drain() == DrainReport(delivered=1, failed=1)
    assert receiver.calls == [1, 3]
    statuses = dict(OutboxMessage.objects.values_list("event__payload__n", "status"))
    assert statuses == {1: OutboxStatus.PENDING, 2: OutboxStatus.PENDING, 3: OutboxStatus.DELIVERED}

    # and it still waits while the first is backing off
    first = OutboxMessage.objects.get(event__payload__n=1)
    OutboxMessage.objects.filter(event__payload__n=2).update(
        next_attempt_at=timezone.now() - timedelta(minutes=1)
    )
    assert outbox_drain() == DrainReport()

    # when the first succeeds, then the second follows it in the same drain
    receiver.failing = False
    _rewind(first)
    assert outbox_drain() == DrainReport(delivered=2)
    assert receiver.calls == [1, 3, 1, 2]


def test_a_dead_message_no_longer_holds_back_its_key(db, handlers, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    receiver = Receiver()

    def deliver(event):
        receiver.calls.append(event.payload["n"])
        if event.payload["n"] == 1:
            raise RuntimeError("receiver said no")

    handlers.outbox(TOPIC, deliver, name="tests.ordered", ordering_key=lambda event: "same")
    _publish(n=1)
    _publish(n=2)

    assert outbox_drain() == DrainReport(delivered=1, dead=1)
    assert receiver.calls == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_a_message_locked_by_another_drain_is_skipped(handlers):
    # given two committed messages, the first locked by another connection (another drain)
    receiver = Receiver()
    handlers.outbox(TOPIC, receiver, name="tests.record")
    _publish(n=1)
    _publish(n=2)
    locked = OutboxMessage.objects.order_by("id").first()
    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
    )
    try:
        other.execute(
            f"SELECT id FROM {OutboxMessage._meta.db_table} WHERE id = %s FOR UPDATE",
            [locked.pk],
        )

        # when this drain runs, then it skips the locked row without waiting for it
        assert outbox_drain() == DrainReport(delivered=1)
        assert receiver.calls == [2]
        locked.refresh_from_db()
        assert (locked.status, locked.attempts) == (OutboxStatus.PENDING, 0)
    finally:
        other.rollback()
        other.close()

    # and once the lock is gone it delivers that one too
    assert outbox_drain() == DrainReport(delivered=1)
    assert receiver.calls == [2, 1]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_drains_never_deliver_a_message_twice(handlers):
    # given six committed messages and a slow receiver
    delivered = []

    def slow(event):
        time.sleep(0.1)
        delivered.append((event.payload["n"], threading.current_thread().name))

    handlers.outbox(TOPIC, slow, name="tests.slow")
    for n in range(6):
        _publish(n=n)

    # when two drains run at the same time, each on its own connection
    start = threading.Barrier(2)
    reports: dict[str, DrainReport] = {}
    errors: list[BaseException] = []

    def drain():
        try:
            connection.ensure_connection()
            start.wait(timeout=10)
            reports[threading.current_thread().name] = outbox_drain()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain, name=name) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then every message was delivered exactly once, and both drains did part of the work
    assert errors == []
    assert sorted(n for n, _ in delivered) == [0, 1, 2, 3, 4, 5]
    assert reports["first"].delivered + reports["second"].delivered == 6
    assert reports["first"].delivered >= 1
    assert reports["second"].delivered >= 1
    assert set(OutboxMessage.objects.values_list("status", "attempts")) == {
        (OutboxStatus.DELIVERED, 1)
    }


def test_prune_removes_only_delivered_messages_past_the_retention(db, handlers, settings):
    # given delivered messages 31 and 29 days old, and old pending and dead ones
    settings.OUTBOX_KEEP_DELIVERED_DAYS = 30
    handlers.outbox(TOPIC, Receiver(), name="tests.record")
    for n in range(4):
        _publish(n=n)
    outbox_drain(limit=2)
    now = timezone.now()
    messages = list(OutboxMessage.objects.order_by("id"))
    OutboxMessage.objects.filter(pk=messages[0].pk).update(delivered_at=now - timedelta(days=31))
    OutboxMessage.objects.filter(pk=messages[1].pk).update(delivered_at=now - timedelta(days=29))
    OutboxMessage.objects.filter(pk=messages[2].pk).update(
        created_at=now - timedelta(days=90), next_attempt_at=now + timedelta(hours=1)
    )
    OutboxMessage.objects.filter(pk=messages[3].pk).update(
        status=OutboxStatus.DEAD, created_at=now - timedelta(days=90)
    )

    # when pruned, then only the old delivered one is gone (its event stays)
    assert outbox_prune() == 1
    assert list(OutboxMessage.objects.order_by("id").values_list("pk", flat=True)) == [
        message.pk for message in messages[1:]
    ]
    assert DomainEvent.objects.count() == 4

    # and a shorter retention takes the younger delivered one too, through the task as well
    assert outbox_prune(older_than_days=28) == 1
    assert outbox_prune_task() == 0
    assert sorted(OutboxMessage.objects.values_list("status", flat=True)) == [
        OutboxStatus.DEAD,
        OutboxStatus.PENDING,
    ]


def test_outbox_rows_refuse_an_unknown_status(db, handlers):
    handlers.outbox(TOPIC, Receiver(), name="tests.record")
    _publish(n=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboxMessage.objects.update(status="lost")
    assert OutboxMessage.objects.get().status == OutboxStatus.PENDING
