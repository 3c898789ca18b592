"""The areas app's reactions to gis_core's events: keep the area link and the figures right."""

from areas import assignment
from areas.figures import refresh_figures
from common.events import IN_TRANSACTION, Event, subscribe
from gis_core.events import ADDRESS_CREATED, ADDRESS_MOVED, ADDRESSES_IMPORTED


@subscribe(ADDRESS_CREATED, kind=IN_TRANSACTION, name="areas.assign_created_address")
def assign_created_address(event: Event) -> None:
    """A new address joins the area that contains it; that area's homes go up."""
    refresh_figures(assignment.assign_addresses([event.payload["address_id"]]).areas)


@subscribe(ADDRESS_MOVED, kind=IN_TRANSACTION, name="areas.assign_moved_address")
def assign_moved_address(event: Event) -> None:
    """A moved address follows its new location into (or out of) an area, demand and all."""
    refresh_figures(assignment.assign_addresses([event.payload["address_id"]]).areas)


@subscribe(ADDRESSES_IMPORTED, kind=IN_TRANSACTION, name="areas.assign_imported_addresses")
def assign_imported_addresses(event: Event) -> None:
    """Every address a bulk import created or moved gets its area in one statement."""
    touched = set(assignment.assign_imported_addresses(event.payload["import_id"]).areas)
    if event.payload.get("updated"):
        # Changed units (MDU homes) alter figures without moving anyone.
        touched |= _areas_of_import(event.payload["import_id"])
    refresh_figures(touched)


def _areas_of_import(import_id: str) -> set[int]:
    from gis_core.models import Address

    return set(
        Address.objects.filter(last_import_id=import_id, area__isnull=False)
        .values_list("area_id", flat=True)
        .distinct()
    )
