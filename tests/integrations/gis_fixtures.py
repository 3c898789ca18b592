"""What the GIS-of-record tests (IQGeo, VETRO) share: the demo town's seed, recorded payloads,
a simulator on a free port of 127.0.0.1 configured as the system, and the demo step's check."""

import json
from collections.abc import Callable
from pathlib import Path

from common.demo import DemoContext
from gis_core.demo import load_addresses
from gis_core.models import Address, ExternalReference
from integrations.iqgeo.models import SyncRun

TOWN = Path(__file__).resolve().parents[2] / "data" / "berlin-wedding" / "addresses.geojson"


def seeded(seed_from_file: Callable[[Path], list[dict]], count: int | None) -> list[dict]:
    """The demo town as a simulator's seed (its first `count` features when given)."""
    features = seed_from_file(TOWN)
    return features if count is None else features[:count]


def recorded(name: str) -> dict:
    return json.loads((Path(__file__).parent / "payloads" / name).read_text())


def serve(settings, simulator_class, server_class, configure: Callable):
    """A simulator fixture's body: yields `start(features, **options)`, which starts a
    simulator, configures it as the system (`configure(settings, server)`) and returns it;
    every server started is stopped afterwards."""
    servers = []

    def start(features, **options):
        server = server_class(simulator_class(features, **options)).start()
        servers.append(server)
        configure(settings, server)
        server.simulator.delay = 0.6
        return server.simulator

    yield start
    for server in servers:
        server.stop()


def check_demo_adopts_and_syncs(
    *,
    step: Callable[[DemoContext], None],
    start: Callable,
    seed: list[dict],
    system: str,
    linked_to: str,
    osm_id: Callable[[dict], str],
    remote_id: Callable[[dict], str],
) -> SyncRun:
    """The demo town's addresses adopt their `system` ids through the OSM id each simulated
    feature carries; the step's full sync updates them (nothing duplicated), and a second
    run adopts and changes nothing. Returns the first run."""
    said = []
    context = DemoContext(say=said.append)
    load_addresses(context)
    addresses = Address.objects.count()
    simulator = start(seed)

    step(context)

    assert Address.objects.count() == addresses  # nothing duplicated
    linked = ExternalReference.objects.filter(system=system).count()
    assert linked == len(simulator.features) == addresses
    run = SyncRun.objects.get(system=system)
    assert (run.status, run.created, run.rejected) == ("succeeded", 0, 0)
    assert said[-1].startswith(f"{addresses} addresses linked to their {linked_to}")
    # Each feature is bound to the address it was made from.
    feature = simulator.features[17]
    address = Address.objects.get(
        external_refs__system="osm", external_refs__external_id=osm_id(feature)
    )
    assert address.external_refs.get(system=system).external_id == remote_id(feature)

    step(context)  # a second load adopts nothing and changes nothing
    again = SyncRun.objects.filter(system=system).order_by("-id").first()
    assert (again.created, again.updated, again.unchanged) == (0, 0, addresses)
    assert said[-1].startswith("0 addresses linked")
    return run
