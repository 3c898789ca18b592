"""The demo town fed from the VETRO simulator: its addresses adopt their VETRO ids through
the OSM id each service location carries, and the first full pull updates them instead of
duplicating."""

import pytest

from common.demo import DemoContext, demo_steps
from gis_core.demo import load_addresses
from gis_core.models import Address, ExternalReference
from integrations.iqgeo.models import SyncRun
from integrations.vetro.demo import link_vetro
from tests.integrations.vetro_fixtures import (
    town_seed,
    vetro_server,  # noqa: F401  (the fixture "vetro")
)

pytestmark = pytest.mark.django_db


def test_the_demo_town_adopts_its_vetro_ids_and_syncs_without_duplicates(vetro, settings):
    said = []
    context = DemoContext(say=said.append)
    load_addresses(context)
    addresses = Address.objects.count()
    simulator = vetro(town_seed())
    settings.VETRO_PAGE_SIZE = 500

    link_vetro(context)

    assert Address.objects.count() == addresses  # nothing duplicated
    linked = ExternalReference.objects.filter(system="vetro").count()
    assert linked == len(simulator.features) == addresses
    run = SyncRun.objects.get(system="vetro")
    assert (run.status, run.created, run.rejected, run.retired) == ("succeeded", 0, 0, 0)
    assert said[-1].startswith(f"{addresses} addresses linked to their VETRO service location")
    feature = simulator.features[17]
    address = Address.objects.get(
        external_refs__system="osm", external_refs__external_id=feature["properties"]["House ID"]
    )
    assert address.external_refs.get(system="vetro").external_id == feature["vetro_id"]

    link_vetro(context)  # a second load adopts nothing and changes nothing
    again = SyncRun.objects.filter(system="vetro").order_by("-id").first()
    assert (again.created, again.updated, again.unchanged) == (0, 0, addresses)
    assert said[-1].startswith("0 addresses linked")


def test_with_vetro_off_the_step_changes_nothing_and_it_is_in_the_scenario(settings):
    settings.USE_VETRO = False
    said = []
    link_vetro(DemoContext(say=said.append))
    assert said == ["VETRO is off (USE_VETRO, VETRO_BASE_URL): the addresses stay as loaded"]
    assert not SyncRun.objects.exists()
    assert "GIS of record: addresses linked to VETRO and synced" in [s.name for s in demo_steps()]
