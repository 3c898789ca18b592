"""Writes of the sync API: an address upserted by the id another GIS knows it by."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from common.errors import Conflict, DomainError
from gis_core.geometry import parse_point
from gis_core.importing import SYSTEM_PATTERN
from gis_core.lifecycle import PremisesType
from gis_core.models import Address, ExternalReference
from gis_core.services import address_create, address_update, addresses_reinstate

# The fields a GIS sends, with what an omitted one means (PUT: the whole representation).
ADDRESS_DEFAULTS: dict[str, Any] = {
    "house_number": "",
    "unit": "",
    "postcode": "",
    "city": "",
    "country": "",
    "premises_type": PremisesType.SINGLE_FAMILY,
    "units": 1,
    "attributes": {},
}
LOCATION_TOLERANCE = 1e-9  # degrees: a resent point is the same point


@dataclass(frozen=True)
class UpsertResult:
    address: Address
    created: bool
    changed: bool


def _normalised(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as `address_create`/`address_update` store them (stripped, upper country)."""
    out = {**ADDRESS_DEFAULTS, **fields}
    for name, value in out.items():
        if isinstance(value, str):
            out[name] = value.strip()
    out["country"] = out["country"].upper()
    return out


@transaction.atomic
def address_upsert_by_reference(
    *,
    system: str,
    external_id: str,
    geometry: Any,
    street: str,
    crs: Any = None,
    address_id: int | None = None,
    **fields: Any,
) -> UpsertResult:
    """Create or update the address that `system` knows as `external_id`, through the
    gis_core services. Idempotent: the same input again writes nothing (`changed` False).
    `address_id` links the reference to an existing oanm address on first use.

    Concurrent calls for one reference are serialised by a transaction-level advisory lock,
    so two retries racing each other make one address. Raises `Conflict` (409) when the
    reference names another address than `address_id`, or that address already has another
    id in `system`; `DomainError`/`InvalidGeometry` (400) for fields or geometry.
    """
    if not SYSTEM_PATTERN.match(system or ""):
        raise DomainError(
            f"system must be a slug of letters, digits, - and _ (at most 40), not {system!r}",
            field="system",
        )
    external_id = (external_id or "").strip()
    if not external_id or len(external_id) > 200:
        raise DomainError("external_id must be 1 to 200 characters", field="external_id")
    unknown = set(fields) - set(ADDRESS_DEFAULTS)
    if unknown:
        raise DomainError(f"cannot set {', '.join(sorted(unknown))} of an address")
    location = parse_point(geometry, crs=crs)
    wanted = _normalised({"street": street, **fields})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"oanm.sync.address:{system}:{external_id}"],
        )
    reference = (
        ExternalReference.objects.select_related("address")
        .filter(system=system, external_id=external_id)
        .first()
    )
    if reference is not None:
        if address_id is not None and reference.address_id != address_id:
            raise Conflict(
                f"{system}:{external_id} already names address {reference.address_id},"
                f" not {address_id}",
                field="address_id",
            )
        address = reference.address
        if address.retired_at is not None:  # its feature is back: live again
            addresses_reinstate(address_ids=[address.pk])
            address.refresh_from_db()
            result = _update(address, location, wanted)
            return UpsertResult(address=result.address, created=False, changed=True)
        return _update(address, location, wanted)
    if address_id is None:
        address = address_create(location=location, external_refs={system: external_id}, **wanted)
        return UpsertResult(address=address, created=True, changed=True)
    address = Address.objects.select_for_update().filter(pk=address_id).first()
    if address is None:
        raise DomainError(f"there is no address {address_id}", field="address_id")
    other = ExternalReference.objects.filter(address=address, system=system).first()
    if other is not None:
        raise Conflict(
            f"address {address_id} is already {system}:{other.external_id}", field="address_id"
        )
    ExternalReference.objects.create(address=address, system=system, external_id=external_id)
    result = _update(address, location, wanted)
    return UpsertResult(address=result.address, created=False, changed=True)


def _update(address: Address, location, wanted: dict[str, Any]) -> UpsertResult:
    changes = {name: value for name, value in wanted.items() if getattr(address, name) != value}
    if not location.equals_exact(address.location, LOCATION_TOLERANCE):
        changes["location"] = location
    if not changes:
        return UpsertResult(address=address, created=False, changed=False)
    address = address_update(address=address, **changes)
    return UpsertResult(address=address, created=False, changed=True)
