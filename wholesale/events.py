"""Events the wholesale app publishes. Topics are never renamed or reused."""

from dataclasses import dataclass

ORDER_PLACED = "order.placed"
ORDER_STATUS_CHANGED = "order.status_changed"


@dataclass(frozen=True)
class OrderPlaced:
    order_id: int
    address_id: int
    isp_id: int | None


@dataclass(frozen=True)
class OrderStatusChanged:
    order_id: int
    address_id: int
    isp_id: int | None
    from_status: str
    to_status: str
    actor_id: int | None
    reason: str
