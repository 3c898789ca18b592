"""Demo scenario: the demo town fed from the VETRO simulator (`OANM_DEMO_GIS=vetro make run`
starts it seeded with the town).

Each simulated service location carries, in its `House ID` field, the OSM id of the address
it was made from. This step gives every demo address its VETRO id through that shared key
(`external_references_adopt`, as an operator does once when connecting VETRO to an oanm that
already holds the addresses), then runs a full pull: VETRO's address fields win, nothing is
duplicated, and from then on each address's commercial state goes to VETRO through the
outbox. With USE_VETRO off (the default) the step says so and changes nothing.
"""

from __future__ import annotations

from django.conf import settings

from common.demo import DemoContext, demo_step
from gis_core.services import external_references_adopt
from integrations.vetro.client import VetroClient, VetroError, vetro_id
from integrations.vetro.importer import SYSTEM, sync_vetro, vetro_enabled

SHARED_KEY = "House ID"  # the simulator's seed keeps each OSM address's id here
SHARED_SYSTEM = "osm"


@demo_step(order=26, name="GIS of record: addresses linked to VETRO and synced")
def link_vetro(context: DemoContext) -> None:
    if not vetro_enabled():
        context.say("VETRO is off (USE_VETRO, VETRO_BASE_URL): the addresses stay as loaded")
        return
    client = VetroClient.from_settings()
    try:
        pairs = [
            (vetro_id(feature), str(feature["properties"][SHARED_KEY]))
            for page in client.pages(limit=settings.VETRO_PAGE_SIZE)
            for feature in page.features
            if vetro_id(feature) and (feature.get("properties") or {}).get(SHARED_KEY)
        ]
    except VetroError as exc:
        context.say(f"VETRO at {settings.VETRO_BASE_URL} cannot be read ({exc}): skipped")
        return
    adopted = external_references_adopt(system=SYSTEM, by_system=SHARED_SYSTEM, pairs=pairs)
    run = sync_vetro(full=True, client=client)
    context.say(
        f"{adopted} addresses linked to their VETRO service location; full sync {run.status}: "
        f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
        f"{run.rejected} rejected"
    )
