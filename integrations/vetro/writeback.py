"""oanm → VETRO: the commercial state of an address written back to its service location.

When an address's commercial state may have changed (its status, an order's status, a
service activated, changed or ended), an in-transaction reaction asks for a push of each
such address that has a VETRO reference — only when `USE_VETRO` is on — by publishing
`vetro.push_requested` (one event per address, set-based: `common.events.publish_many`) in
the same transaction; the VETRO pull asks the same for every service location that does not
show oanm's current state (the reconciliation). Its OUTBOX handler
(`integrations.vetro.push_address`, ordering key `address:<id>`, so one address's pushes go
out one after another, in order) sends the address's CURRENT state at delivery (installation
status, service status, service type; `mapping.commercial_properties`) with
`PATCH /v2/features` (a push with a later push of the same address already waiting sends
nothing: the later one carries the state then; see `vetro_push_address` for unchanged,
refused and retired ones and the outage pause). A push that fails (VETRO down, token
refused) raises, and the outbox retries it with back-off until it succeeds: nothing is
lost, and as every push carries the state of its delivery time, a late or repeated one
never writes an old state. What was sent is kept in `SyncState.pushed` (the conflict log's
base: a later different value in VETRO was changed there).

"Within seconds": `common.events.publish_many` (like `publish`) queues the Celery outbox
drain on commit of the transaction that asked for the push (`transaction.on_commit` →
`outbox_drain_task`), so a running worker delivers it at once; the beat sweep (every
minute) catches any drain the broker missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from common.events import OUTBOX, Event, publish_many, subscribe
from common.models import OutboxMessage, OutboxStatus
from gis_core.events import ADDRESS_STATUS_CHANGED, ADDRESSES_STATUS_CHANGED
from gis_core.models import Address, ExternalReference
from integrations.gis_sync import WHOLESALE_CHANGES, OutagePause, follow_commercial_changes
from integrations.models import SyncState
from integrations.vetro.client import VetroClient, VetroRefused, VetroUnavailable
from integrations.vetro.importer import SYSTEM, vetro_enabled
from integrations.vetro.mapping import CommercialState, commercial_properties
from wholesale.lifecycle import OrderStatus, ServiceStatus
from wholesale.models import Order, Service

logger = logging.getLogger(__name__)

VETRO_PUSH_REQUESTED = "vetro.push_requested"
PUSH_HANDLER = "integrations.vetro.push_address"  # the outbox's handler name: never rename


@dataclass(frozen=True)
class VetroPushRequested:
    address_id: int
    cause: str


def vetro_push_request(*, address_ids: list[int], cause: str) -> list[int]:
    """Ask (in the caller's transaction) for the push of those addresses that have a VETRO
    reference; nothing when VETRO is off. Returns the address ids asked for."""
    if not address_ids or not vetro_enabled():
        return []
    linked = sorted(
        set(
            ExternalReference.objects.filter(system=SYSTEM, address_id__in=address_ids).values_list(
                "address_id", flat=True
            )
        )
    )
    publish_many(  # one event per address (its own ordering key), inserted set-based
        VETRO_PUSH_REQUESTED,
        [VetroPushRequested(address_id=address_id, cause=cause) for address_id in linked],
    )
    return linked


# --- what may change the commercial state ----------------------------------------------------
follow_commercial_changes(
    vetro_push_request,
    names={
        ADDRESS_STATUS_CHANGED: "integrations.vetro.address_status",
        ADDRESSES_STATUS_CHANGED: "integrations.vetro.addresses_status",
        **{topic: f"integrations.vetro.follow_{topic}" for topic in WHOLESALE_CHANGES},
    },
)


# --- the push ---------------------------------------------------------------------------------
def _ordering_key(event: Event) -> str:
    return f"address:{event.payload['address_id']}"


@subscribe(
    VETRO_PUSH_REQUESTED,
    kind=OUTBOX,
    name=PUSH_HANDLER,
    ordering_key=_ordering_key,
)
def push_address(event: Event) -> None:
    """Send the address's current commercial state to VETRO (one attempt; the outbox
    retries a failure) — unless a later push of the address is waiting already: that one
    goes out right after this one, with the state of its own delivery, so this one has
    nothing to add (several changes in one transaction, or while VETRO was down, make one
    request)."""
    superseded = (
        OutboxMessage.objects.filter(
            handler=PUSH_HANDLER,
            ordering_key=_ordering_key(event),
            status=OutboxStatus.PENDING,
            event__occurred_at__gte=event.occurred_at,
        )
        .exclude(event_id=event.id)
        .exists()
    )
    if superseded:
        return
    vetro_push_address(address_id=event.payload["address_id"], cause=event.payload["cause"])


def commercial_states(address_ids: list[int]) -> dict[int, CommercialState]:
    """The addresses' commercial state as it stands now (three reads, whatever the number)."""
    ids = list(address_ids)
    statuses = dict(Address.objects.filter(pk__in=ids).values_list("pk", "status"))
    services: dict[int, list[str]] = {}
    for address_id, product in (
        Service.objects.filter(address_id__in=ids, status=ServiceStatus.ACTIVE)
        .order_by("pk")
        .values_list("address_id", "product__name")
    ):
        services.setdefault(address_id, []).append(product)
    awaiting = set(
        Order.objects.filter(
            address_id__in=ids, status=OrderStatus.READY_FOR_ACTIVATION
        ).values_list("address_id", flat=True)
    )
    return {
        address_id: CommercialState(
            address_status=status,
            services=tuple(services.get(address_id, ())),
            awaiting_activation=address_id in awaiting,
        )
        for address_id, status in statuses.items()
    }


