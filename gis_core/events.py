"""Events gis_core publishes. Topics are never renamed or reused."""

from dataclasses import dataclass

ADDRESS_CREATED = "address.created"
ADDRESS_MOVED = "address.moved"
ADDRESS_STATUS_CHANGED = "address.status_changed"
ADDRESSES_IMPORTED = "addresses.imported"


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
class AddressesImported:
    """A bulk import changed many addresses; those it created or changed carry its id."""

    import_id: str
    created: int
    updated: int
    moved: int
