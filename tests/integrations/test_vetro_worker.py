"""End to end, "within seconds": an address change committed in oanm reaches the VETRO
simulator through a real Celery worker (on the test database and Redis) draining the outbox
right after the commit — no beat, no manual drain."""

import pytest
from django.db import connection

from gis_core.services import address_await_deployment, address_create
from tests.celery_worker import celery_worker_process
from tests.integrations.vetro_fixtures import vetro_server  # noqa: F401  (the fixture "vetro")

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_a_committed_change_reaches_vetro_within_seconds(vetro, settings, monkeypatch):
    sim = vetro([])
    vetro_id = sim.add({"type": "Point", "coordinates": [13.35, 52.54]}, {"Street": "Seestraße"})
    for name in ("USE_VETRO", "VETRO_BASE_URL", "VETRO_TOKEN"):  # the worker's settings
        monkeypatch.setenv(name, "1" if name == "USE_VETRO" else str(getattr(settings, name)))
    address = address_create(
        location={"type": "Point", "coordinates": [13.35, 52.54]},
        street="Seestraße",
        external_refs={"vetro": vetro_id},
    )
    with celery_worker_process(database_name=connection.settings_dict["NAME"]) as worker:
        address_await_deployment(address=address)  # commits; the drain is queued on commit

        # seconds, not the minute of the beat's sweep (there is no beat here at all)
        worker.wait_until(lambda: sim.patches, timeout=10, what="the push to reach VETRO")

    assert sim.get(vetro_id)["properties"]["Installation Status"] == "Ordered"
