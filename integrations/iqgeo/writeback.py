"""oanm → IQGeo: the commercial state of an address written back onto its IQGeo feature.

IQGeo owns an address's geography; oanm owns what is sold and built there (its status, the
current order and service, their ISP and dates). When that changes, the address feature in
IQGeo is updated through the outbox (docs/iqgeo.md, "Write-back"):

1. In the transaction of the change, in-transaction handlers of the changes that touch the
   commercial state (an address's status, one by one or in bulk; an order's status; a
   service activated, changed or ended) call `iqgeo_writeback_request` with the addresses
   concerned. It keeps those with an IQGeo reference (one query) and publishes one
   `iqgeo.writeback_requested` event per address (two INSERTs in all, `publish_many`),
   unless that address already has a request waiting that no worker has tried yet: that one
   sends the latest state anyway (its row is locked until the change commits, so no worker
   can read the state before it), so an activation's three events make one update.
2. The outbox delivers each request (`push_address`, ordering key `address:<id>`: one
   address's requests go out one after another, in order) by `iqgeo_address_push`: it reads
   the state *now* (a late retry never sends stale values), maps it to the configured IQGeo
   property names and sends only those (`IQGeoClient.patch_feature`, i.e.
   `PUT /feature/{type}/{id}`). A state equal to what was last pushed is not sent again.
   What was pushed is kept in `SyncState.pushed` (system "iqgeo", the feature id).
3. IQGeo down (5xx, timeouts, broken answers, an expired session) → the client retries, then
   the handler raises and the outbox retries with back-off until it is delivered. For
   IQGEO_OUTAGE_PAUSE_SECONDS after that, other pushes fail at once without asking IQGeo,
   so an outage does not hold the outbox drain (and the other systems' messages) up. A refusal
   (another 4xx: unknown feature, a property IQGeo rejects) is logged as an error and not
   retried: sending it again cannot succeed.

Nothing is sent when `USE_IQGEO` or `IQGEO_WRITEBACK` is off, or the address has no IQGeo
reference or is retired (its feature is gone).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from common.events import OUTBOX, Event, publish_many, subscribe
from common.models import OutboxMessage, OutboxStatus
from gis_core.events import ADDRESS_STATUS_CHANGED, ADDRESSES_STATUS_CHANGED
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address, AddressStatusChange, ExternalReference
from integrations.gis_sync import WHOLESALE_CHANGES, OutagePause, follow_commercial_changes
from integrations.iqgeo.client import IQGeoClient, IQGeoRefused, IQGeoUnavailable
from integrations.models import SyncState
from wholesale.lifecycle import LIVE_ORDER_STATUSES, ServiceStatus
from wholesale.models import Order, Service

logger = logging.getLogger(__name__)

SYSTEM = "iqgeo"
WRITEBACK_REQUESTED = "iqgeo.writeback_requested"
HANDLER = "integrations.iqgeo.writeback"  # the outbox's handler id: never rename it

# oanm's commercial fields (the names of integrations.safety's ownership rules) → the IQGeo
# address property each is written to. IQGEO_WRITEBACK_PROPERTIES overrides any of them;
# an empty name leaves that field out.
DEFAULT_PROPERTIES: dict[str, str] = {
    "status": "connectionStatus",  # planned … in_deployment, connected, activated
    "ordered_at": "orderDate",  # the current order's placement day; null: no live order
    "isp": "ispName",  # the ISP of the live service (else of the current order)
    "service_name": "serviceName",  # the wholesale product (speed profile) of it
    "connected_at": "connectionDate",  # the day the drop was finished; null before
    "activated_at": "activationDate",  # the day the live service started; null: none
}


@dataclass(frozen=True)
class WritebackRequested:
    """An address's commercial state changed: its IQGeo feature is to be updated."""

    address_id: int
    cause: str  # the topic that asked (for the outbox's operator view)


def writeback_enabled() -> bool:
    """Whether changes go to IQGeo at all (USE_IQGEO, a base URL, IQGEO_WRITEBACK)."""
    return bool(
        getattr(settings, "USE_IQGEO", False)
        and getattr(settings, "IQGEO_BASE_URL", "")
        and getattr(settings, "IQGEO_WRITEBACK", True)
    )