def commercial_state(address_id: int) -> CommercialState:
    """The address's commercial state as it stands now."""
    return commercial_states([address_id])[address_id]


# Base URL → when a push last found VETRO unavailable; a success clears it. For
# VETRO_OUTAGE_PAUSE_SECONDS after that, pushes fail at once (gis_sync.OutagePause).
_outage = OutagePause(
    label="VETRO", setting="VETRO_OUTAGE_PAUSE_SECONDS", unavailable=VetroUnavailable
)
RECONCILIATION = "reconciliation"  # the cause of the pushes a pull asks for


def vetro_push_address(
    *, address_id: int, cause: str = "", client: VetroClient | None = None
) -> str:
    """PATCH the address's service location(s) in VETRO with its current commercial state.

    Returns what happened: "sent"; "unchanged" (what was last pushed, and VETRO was not
    found showing something else: only a pull's reconciliation sends it again); "refused"
    (a 4xx: logged as an error, not retried — sending it again cannot succeed); "off";
    "no reference"; "retired" (its service location is gone). Raises `VetroError` when
    VETRO could not be reached or refused the token (the outbox retries later); while
    VETRO was found down less than VETRO_OUTAGE_PAUSE_SECONDS ago, raises at once without
    asking it, so an outage does not hold up the outbox drain (and the other systems'
    messages) for every waiting address."""
    if not vetro_enabled():
        return "off"
    references = list(
        ExternalReference.objects.filter(system=SYSTEM, address_id=address_id)
        .order_by("external_id")
        .values_list("external_id", "address__retired_at")
    )
    if not references:
        return "no reference"
    if references[0][1] is not None:
        return "retired"
    references = [reference for reference, _ in references]
    properties = commercial_properties(commercial_state(address_id))
    pushed = set(
        SyncState.objects.filter(
            system=SYSTEM, external_id__in=references, pushed=properties
        ).values_list("external_id", flat=True)
    )
    if cause != RECONCILIATION and pushed == set(references):
        return "unchanged"
    client = client or VetroClient.from_settings()
    _outage.check(client.base_url)
    try:
        client.update_features([(reference, properties) for reference in references])
    except VetroUnavailable:
        _outage.began(client.base_url)
        raise
    except VetroRefused as refused:
        logger.error(
            "VETRO refused the push of address %s (%s, HTTP %s): %s; not retried: fix the"
            " service location or the field labels (VETRO_FIELDS); the address's next change"
            " or the next full pull sends it again",
            address_id,
            ", ".join(references),
            refused.status,
            refused,
        )
        return "refused"
    _outage.ended(client.base_url)
    now = timezone.now()
    SyncState.objects.bulk_create(  # what VETRO has from us now (the conflict log's base)
        [
            SyncState(system=SYSTEM, external_id=reference, pushed=properties, pushed_at=now)
            for reference in references
        ],
        update_conflicts=True,
        unique_fields=["system", "external_id"],
        update_fields=["pushed", "pushed_at"],
    )
    logger.info("VETRO: address %s pushed to %s: %s", address_id, references, properties)
    return "sent"
