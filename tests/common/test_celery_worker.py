"""End to end: events published in a committed transaction, delivered by a real Celery worker.

The worker is a subprocess on the test database and Redis; it imports the probe handlers
(`tests.common.outbox_probe`), which count deliveries in Redis per event id.
"""

import pytest
from django.db import transaction
from django.utils import timezone

from common.events import publish
from common.models import OutboxMessage, OutboxStatus
from common.tasks import outbox_drain_task
from tests.celery_worker import wait_until
from tests.common import outbox_probe
from tests.common.outbox_probe import (
    FLAKY_TOPIC,
    PROBE_TOPIC,
    attempts_key,
    delivered_key,
    redis_client,
)

CELERY_WORKER_INCLUDES = ["tests.common.outbox_probe"]

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def probe_redis():
    client = redis_client()
    yield client
    for key in client.scan_iter(f"{outbox_probe.KEY_PREFIX}:*"):
        client.delete(key)
    client.close()


def _count(client, key: str) -> int:
    value = client.get(key)
    return int(value) if value is not None else 0


def _message(event_id) -> OutboxMessage:
    return OutboxMessage.objects.get(event_id=event_id)


def test_worker_delivers_a_committed_event_exactly_once(celery_worker, probe_redis):
    # given a probe event published in a committed transaction (on commit, a drain is queued)
    with transaction.atomic():
        event = publish(PROBE_TOPIC, {"note": "hello"})

    # when the worker runs the drain that the commit queued
    celery_worker.wait_until(
        lambda: _message(event.id).status == OutboxStatus.DELIVERED,
        what="delivery of the probe event",
    )

    # then the handler ran once in the worker and the row says so
    message = _message(event.id)
    assert message.handler == "tests.probe.record"
    assert message.attempts == 1
    assert message.last_error == ""
    assert message.delivered_at is not None
    assert _count(probe_redis, delivered_key(event.id)) == 1

    # and a later drain (what the beat sweep runs) finds nothing left to deliver
    second = outbox_drain_task.delay()
    assert celery_worker.wait_for_task(second.id) == "0"
    assert _count(probe_redis, delivered_key(event.id)) == 1
    assert _message(event.id).attempts == 1


def test_worker_retries_a_failing_handler_and_delivers_it_once(celery_worker, probe_redis):
    # given an event whose receiver fails on the first attempt
    with transaction.atomic():
        event = publish(FLAKY_TOPIC, {"note": "flaky"})

    # when the drain queued on commit runs, the attempt fails and is recorded for a retry
    failed = celery_worker.wait_until(
        lambda: OutboxMessage.objects.filter(event_id=event.id, attempts=1).first(),
        what="the first, failing attempt",
    )
    assert failed.status == OutboxStatus.PENDING
    assert failed.last_error == "ConnectionError: probe receiver unreachable on the first attempt"
    assert _count(probe_redis, attempts_key(event.id)) == 1
    assert _count(probe_redis, delivered_key(event.id)) == 0

    # and once the back-off (1 s in tests) has passed, the sweep's drain delivers it
    wait_until(lambda: timezone.now() >= failed.next_attempt_at, what="the back-off to pass")
    retry = outbox_drain_task.delay()
    assert celery_worker.wait_for_task(retry.id) == "1"

    # then it was delivered once, on the second attempt, and a further drain adds nothing
    delivered = _message(event.id)
    assert delivered.status == OutboxStatus.DELIVERED
    assert delivered.attempts == 2
    assert delivered.last_error == ""
    assert _count(probe_redis, attempts_key(event.id)) == 2
    assert _count(probe_redis, delivered_key(event.id)) == 1
    again = outbox_drain_task.delay()
    assert celery_worker.wait_for_task(again.id) == "0"
    assert _count(probe_redis, delivered_key(event.id)) == 1
