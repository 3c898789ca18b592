"""The IQGeo simulator on a free port of 127.0.0.1, seeded from the demo town, configured."""

import json
from pathlib import Path

import pytest

from integrations.iqgeo.simulator import IQGeoSimulator, IQGeoSimulatorServer, seed_from_file

TOWN = Path(__file__).resolve().parents[2] / "data" / "berlin-wedding" / "addresses.geojson"


def town_seed(count: int | None = None) -> list[dict]:
    features = seed_from_file(TOWN)
    return features if count is None else features[:count]


@pytest.fixture(name="iqgeo")
def iqgeo_server(settings):
    """Start a simulator with `iqgeo(features, **options)`; it is configured as IQGeo."""
    servers = []

    def start(features, **options) -> IQGeoSimulator:
        server = IQGeoSimulatorServer(IQGeoSimulator(features, **options)).start()
        servers.append(server)
        settings.USE_IQGEO = True
        settings.IQGEO_BASE_URL = server.url
        settings.IQGEO_USER, settings.IQGEO_PASSWORD = "oanm", "secret"
        settings.IQGEO_TIMEOUT_SECONDS = 0.3
        settings.IQGEO_BACKOFF_SECONDS = 0.01
        settings.IQGEO_RETRIES = 3
        settings.IQGEO_PAGE_SIZE = 10
        server.simulator.delay = 0.6
        return server.simulator

    yield start
    for server in servers:
        server.stop()


def recorded(name: str) -> dict:
    return json.loads((Path(__file__).parent / "payloads" / name).read_text())
