"""The workorders app's reactions: an area going into deployment fills it with work orders,
a later order there gets its own at once, a cancelled order calls its job off."""

from __future__ import annotations

from areas.events import AREA_PHASE_CHANGED
from areas.lifecycle import AreaPhase
from common.events import IN_TRANSACTION, Event, subscribe
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from wholesale.events import ORDER_STATUS_CHANGED
from wholesale.lifecycle import OrderStatus
from wholesale.models import Order
from workorders.creation import (
    WANTS_A_BUILD,
    work_order_create_for_address,
    work_orders_create_for_area,
)
from workorders.lifecycle import WorkOrderStatus
from workorders.models import WorkOrder
from workorders.services import work_order_cancel

BUILDING_PHASES = (AreaPhase.IN_DEPLOYMENT, AreaPhase.LIVE)
CALLABLE_OFF = (WorkOrderStatus.OPEN, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS)


@subscribe(AREA_PHASE_CHANGED, kind=IN_TRANSACTION, name="workorders.deploy_area")
def deploy_area(event: Event) -> None:
    """The area is going into deployment: every address with an order gets its job."""
    if event.payload["to_phase"] == AreaPhase.IN_DEPLOYMENT:
        work_orders_create_for_area(area_id=event.payload["area_id"])


@subscribe(ORDER_STATUS_CHANGED, kind=IN_TRANSACTION, name="workorders.follow_order")
def follow_order(event: Event) -> None:
    """A new order in an area already being built (or live) gets its job at once; the last
    order at an address being cancelled calls its job off."""
    payload = event.payload
    if payload["to_status"] == OrderStatus.AWAITING_INFRASTRUCTURE:
        address = Address.objects.select_related("area").get(pk=payload["address_id"])
        if (
            address.area is not None
            and address.area.phase in BUILDING_PHASES
            and address.status == AddressStatus.AWAITING_DEPLOYMENT
        ):
            work_order_create_for_address(address=address)
    elif payload["to_status"] == OrderStatus.CANCELLED:
        still_wanted = Order.objects.filter(
            address_id=payload["address_id"], status__in=WANTS_A_BUILD
        ).exists()
        if still_wanted:
            return
        job = WorkOrder.objects.filter(
            address_id=payload["address_id"], status__in=CALLABLE_OFF
        ).first()
        if job is not None:
            work_order_cancel(work_order=job, actor=None, reason="the order was cancelled")