def writeback_properties() -> dict[str, str]:
    """oanm field → IQGeo property, the defaults overridden by IQGEO_WRITEBACK_PROPERTIES."""
    configured = dict(getattr(settings, "IQGEO_WRITEBACK_PROPERTIES", None) or {})
    unknown = sorted(set(configured) - set(DEFAULT_PROPERTIES))
    if unknown:
        raise ImproperlyConfigured(
            f"IQGEO_WRITEBACK_PROPERTIES names unknown fields {', '.join(unknown)};"
            f" the fields are {', '.join(DEFAULT_PROPERTIES)}"
        )
    merged = {**DEFAULT_PROPERTIES, **configured}
    return {field: name.strip() for field, name in merged.items() if name and name.strip()}


def ordering_key(address_id: int) -> str:
    return f"address:{address_id}"


# --- 1. asking (in the transaction of the change) ----------------------------------------------


def iqgeo_writeback_request(*, address_ids: Iterable[int], cause: str) -> int:
    """Queue an update of the IQGeo feature of each of these addresses that has one.

    Called inside the transaction of the change. Returns how many requests were queued
    (addresses already waiting for an untried request are not queued twice).
    """
    if not writeback_enabled():
        return 0
    wanted = sorted({int(address_id) for address_id in address_ids})
    if not wanted:
        return 0
    referenced = list(
        ExternalReference.objects.filter(system=SYSTEM, address_id__in=wanted)
        .order_by("address_id")
        .values_list("address_id", flat=True)
    )
    if not referenced:
        return 0
    # A request nobody has tried yet sends the state as it is when it runs: locking it until
    # this transaction commits makes sure that is this change's state (a worker skips a
    # locked row, and the address's later requests wait behind it). One being tried now is
    # locked by its worker and skipped here: it may have read the state already.
    waiting = set(
        OutboxMessage.objects.select_for_update(skip_locked=True)
        .filter(
            handler=HANDLER,
            status=OutboxStatus.PENDING,
            attempts=0,
            ordering_key__in=[ordering_key(address_id) for address_id in referenced],
        )
        .values_list("ordering_key", flat=True)
    )
    queued = [
        WritebackRequested(address_id=address_id, cause=cause)
        for address_id in referenced
        if ordering_key(address_id) not in waiting
    ]
    publish_many(WRITEBACK_REQUESTED, queued)
    return len(queued)


@transaction.atomic
def iqgeo_writeback_request_all(*, cause: str = "reconcile") -> int:
    """Queue a write-back of every IQGeo address with something to say: any address past
    `planned` (or with a live order), and any pushed to before (its state may have gone back).
    The push skips those whose state equals what was last pushed, so running it again sends
    nothing new. For after a pause of IQGEO_WRITEBACK, a refusal fixed in IQGeo, or a new
    property. Returns how many requests were queued."""
    if not writeback_enabled():
        return 0
    pushed_before = SyncState.objects.filter(
        system=SYSTEM, pushed_at__isnull=False, external_id=OuterRef("external_id")
    )
    address_ids = (
        ExternalReference.objects.filter(system=SYSTEM, address__retired_at__isnull=True)
        .filter(
            ~Q(address__status=AddressStatus.PLANNED)
            | Exists(
                Order.objects.filter(
                    address_id=OuterRef("address_id"), status__in=LIVE_ORDER_STATUSES
                )
            )
            | Exists(pushed_before)
        )
        .values_list("address_id", flat=True)
    )
    return iqgeo_writeback_request(address_ids=list(address_ids), cause=cause)


follow_commercial_changes(
    iqgeo_writeback_request,
    names={
        ADDRESS_STATUS_CHANGED: "integrations.iqgeo.address_changed",
        ADDRESSES_STATUS_CHANGED: "integrations.iqgeo.addresses_changed",
        **{topic: f"integrations.iqgeo.{topic}" for topic in WHOLESALE_CHANGES},
    },
)


# --- 2. delivering (the outbox, after commit) ----------------------------------------------------


@subscribe(
    WRITEBACK_REQUESTED,
    kind=OUTBOX,
    name=HANDLER,
    ordering_key=lambda event: ordering_key(event.payload["address_id"]),
)
def push_address(event: Event) -> None:
    """Write the address's current commercial state to IQGeo (one attempt; the outbox
    retries a failure with back-off)."""
    iqgeo_address_push(address_id=event.payload["address_id"])


