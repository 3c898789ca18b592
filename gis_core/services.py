"""Writes of gis_core: creating and moving addresses, and the address lifecycle."""

from __future__ import annotations

from typing import Any

from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from common.errors import Conflict, DomainError
from common.events import publish
from gis_core.events import (
    ADDRESS_CREATED,
    ADDRESS_MOVED,
    ADDRESS_STATUS_CHANGED,
    ADDRESSES_REINSTATED,
    ADDRESSES_RETIRED,
    ADDRESSES_STATUS_CHANGED,
    AddressCreated,
    AddressesReinstated,
    AddressesRetired,
    AddressesStatusChanged,
    AddressMoved,
    AddressStatusChanged,
)
from gis_core.geometry import parse_point
from gis_core.lifecycle import ADDRESS_TRANSITIONS, AddressStatus, PremisesType
from gis_core.models import Address, AddressStatusChange, ExternalReference

EDITABLE_FIELDS = ("street", "house_number", "unit", "postcode", "city", "country", "attributes")


def address_validate_fields(*, street: str, premises_type: str, units: int, country: str) -> None:
    """Raise `DomainError` (naming the field) when address fields cannot be stored."""
    if not street or not street.strip():
        raise DomainError("an address needs a street", field="street")
    if premises_type not in PremisesType.values:
        raise DomainError(
            f"unknown premises type {premises_type!r} (one of {', '.join(PremisesType.values)})",
            field="premises_type",
        )
    if units < 1:
        raise DomainError("an address has at least one unit", field="units")
    if premises_type == PremisesType.SINGLE_FAMILY and units != 1:
        raise DomainError("a single-family home has exactly one unit", field="units")
    if country and (len(country) != 2 or not country.isalpha()):
        raise DomainError(
            f"country must be a two-letter ISO code, not {country!r}", field="country"
        )


@transaction.atomic
def address_create(
    *,
    location: Any,
    street: str,
    house_number: str = "",
    unit: str = "",
    postcode: str = "",
    city: str = "",
    country: str = "",
    premises_type: str = PremisesType.SINGLE_FAMILY,
    units: int = 1,
    attributes: dict | None = None,
    external_refs: dict[str, str] | None = None,
    crs: Any = None,
) -> Address:
    """Create an address at a location (any geometry input; its CRS honoured)."""
    point = parse_point(location, crs=crs)
    address_validate_fields(
        street=street, premises_type=premises_type, units=units, country=country
    )
    for system, external_id in (external_refs or {}).items():
        if ExternalReference.objects.filter(system=system, external_id=external_id).exists():
            raise Conflict(
                f"{system}:{external_id} already names another address", field="external_refs"
            )
    address = Address.objects.create(
        location=point,
        street=street.strip(),
        house_number=house_number.strip(),
        unit=unit.strip(),
        postcode=postcode.strip(),
        city=city.strip(),
        country=country.upper(),
        premises_type=premises_type,
        units=units,
        attributes=attributes or {},
    )
    ExternalReference.objects.bulk_create(
        ExternalReference(address=address, system=system, external_id=external_id)
        for system, external_id in (external_refs or {}).items()
    )
    publish(ADDRESS_CREATED, AddressCreated(address_id=address.pk))
    address.refresh_from_db()
    return address


@transaction.atomic
def address_update(*, address: Address, **changes: Any) -> Address:
    """Change an address's fields; a new `location` moves it (and its area link follows)."""
    unknown = set(changes) - {*EDITABLE_FIELDS, "location", "crs", "premises_type", "units"}
    if unknown:
        raise DomainError(f"cannot change {', '.join(sorted(unknown))} of an address")
    address = Address.objects.select_for_update().get(pk=address.pk)
    crs = changes.pop("crs", None)
    new_location: Point | None = None
    if "location" in changes:
        new_location = parse_point(changes.pop("location"), crs=crs)
    for field, value in changes.items():
        setattr(address, field, value.strip() if isinstance(value, str) else value)
    address.country = address.country.upper()
    address_validate_fields(
        street=address.street,
        premises_type=address.premises_type,
        units=address.units,
        country=address.country,
    )
    old_location = address.location
    moved = new_location is not None and not new_location.equals_exact(old_location, 1e-9)
    if moved:
        address.location = new_location
    address.save()
    if moved:
        publish(
            ADDRESS_MOVED,
            AddressMoved(
                address_id=address.pk,
                old_location=list(old_location.coords),
                new_location=list(new_location.coords),
            ),
        )
    address.refresh_from_db()
    return address


