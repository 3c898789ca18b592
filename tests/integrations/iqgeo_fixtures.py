"""The IQGeo simulator on a free port of 127.0.0.1, seeded from the demo town, configured."""

import pytest

from integrations.iqgeo.simulator import IQGeoSimulator, IQGeoSimulatorServer, seed_from_file
from tests.integrations.gis_fixtures import TOWN, recorded, seeded, serve

__all__ = ["TOWN", "iqgeo_server", "recorded", "town_seed"]


def town_seed(count: int | None = None) -> list[dict]:
    return seeded(seed_from_file, count)


def _configure(settings, server) -> None:
    settings.USE_IQGEO = True
    settings.IQGEO_BASE_URL = server.url
    settings.IQGEO_USER, settings.IQGEO_PASSWORD = "oanm", "secret"
    settings.IQGEO_TIMEOUT_SECONDS = 0.3
    settings.IQGEO_BACKOFF_SECONDS = 0.01
    settings.IQGEO_RETRIES = 3
    settings.IQGEO_PAGE_SIZE = 10


@pytest.fixture(name="iqgeo")
def iqgeo_server(settings):
    """Start a simulator with `iqgeo(features, **options)`; it is configured as IQGeo."""
    yield from serve(settings, IQGeoSimulator, IQGeoSimulatorServer, _configure)
