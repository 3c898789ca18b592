"""Demo scenario: the demo town's GIS of record is the IQGeo simulator (`make run` starts it).

The simulator is seeded from the same OpenStreetMap file as the addresses (step 20), and each
of its features carries the OSM id it was made from. This step gives every demo address its
IQGeo feature id through that shared key (`external_references_adopt`, as an operator does
once when connecting IQGeo to an oanm that already holds the addresses), then runs a full
sync: IQGeo's address fields win, nothing is duplicated, and from then on the commercial
state of each address goes back to IQGeo through the outbox. With USE_IQGEO off (the tests'
default) the step says so and changes nothing.
"""

from __future__ import annotations

from django.conf import settings

from common.demo import DemoContext, demo_step
from gis_core.services import external_references_adopt
from integrations.iqgeo.client import IQGeoClient, IQGeoError
from integrations.iqgeo.importer import SYSTEM, sync_iqgeo

# The IQGeo simulator's seed keeps each OSM address's id in this property.
SHARED_KEY = "osm_id"
SHARED_SYSTEM = "osm"


@demo_step(order=25, name="GIS of record: addresses linked to IQGeo and synced")
def link_iqgeo(context: DemoContext) -> None:
    if not settings.USE_IQGEO or not settings.IQGEO_BASE_URL:
        context.say("IQGeo is off (USE_IQGEO, IQGEO_BASE_URL): the addresses stay as loaded")
        return
    client = IQGeoClient.from_settings()
    try:
        pairs = [
            (str(feature["id"]), str(feature["properties"][SHARED_KEY]))
            for page in client.pages(limit=settings.IQGEO_PAGE_SIZE)
            for feature in page.features
            if (feature.get("properties") or {}).get(SHARED_KEY)
        ]
    except IQGeoError as exc:
        context.say(f"IQGeo at {settings.IQGEO_BASE_URL} cannot be read ({exc}): skipped")
        return
    adopted = external_references_adopt(system=SYSTEM, by_system=SHARED_SYSTEM, pairs=pairs)
    run = sync_iqgeo(full=True, client=client)
    context.say(
        f"{adopted} addresses linked to their IQGeo feature; full sync {run.status}: "
        f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
        f"{run.rejected} rejected"
    )
