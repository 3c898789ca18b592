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
from integrations.gis_sync import DEMO_SHARED_SYSTEM, demo_adopt_and_sync
from integrations.iqgeo.client import IQGeoClient, IQGeoError
from integrations.iqgeo.importer import SYSTEM, sync_iqgeo

# The IQGeo simulator's seed keeps each OSM address's id in this property.
SHARED_KEY = "osm_id"
SHARED_SYSTEM = DEMO_SHARED_SYSTEM


@demo_step(order=25, name="GIS of record: addresses linked to IQGeo and synced")
def link_iqgeo(context: DemoContext) -> None:
    demo_adopt_and_sync(
        context,
        system=SYSTEM,
        label="IQGeo",
        enabled=bool(settings.USE_IQGEO and settings.IQGEO_BASE_URL),
        switches="USE_IQGEO, IQGEO_BASE_URL",
        linked_to="IQGeo feature",
        base_url=settings.IQGEO_BASE_URL,
        make_client=IQGeoClient.from_settings,
        page_size=settings.IQGEO_PAGE_SIZE,
        pair=_pair,
        error=IQGeoError,
        sync=sync_iqgeo,
    )


def _pair(feature: dict) -> tuple[str, str] | None:
    """(the feature's id, the OSM id it was made from), None without one."""
    osm_id = (feature.get("properties") or {}).get(SHARED_KEY)
    return (str(feature["id"]), str(osm_id)) if osm_id else None


# The VETRO step lives with VETRO; importing it registers it (order 26).
from integrations.vetro import demo as _vetro_demo  # noqa: E402, F401
