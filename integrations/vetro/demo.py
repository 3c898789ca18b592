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
from integrations.gis_sync import DEMO_SHARED_SYSTEM, demo_adopt_and_sync
from integrations.vetro.client import VetroClient, VetroError, vetro_id
from integrations.vetro.importer import SYSTEM, sync_vetro, vetro_enabled

SHARED_KEY = "House ID"  # the simulator's seed keeps each OSM address's id here
SHARED_SYSTEM = DEMO_SHARED_SYSTEM


@demo_step(order=26, name="GIS of record: addresses linked to VETRO and synced")
def link_vetro(context: DemoContext) -> None:
    demo_adopt_and_sync(
        context,
        system=SYSTEM,
        label="VETRO",
        enabled=vetro_enabled(),
        switches="USE_VETRO, VETRO_BASE_URL",
        linked_to="VETRO service location",
        base_url=settings.VETRO_BASE_URL,
        make_client=VetroClient.from_settings,
        page_size=settings.VETRO_PAGE_SIZE,
        pair=_pair,
        error=VetroError,
        sync=sync_vetro,
    )


def _pair(feature: dict) -> tuple[str, str] | None:
    """(the service location's VETRO id, the OSM id it was made from), None without both."""
    osm_id = (feature.get("properties") or {}).get(SHARED_KEY)
    return (vetro_id(feature), str(osm_id)) if vetro_id(feature) and osm_id else None
