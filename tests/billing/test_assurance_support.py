"""Helpers shared by the assurance part's tests (revenue assurance, overrides, settlement):
live services made through the real wholesale services at fixed past instants, subscription
rows made directly (another part makes them from events), installation records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.lifecycle import SubscriptionStatus
from billing.models import BillingArrangement, Subscription
from tests.wholesale.conftest import build
from wholesale.activation import service_activate
from wholesale.models import Offering, Service
from wholesale.services import order_place
from workorders.creation import standard_template
from workorders.models import InstallationRecord, WorkOrder

BERLIN = ZoneInfo("Europe/Berlin")


def at(*parts: int) -> dt.datetime:
    """A fixed instant in Berlin time: at(2024, 4, 1, 8) is 1 April 2024, 08:00."""
    return dt.datetime(*parts, tzinfo=BERLIN)


def live_service(
    town,
    n: int,
    *,
    isp: int = 0,
    offering: Offering | None = None,
    when: dt.datetime | None = None,
    serial: str | None = None,
    unit: str = "",
) -> Service:
    """A home in the live area, connected, ordered and activated (at `when`)."""
    address = build(town.address("live", n=n), "connected")
    return service_on(
        town, address, isp=isp, offering=offering, when=when, serial=serial, unit=unit
    )


def service_on(town, address, *, isp=0, offering=None, when=None, serial=None, unit=""):
    """An order of the ISP at an already connected address, activated at `when`."""
    offering = offering or town.offerings[isp]
    when = when or at(2024, 1, 1, 8)
    order = order_place(
        address=address,
        isp=offering.isp,
        offering=offering,
        unit=unit,
        placed_at=when - dt.timedelta(days=1),
    )
    # Activated while the ISP's arrangement names no subscription provider, so billing makes
    # no subscription of its own: each test makes the one (if any) its case needs.
    arrangement = BillingArrangement.objects.filter(isp=offering.isp).first()
    provider_id = arrangement.subscription_provider_id if arrangement else None
    if arrangement is not None:
        BillingArrangement.objects.filter(pk=arrangement.pk).update(subscription_provider=None)
    service = service_activate(order=order, ont_serial=serial or f"ONT{address.pk}X{unit}", at=when)
    if arrangement is not None:
        BillingArrangement.objects.filter(pk=arrangement.pk).update(
            subscription_provider_id=provider_id
        )
    return service


def subscription_for(service: Service, billing, /, **fields) -> Subscription:
    """The subscription another part would make from the activation: the offering's price."""
    order = service.order
    price = order.monthly_price or Decimal("39.90")
    values = {
        "order": order,
        "service": service,
        "provider": billing.arrangements[service.isp_id].subscription_provider
        or billing.owner_provider,
        "isp_id": service.isp_id,
        "customer": order.customer,
        "product": service.product,
        "offering": order.offering,
        "catalog_price": price,
        "monthly_price": price,
        "currency": "EUR",
        "started_at": service.activated_at,
        "billed_until": service.activated_at,
        "status": SubscriptionStatus.ACTIVE,
    }
    values.update(fields)
    return Subscription.objects.create(**values)


def installation_record(address, serial: str) -> InstallationRecord:
    """The installation record of the address (its work order made if it has none)."""
    work_order = WorkOrder.objects.filter(address=address).first()
    if work_order is None:
        work_order = WorkOrder.objects.create(address=address, template=standard_template())
    return InstallationRecord.objects.create(
        work_order=work_order, address=address, ont_serial=serial, record={"tasks": []}
    )
