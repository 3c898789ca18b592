"""The VETRO simulator on a free port of 127.0.0.1, seeded from the demo town, configured."""

import json
from pathlib import Path

import pytest

from integrations.vetro.simulator import VetroSimulator, VetroSimulatorServer, seed_from_file

TOWN = Path(__file__).resolve().parents[2] / "data" / "berlin-wedding" / "addresses.geojson"


def town_seed(count: int | None = None) -> list[dict]:
    features = seed_from_file(TOWN)
    return features if count is None else features[:count]


@pytest.fixture(name="vetro")
def vetro_server(settings):
    """Start a simulator with `vetro(features, **options)`; it is configured as VETRO."""
    servers = []

    def start(features, **options) -> VetroSimulator:
        server = VetroSimulatorServer(VetroSimulator(features, **options)).start()
        servers.append(server)
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
        server.simulator.delay = 0.6
        return server.simulator

    yield start
    for server in servers:
        server.stop()


def recorded(name: str) -> dict:
    return json.loads((Path(__file__).parent / "payloads" / name).read_text())
