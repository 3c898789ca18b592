"""Fixtures of the integration tests: the field town of the work-order tests and the
provisioning simulator on a free port of 127.0.0.1, configured as the provisioning system."""

import uuid

import pytest
from django.core.files.base import ContentFile

from areas.services import area_deploy
from integrations.provisioning.simulator import ProvisioningSimulator, SimulatorServer
from tests.workorders.conftest import field_town  # noqa: F401  (the fixture)
from workorders.models import ProvisioningJob
from workorders.services import task_accept, task_complete, task_photo_add

SERIAL = "ALCL00112233"  # what the technician scans (lower case) becomes


def finish_installation(town, *, serial: str = "alcl00112233") -> ProvisioningJob:
    """Deploy the area, then complete and accept every task of the first home's work order
    through the field services: the job it leaves is waiting in the outbox."""
    home = town.home(0)
    town.order(home)
    area_deploy(area=town.area)
    work_order = home.work_orders.get()
    drop, ont, signoff = work_order.tasks.order_by("position")
    digger, tech = town.users["digger"], town.users["tech"]
    task_photo_add(
        task=drop,
        actor=digger,
        image=ContentFile(b"\x89PNG drop", name="drop.png"),
        client_uid=uuid.uuid4(),
        content_type="image/png",
    )
    task_complete(task=drop, actor=digger, evidence={})
    task_complete(task=ont, actor=tech, evidence={"light_level_dbm": "-19.4", "ont_serial": serial})
    task_complete(
        task=signoff,
        actor=tech,
        evidence={"download_mbps": "940", "upload_mbps": "480", "signed_by": "A. Kunde"},
    )
    task_accept(task=drop, actor=town.users["dispatcher"])
    return ProvisioningJob.objects.get(work_order=work_order)


@pytest.fixture
def simulator(settings):
    """A running simulator that the configured adapter talks to (vendor: simulator)."""
    server = SimulatorServer(ProvisioningSimulator()).start()
    settings.PROVISIONING_VENDOR = "simulator"
    settings.PROVISIONING_BASE_URL = server.url
    settings.PROVISIONING_USERNAME = settings.PROVISIONING_PASSWORD = ""
    settings.PROVISIONING_TOKEN = ""
    settings.PROVISIONING_TIMEOUT_SECONDS = 2.0
    yield server.simulator
    server.stop()


@pytest.fixture
def simulator_url(settings, simulator):
    """The base URL of the running simulator."""
    return settings.PROVISIONING_BASE_URL
