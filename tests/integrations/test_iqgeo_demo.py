"""The demo town fed from the IQGeo simulator: its addresses adopt their feature ids through
the OSM id each feature carries, and the first full sync updates them instead of duplicating."""

import pytest

from common.demo import DemoContext
from gis_core.services import external_references_adopt
from integrations.demo import link_iqgeo
from integrations.iqgeo.models import SyncRun
from tests.gis_core.factories import AddressFactory
from tests.integrations.gis_fixtures import check_demo_adopts_and_syncs
from tests.integrations.iqgeo_fixtures import (
    iqgeo_server,  # noqa: F401  (the fixture "iqgeo")
    town_seed,
)

pytestmark = pytest.mark.django_db


def test_the_demo_town_adopts_its_iqgeo_features_and_syncs_without_duplicates(iqgeo, settings):
    def start(seed):
        simulator = iqgeo(seed)
        settings.IQGEO_PAGE_SIZE = 500
        return simulator

    check_demo_adopts_and_syncs(
        step=link_iqgeo,
        start=start,
        seed=town_seed(),
        system="iqgeo",
        linked_to="IQGeo feature",
        osm_id=lambda feature: feature["properties"]["osm_id"],
        remote_id=lambda feature: str(feature["id"]),
    )


def test_adopting_leaves_taken_ids_and_linked_addresses_alone():
    first = AddressFactory(external_refs={"osm": "n1", "iqgeo": "7"})
    second = AddressFactory(external_refs={"osm": "n2"})
    third = AddressFactory(external_refs={"osm": "n3"})
    made = external_references_adopt(
        system="iqgeo",
        by_system="osm",
        pairs=[("8", "n1"), ("7", "n2"), ("9", "n3"), ("10", "unknown"), ("", "n2")],
    )
    assert made == 1  # n1 has an IQGeo id already, 7 is taken, unknown has no address
    assert first.external_refs.get(system="iqgeo").external_id == "7"
    assert not second.external_refs.filter(system="iqgeo").exists()
    assert third.external_refs.get(system="iqgeo").external_id == "9"


def test_with_iqgeo_off_the_step_changes_nothing(settings):
    settings.USE_IQGEO = False
    said = []
    link_iqgeo(DemoContext(say=said.append))
    assert said == ["IQGeo is off (USE_IQGEO, IQGEO_BASE_URL): the addresses stay as loaded"]
    assert not SyncRun.objects.exists()