@transaction.atomic
def external_references_adopt(*, system: str, by_system: str, pairs: list[tuple[str, str]]) -> int:
    """Give existing addresses their id in `system`, found through an id they already have.

    `pairs` are (id in `system`, id in `by_system`): e.g. an IQGeo feature that carries the
    OSM id of the address it was made from. An address that already has a `system` id, and
    a `system` id already taken, are left alone, so adopting twice changes nothing. One
    INSERT … SELECT whatever the number of pairs; returns the references made. Used when a
    GIS of record is connected to an oanm that already holds its addresses, so its first sync
    updates them instead of creating duplicates.
    """
    if not pairs:
        return 0
    new_ids, old_ids = zip(*pairs, strict=True)
    table = ExternalReference._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (address_id, system, external_id)
            SELECT DISTINCT ON (known.address_id) known.address_id, %s, pair.new_id
              FROM unnest(%s::text[], %s::text[]) AS pair(new_id, old_id)
              JOIN {table} AS known ON known.system = %s AND known.external_id = pair.old_id
             WHERE pair.new_id <> ''
             ORDER BY known.address_id, pair.new_id
            ON CONFLICT DO NOTHING
            """,
            [system, list(new_ids), list(old_ids), by_system],
        )
        return cursor.rowcount


def _transition(*, address: Address, to: str, actor: User | None, reason: str) -> Address:
    """The one place an address's status is assigned: lock, check, set, history, event."""
    address = Address.objects.select_for_update().get(pk=address.pk)
    source = address.status
    ADDRESS_TRANSITIONS.check(source, to)
    now = timezone.now()
    address.status = to
    address.status_changed_at = now
    address.save(update_fields=["status", "status_changed_at", "updated_at"])
    AddressStatusChange.objects.create(
        address=address,
        from_status=source,
        to_status=to,
        actor=actor,
        reason=reason,
        changed_at=now,
    )
    publish(
        ADDRESS_STATUS_CHANGED,
        AddressStatusChanged(
            address_id=address.pk,
            from_status=source,
            to_status=to,
            area_id=address.area_id,
            actor_id=actor.pk if actor else None,
            reason=reason,
        ),
    )
    return address


@transaction.atomic
def address_await_deployment(
    *, address: Address, actor: User | None = None, reason: str = ""
) -> Address:
    """An order (signup) puts the address in the build queue."""
    return _transition(
        address=address, to=AddressStatus.AWAITING_DEPLOYMENT, actor=actor, reason=reason
    )


@transaction.atomic
def address_return_to_planned(
    *, address: Address, actor: User | None = None, reason: str = ""
) -> Address:
    """The last order was withdrawn before deployment: the address is only planned again."""
    return _transition(address=address, to=AddressStatus.PLANNED, actor=actor, reason=reason)


@transaction.atomic
def address_start_deployment(
    *, address: Address, actor: User | None = None, reason: str = ""
) -> Address:
    """Construction of the drop has been scheduled for this address."""
    return _transition(address=address, to=AddressStatus.IN_DEPLOYMENT, actor=actor, reason=reason)


@transaction.atomic
def address_stop_deployment(
    *, address: Address, actor: User | None = None, reason: str = ""
) -> Address:
    """A deployment was called off before the drop was in: back to the queue."""
    return _transition(
        address=address, to=AddressStatus.AWAITING_DEPLOYMENT, actor=actor, reason=reason
    )


@transaction.atomic
def address_connect(*, address: Address, actor: User | None = None, reason: str = "") -> Address:
    """Physical completion: drop and ONT are in, the address can be activated by an ISP."""
    return _transition(address=address, to=AddressStatus.CONNECTED, actor=actor, reason=reason)


@transaction.atomic
def address_activate(*, address: Address, actor: User | None = None, reason: str = "") -> Address:
    """Logical activation: an ISP's service is live at the address."""
    return _transition(address=address, to=AddressStatus.ACTIVATED, actor=actor, reason=reason)


