"""The demo town fed from the VETRO simulator: its addresses adopt their VETRO ids through
the OSM id each service location carries, and the first full pull updates them instead of
duplicating."""

import pytest

from common.demo import DemoContext, demo_steps
from integrations.iqgeo.models import SyncRun
from integrations.vetro.demo import link_vetro
from tests.integrations.gis_fixtures import check_demo_adopts_and_syncs
from tests.integrations.vetro_fixtures import (
    town_seed,
    vetro_server,  # noqa: F401  (the fixture "vetro")
)

pytestmark = pytest.mark.django_db


def test_the_demo_town_adopts_its_vetro_ids_and_syncs_without_duplicates(vetro, settings):
    def start(seed):
        simulator = vetro(seed)
        settings.VETRO_PAGE_SIZE = 500
        return simulator

    run = check_demo_adopts_and_syncs(
        step=link_vetro,
        start=start,
        seed=town_seed(),
        system="vetro",
        linked_to="VETRO service location",
        osm_id=lambda feature: feature["properties"]["House ID"],
        remote_id=lambda feature: feature["vetro_id"],
    )
    assert run.retired == 0


def test_with_vetro_off_the_step_changes_nothing_and_it_is_in_the_scenario(settings):
    settings.USE_VETRO = False
    said = []
    link_vetro(DemoContext(say=said.append))
    assert said == ["VETRO is off (USE_VETRO, VETRO_BASE_URL): the addresses stay as loaded"]
    assert not SyncRun.objects.exists()
    assert "GIS of record: addresses linked to VETRO and synced" in [s.name for s in demo_steps()]
