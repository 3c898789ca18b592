"""The change feed's cursor under concurrent writes: a change committed late by a slow
transaction is served after the younger ones already read, never skipped, never twice.

Each writer is a thread with its own database connection and a real transaction; the
reader is the API, between their steps."""

import threading
from collections.abc import Callable

import pytest
from django.contrib.gis.geos import Point
from django.db import connection, transaction

from gis_core.models import Address
from gis_core.services import address_create
from integrations.sync.models import Change
from tests.integrations.test_sync_feed_api import CHANGES, sync_client  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 20  # seconds a step may take before the test fails instead of hanging


class Writer(threading.Thread):
    """Runs `steps` in one transaction on its own connection, pausing where told."""

    def __init__(self, *steps: Callable[[], None]):
        super().__init__(daemon=True)
        self.steps = steps
        self.error: BaseException | None = None

    def run(self):
        try:
            with transaction.atomic():
                for step in self.steps:
                    step()
        except BaseException as exc:  # reported by finish()
            self.error = exc
        finally:
            connection.close()

    def finish(self):
        self.join(WAIT)
        assert not self.is_alive(), "writer still running"
        if self.error:
            raise self.error


def signal(event: threading.Event) -> Callable[[], None]:
    return event.set


def wait_for(event: threading.Event) -> Callable[[], None]:
    def step():
        assert event.wait(WAIT), "the test never released this writer"

    return step


def create(street: str) -> Callable[[], None]:
    # A street of its own per writer: one shared street name would make the second writer
    # wait on the first's new street-name row.
    return lambda: address_create(location=Point(13.35, 52.55), street=street)


def take_xid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")


def ids_of(street: str) -> set[int]:
    pks = Address.objects.filter(street=street).values_list("pk", flat=True)
    return set(
        Change.objects.filter(entity="address", entity_id__in=pks).values_list("pk", flat=True)
    )


def read(client, since: str) -> tuple[list[dict], str]:
    page = client.get(CHANGES, {"since": since, "limit": 1000}).json()
    assert page["has_more"] is False
    return page["changes"], page["next_cursor"]


def served_ids(changes: list[dict]) -> list[int]:
    return [int(c["cursor"].split(".")[1]) for c in changes]


def test_a_younger_commit_waits_for_the_slow_older_transaction(sync_client):  # noqa: F811
    written, release = threading.Event(), threading.Event()
    slow = Writer(create("Langsamweg"), signal(written), wait_for(release))
    slow.start()
    assert written.wait(WAIT)
    fast = Writer(create("Schnellweg"))
    fast.start()
    fast.finish()  # committed while the older one is still open

    changes, cursor = read(sync_client, "0")
    assert changes == []  # the younger change waits: serving it would move the cursor past

    release.set()
    slow.finish()
    changes, cursor = read(sync_client, cursor)
    assert served_ids(changes) == sorted(ids_of("Langsamweg")) + sorted(ids_of("Schnellweg"))
    assert read(sync_client, cursor) == ([], cursor)


def test_a_change_logged_early_but_committed_late_is_not_skipped(sync_client):  # noqa: F811
    """The case an id cursor gets wrong: the slow transaction takes its log ids first, a
    transaction that began before it takes higher ids and commits; the reader is served
    those, then the slow one commits its lower ids."""
    began, written, go_on, release = (threading.Event() for _ in range(4))
    early = Writer(take_xid, signal(began), wait_for(go_on), create("Frühweg"))
    early.start()
    assert began.wait(WAIT)
    slow = Writer(create("Spätweg"), signal(written), wait_for(release))
    slow.start()
    assert written.wait(WAIT)
    go_on.set()
    early.finish()

    first, cursor = read(sync_client, "0")
    assert served_ids(first) == sorted(ids_of("Frühweg"))
    assert Change.objects.filter(pk__lt=min(served_ids(first))).count() == 0  # not yet visible

    release.set()
    slow.finish()
    late_ids = sorted(ids_of("Spätweg"))
    assert max(late_ids) < min(served_ids(first))  # an id cursor would have passed them by
    second, cursor = read(sync_client, cursor)
    assert served_ids(second) == late_ids
    everything = served_ids(first) + served_ids(second)
    assert sorted(everything) == sorted(Change.objects.values_list("pk", flat=True))
    assert read(sync_client, cursor) == ([], cursor)