def _day(moment) -> str | None:
    return timezone.localdate(moment).isoformat() if moment else None


def commercial_state(address_id: int) -> dict[str, Any]:
    """The address's commercial fields as they stand now (oanm's names, JSON values).

    An address with several lines (an MDU) is described by its latest live service, or,
    before any, by its latest live order.
    """
    status = Address.objects.filter(pk=address_id).values_list("status", flat=True).get()
    service = (
        Service.objects.filter(address_id=address_id, status=ServiceStatus.ACTIVE)
        .select_related("isp", "product", "order")
        .order_by("-activated_at", "-id")
        .first()
    )
    order = (
        service.order
        if service
        else Order.objects.filter(address_id=address_id, status__in=LIVE_ORDER_STATUSES)
        .select_related("isp", "offering__product")
        .order_by("-placed_at", "-id")
        .first()
    )
    connected_at = None
    if status in (AddressStatus.CONNECTED, AddressStatus.ACTIVATED):
        connected_at = (
            AddressStatusChange.objects.filter(
                address_id=address_id,
                from_status=AddressStatus.IN_DEPLOYMENT,
                to_status=AddressStatus.CONNECTED,
            )
            .order_by("-changed_at", "-id")
            .values_list("changed_at", flat=True)
            .first()
        )
    if service is not None:
        isp, product = service.isp, service.product
    else:
        isp = order.isp if order else None
        product = order.offering.product if order and order.offering_id else None
    return {
        "status": status,
        "ordered_at": _day(order.placed_at) if order else None,
        "isp": isp.name if isp else None,
        "service_name": product.name if product else None,
        "connected_at": _day(connected_at),
        "activated_at": _day(service.activated_at) if service else None,
    }


_clients: dict[tuple, IQGeoClient] = {}
# Client → when a push last found IQGeo unavailable; cleared by a success. A push to a server
# that is down spends every retry of the client: for IQGEO_OUTAGE_PAUSE_SECONDS after that,
# the other pushes fail at once without asking IQGeo (gis_sync.OutagePause).
_outage = OutagePause(
    label="IQGeo", setting="IQGEO_OUTAGE_PAUSE_SECONDS", unavailable=IQGeoUnavailable
)


def _client() -> IQGeoClient:
    """One client (one IQGeo session) per configuration and process, reused by every push."""
    client = IQGeoClient.from_settings()
    key = (
        client.base_url,
        client.user,
        client.password,
        client.feature_type,
        client.timeout,
        client.retries,
        client.backoff,
    )
    return _clients.setdefault(key, client)


def iqgeo_address_push(*, address_id: int) -> str:
    """Send the address's current commercial state to its IQGeo feature, if it changed
    since the last push. Returns what happened: "sent", "unchanged", "refused", "off",
    "retired" or "no reference". Raises IQGeoError when IQGeo could not be reached (the
    outbox retries later)."""
    if not writeback_enabled():
        return "off"
    reference = (
        ExternalReference.objects.filter(system=SYSTEM, address_id=address_id)
        .values_list("external_id", "address__retired_at")
        .first()
    )
    if reference is None:
        return "no reference"
    reference, retired_at = reference
    if retired_at is not None:
        return "retired"  # its feature is gone from IQGeo: nothing to update
    names = writeback_properties()
    state = {name: value for name, value in commercial_state(address_id).items() if name in names}
    with transaction.atomic():
        record, _ = SyncState.objects.select_for_update().get_or_create(
            system=SYSTEM, external_id=reference
        )
        if record.pushed_at is not None and record.pushed == state:
            return "unchanged"
        properties = {names[field]: value for field, value in state.items()}
        client = _client()
        _outage.check(id(client))
        try:
            client.patch_feature(reference, properties)
        except IQGeoUnavailable:
            _outage.began(id(client))
            raise
        except IQGeoRefused as refused:
            logger.error(
                "IQGeo refused the write-back of address %s (feature %s, HTTP %s): %s;"
                " not retried: fix the feature or the property names"
                " (IQGEO_WRITEBACK_PROPERTIES); the address's next change or"
                " manage.py iqgeo_writeback sends it again",
                address_id,
                reference,
                refused.status,
                refused,
            )
            return "refused"
        _outage.ended(id(client))
        record.pushed, record.pushed_at = state, timezone.now()
        record.save(update_fields=["pushed", "pushed_at"])
    return "sent"
