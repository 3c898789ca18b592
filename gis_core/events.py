"""Events gis_core publishes. Topics are never renamed or reused."""

from dataclasses import dataclass

ADDRESS_CREATED = "address.created"
ADDRESS_MOVED = "address.moved"
ADDRESS_STATUS_CHANGED = "address.status_changed"
ADDRESSES_IMPORTED = "addresses.imported"
ADDRESSES_STAGED = "addresses.staged"


@dataclass(frozen=True)
class AddressCreated:
    address_id: int


@dataclass(frozen=True)
class AddressMoved:
    address_id: int
    old_location: list[float]
    new_location: list[float]


@dataclass(frozen=True)
class AddressStatusChanged:
    address_id: int
    from_status: str
    to_status: str
    area_id: int | None
    actor_id: int | None
    reason: str


@dataclass(frozen=True)
class AddressesStaged:
    """A bulk import has checked its rows and is about to write them (in its transaction).

    The import's checked rows are in `work_table` (a temp table with file_row,
    reject_reason, location (4326), address_id (matched), is_written and
    previous_area_id); in-transaction handlers may record the area of the rows to be
    written, set-based, in `area_table` (an empty temp table of file_row, area_id; NULL
    for "in no area"). `is_written` marks the rows the import will write (new, or different
    from the stored address); only those take the area recorded here. A written row with
    no entry keeps `previous_area_id`, the matched address's current area (NULL for a new
    row), so with no handler no link is lost.
    """

    import_id: str
    work_table: str
    area_table: str


@dataclass(frozen=True)
class AddressesImported:
    """A bulk import changed many addresses; those it created or changed carry its id.

    `area_ids` are the areas those rows left or joined (their area before and after,
    sorted, no NULL), so per-area figures can be refreshed for exactly them.
    """

    import_id: str
    created: int
    updated: int
    moved: int
    area_ids: list[int]


ADDRESSES_STATUS_CHANGED = "addresses.status_changed"


@dataclass(frozen=True)
class AddressesStatusChanged:
    """Many addresses moved from one status to another in one set-based step (a deployment
    starting across an area, say); `address_ids` are exactly those that moved."""

    address_ids: list[int]
    from_status: str
    to_status: str
    actor_id: int | None
    reason: str


ADDRESSES_RETIRED = "addresses.retired"
ADDRESSES_REINSTATED = "addresses.reinstated"


@dataclass(frozen=True)
class AddressesRetired:
    """Addresses left their GIS of record (or were taken out by hand): they are off search,
    the tiles and new orders, and kept with their orders and history. `address_ids` are
    exactly those this step retired (sorted); already retired ones are not repeated."""

    address_ids: list[int]
    reason: str
    actor_id: int | None


@dataclass(frozen=True)
class AddressesReinstated:
    """Retired addresses are live again (their feature came back, or by hand);
    `address_ids` are exactly those this step reinstated (sorted)."""

    address_ids: list[int]
    actor_id: int | None
