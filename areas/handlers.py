"""The areas app's reactions to gis_core's events: keep the address→area link right."""

from areas import assignment
from common.events import IN_TRANSACTION, Event, subscribe
from gis_core.events import ADDRESS_CREATED, ADDRESS_MOVED, ADDRESSES_STAGED


@subscribe(ADDRESS_CREATED, kind=IN_TRANSACTION, name="areas.assign_created_address")
def assign_created_address(event: Event) -> None:
    """A new address joins the area that contains it."""
    assignment.assign_addresses([event.payload["address_id"]])


@subscribe(ADDRESS_MOVED, kind=IN_TRANSACTION, name="areas.assign_moved_address")
def assign_moved_address(event: Event) -> None:
    """A moved address follows its new location into (or out of) an area."""
    assignment.assign_addresses([event.payload["address_id"]])


@subscribe(ADDRESSES_STAGED, kind=IN_TRANSACTION, name="areas.assign_staged_addresses")
def assign_staged_addresses(event: Event) -> None:
    """The addresses a bulk import is about to write get their area before they are written."""
    assignment.assign_staged_rows(event.payload["work_table"], event.payload["area_table"])
