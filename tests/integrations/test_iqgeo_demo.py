"""The demo town fed from the IQGeo simulator: its addresses adopt their feature ids through
the OSM id each feature carries, and the first full sync updates them instead of duplicating."""

import pytest

from common.demo import DemoContext
from gis_core.demo import load_addresses
from gis_core.models import Address, ExternalReference
from gis_core.services import external_references_adopt
from integrations.demo import link_iqgeo
from integrations.iqgeo.models import SyncRun
from tests.gis_core.factories import AddressFactory
from tests.integrations.iqgeo_fixtures import (
    iqgeo_server,  # noqa: F401  (the fixture "iqgeo")
    town_seed,
)

pytestmark = pytest.mark.django_db


def test_the_demo_town_adopts_its_iqgeo_features_and_syncs_without_duplicates(iqgeo, settings):
    said = []
    context = DemoContext(say=said.append)
    load_addresses(context)
    addresses = Address.objects.count()
    simulator = iqgeo(town_seed())
    settings.IQGEO_PAGE_SIZE = 500
    link_iqgeo(context)
    assert Address.objects.count() == addresses  # nothing duplicated
    linked = ExternalReference.objects.filter(system="iqgeo").count()
    assert linked == len(simulator.features) == addresses
    run = SyncRun.objects.get()
    assert (run.status, run.created, run.rejected) == ("succeeded", 0, 0)
    assert said[-1].startswith(f"{addresses} addresses linked to their IQGeo feature")
    # Each feature is bound to the address it was made from.
    feature = simulator.features[17]
    address = Address.objects.get(
        external_refs__system="osm", external_refs__external_id=feature["properties"]["osm_id"]
    )
    assert address.external_refs.get(system="iqgeo").external_id == str(feature["id"])
    # A second load adopts nothing and changes nothing.
    link_iqgeo(context)
    again = SyncRun.objects.order_by("-id").first()
    assert (again.created, again.updated, again.unchanged) == (0, 0, addresses)
    assert said[-1].startswith("0 addresses linked")


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
