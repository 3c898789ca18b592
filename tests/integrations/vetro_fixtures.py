"""The VETRO simulator on a free port of 127.0.0.1, seeded from the demo town, configured."""

import pytest

from integrations.vetro.simulator import VetroSimulator, VetroSimulatorServer, seed_from_file
from tests.integrations.gis_fixtures import TOWN, recorded, seeded, serve

__all__ = ["TOWN", "recorded", "town_seed", "vetro_server"]


def town_seed(count: int | None = None) -> list[dict]:
    return seeded(seed_from_file, count)


def _configure(settings, server) -> None:
    settings.USE_VETRO = True
    settings.VETRO_BASE_URL = server.url
    settings.VETRO_TOKEN = server.simulator.token
    settings.VETRO_LAYER_ID = ""  # found by its label
    settings.VETRO_PLAN_IDS = []
    settings.VETRO_TIMEOUT_SECONDS = 0.3
    settings.VETRO_BACKOFF_SECONDS = 0.01
    settings.VETRO_RETRIES = 3
    settings.VETRO_PAGE_SIZE = 10
    settings.VETRO_OUTAGE_PAUSE_SECONDS = 0  # the outage pause has a test of its own


@pytest.fixture(name="vetro")
def vetro_server(settings):
    """Start a simulator with `vetro(features, **options)`; it is configured as VETRO."""
    yield from serve(settings, VetroSimulator, VetroSimulatorServer, _configure)
