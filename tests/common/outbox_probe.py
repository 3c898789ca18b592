"""Outbox handlers for the end-to-end tests, loaded into a real Celery worker (`-I`).

The test process imports this module too, so publishing a probe topic there writes the
outbox rows the worker then delivers. The handlers count in Redis (the tests' database 15),
one key per event id: a second delivery of the same event shows as a count of 2.
"""

from __future__ import annotations

import redis
from django.conf import settings

from common.events import OUTBOX, Event, subscribe

PROBE_TOPIC = "probe.happened"
FLAKY_TOPIC = "probe.flaky"
KEY_PREFIX = "oanm-test:probe"
KEY_TTL_SECONDS = 3600


def redis_client() -> redis.Redis:
    """The Redis the tests' broker uses (database 15 in test settings)."""
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def delivered_key(event_id: object) -> str:
    return f"{KEY_PREFIX}:delivered:{event_id}"


def attempts_key(event_id: object) -> str:
    return f"{KEY_PREFIX}:attempts:{event_id}"


def _incr(client: redis.Redis, key: str) -> int:
    pipeline = client.pipeline()
    pipeline.incr(key)
    pipeline.expire(key, KEY_TTL_SECONDS)
    count, _ = pipeline.execute()
    return int(count)


@subscribe(PROBE_TOPIC, kind=OUTBOX, name="tests.probe.record")
def record(event: Event) -> None:
    """Count one delivery of the event."""
    _incr(redis_client(), delivered_key(event.id))


@subscribe(FLAKY_TOPIC, kind=OUTBOX, name="tests.probe.flaky")
def flaky(event: Event) -> None:
    """Fail the first attempt (as a receiver that is briefly down would), count later ones."""
    client = redis_client()
    if _incr(client, attempts_key(event.id)) == 1:
        raise ConnectionError("probe receiver unreachable on the first attempt")
    _incr(client, delivered_key(event.id))