@transaction.atomic
def address_deactivate(*, address: Address, actor: User | None = None, reason: str = "") -> Address:
    """The address's last service ended: it is connected but carries no service."""
    return _transition(address=address, to=AddressStatus.CONNECTED, actor=actor, reason=reason)


@transaction.atomic
def addresses_move(
    *,
    address_ids: list[int],
    from_status: str,
    to_status: str,
    actor: User | None = None,
    reason: str = "",
) -> list[int]:
    """Move many addresses from one status to another in one set-based step (a deployment
    starting across an area): those not in `from_status` are left alone; each moved one
    gets its history row; one `addresses.status_changed` event lists them. Returns the ids
    that moved, sorted."""
    ADDRESS_TRANSITIONS.check(from_status, to_status)
    if not address_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH moved AS (
                UPDATE {Address._meta.db_table} a
                   SET status = %(to)s, status_changed_at = %(now)s, updated_at = %(now)s
                 WHERE a.id = ANY(%(ids)s) AND a.status = %(from)s
                RETURNING a.id
            ), history AS (
                INSERT INTO {AddressStatusChange._meta.db_table}
                       (address_id, from_status, to_status, actor_id, reason, changed_at)
                SELECT id, %(from)s, %(to)s, %(actor)s, %(reason)s, %(now)s FROM moved
            )
            SELECT id FROM moved ORDER BY id
            """,
            {
                "ids": list(address_ids),
                "from": from_status,
                "to": to_status,
                "actor": actor.pk if actor else None,
                "reason": reason[:500],
                "now": timezone.now(),
            },
        )
        moved = [row[0] for row in cursor.fetchall()]
    if moved:
        publish(
            ADDRESSES_STATUS_CHANGED,
            AddressesStatusChanged(
                address_ids=moved,
                from_status=from_status,
                to_status=to_status,
                actor_id=actor.pk if actor else None,
                reason=reason,
            ),
        )
    return moved


RETIRED_REASON_MAX = Address._meta.get_field("retired_reason").max_length


@transaction.atomic
def addresses_retire(*, address_ids: list[int], reason: str, actor: User | None = None) -> int:
    """Retire addresses (gone from their GIS of record): set-based, in one UPDATE.

    A retired address is kept, with its orders, history and references, but is left out
    of address search and the address tiles and takes no new order. Idempotent: addresses
    already retired keep their time and reason and are not counted. One
    `addresses.retired` event lists those this call retired. Returns how many it retired.
    """
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("say why the addresses are retired", field="reason")
    if not address_ids:
        return 0
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Address._meta.db_table}
               SET retired_at = %(now)s, retired_reason = %(reason)s, updated_at = %(now)s
             WHERE id = ANY(%(ids)s) AND retired_at IS NULL
            RETURNING id
            """,
            {"ids": list(address_ids), "reason": reason[:RETIRED_REASON_MAX], "now": now},
        )
        retired = sorted(row[0] for row in cursor.fetchall())
    if retired:
        publish(
            ADDRESSES_RETIRED,
            AddressesRetired(
                address_ids=retired, reason=reason, actor_id=actor.pk if actor else None
            ),
        )
    return len(retired)


@transaction.atomic
def addresses_reinstate(*, address_ids: list[int], actor: User | None = None) -> int:
    """Make retired addresses live again (their feature came back): set-based, idempotent
    (live addresses are left alone and not counted); one `addresses.reinstated` event.
    Returns how many it reinstated."""
    if not address_ids:
        return 0
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Address._meta.db_table}
               SET retired_at = NULL, retired_reason = '', updated_at = %(now)s
             WHERE id = ANY(%(ids)s) AND retired_at IS NOT NULL
            RETURNING id
            """,
            {"ids": list(address_ids), "now": now},
        )
        reinstated = sorted(row[0] for row in cursor.fetchall())
    if reinstated:
        publish(
            ADDRESSES_REINSTATED,
            AddressesReinstated(address_ids=reinstated, actor_id=actor.pk if actor else None),
        )
    return len(reinstated)


def address_check_orderable(address: Address) -> None:
    """Raise `DomainError` (code `address_retired`) when an address takes no new order."""
    if address.retired_at is not None:
        raise DomainError(
            "this address no longer exists in the network records"
            + (f" ({address.retired_reason})" if address.retired_reason else "")
            + " and takes no new orders",
            code="address_retired",
            field="address",
        )
