"""End to end: a work order accepted in a committed transaction, its ONT provisioned by a
real Celery worker (on the test database and Redis) over HTTP to the simulator."""

import pytest
from django.db import connection

from integrations.provisioning.simulator import ProvisioningSimulator, SimulatorServer
from tests.celery_worker import celery_worker_process
from tests.integrations.conftest import SERIAL, finish_installation
from workorders.lifecycle import ProvisioningStatus
from workorders.models import ProvisioningJob

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_provisions_the_ont_of_an_accepted_work_order(
    field_town, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path
    server = SimulatorServer(ProvisioningSimulator()).start()
    monkeypatch.setenv("PROVISIONING_VENDOR", "simulator")
    monkeypatch.setenv("PROVISIONING_BASE_URL", server.url)
    try:
        with celery_worker_process(database_name=connection.settings_dict["NAME"]) as worker:
            # when the last task is accepted (each service commits; the outbox drain is queued)
            job = finish_installation(field_town)

            # then the worker provisions and verifies the ONT on the simulator
            job = worker.wait_until(
                lambda: ProvisioningJob.objects.filter(
                    pk=job.pk, status=ProvisioningStatus.VERIFIED
                ).first(),
                what="the provisioning job to be verified",
            )
        assert (job.vendor, job.attempts) == ("simulator", 0)
        assert list(server.simulator.snapshot()["onts"]) == [SERIAL]
    finally:
        server.stop()
