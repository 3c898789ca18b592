"""The areas app's reactions to gis_core's events: keep the area link and the figures right."""

from areas import assignment
from areas.figures import refresh_figures
from common.events import IN_TRANSACTION, Event, subscribe
from gis_core.events import ADDRESS_CREATED, ADDRESS_MOVED, ADDRESSES_IMPORTED, ADDRESSES_STAGED


@subscribe(ADDRESS_CREATED, kind=IN_TRANSACTION, name="areas.assign_created_address")
def assign_created_address(event: Event) -> None:
    """A new address joins the area that contains it; that area's homes go up."""
    refresh_figures(assignment.assign_addresses([event.payload["address_id"]]).areas)


@subscribe(ADDRESS_MOVED, kind=IN_TRANSACTION, name="areas.assign_moved_address")
def assign_moved_address(event: Event) -> None:
    """A moved address follows its new location into (or out of) an area, demand and all."""
    refresh_figures(assignment.assign_addresses([event.payload["address_id"]]).areas)


@subscribe(ADDRESSES_STAGED, kind=IN_TRANSACTION, name="areas.assign_staged_addresses")
def assign_staged_addresses(event: Event) -> None:
    """The addresses a bulk import is about to write get their area before they are written."""
    assignment.assign_staged_rows(event.payload["work_table"], event.payload["area_table"])


@subscribe(ADDRESSES_IMPORTED, kind=IN_TRANSACTION, name="areas.refresh_imported_figures")
def refresh_imported_figures(event: Event) -> None:
    """The areas an import added to, took from or changed homes in get their figures recounted."""
    refresh_figures(event.payload.get("area_ids") or [])
