"""Events the workorders app publishes. Topics are never renamed or reused."""

from dataclasses import dataclass

WORK_ORDERS_CREATED = "work_orders.created"
WORK_ORDER_STATUS_CHANGED = "work_order.status_changed"
WORK_ORDER_ACCEPTED = "work_order.accepted"  # the installation is done: provision its ONT
TASK_CHANGED = "task.changed"
PROVISIONING_REQUESTED = "provisioning.requested"


@dataclass(frozen=True)
class WorkOrdersCreated:
    work_order_ids: list[int]
    area_id: int | None


@dataclass(frozen=True)
class WorkOrderStatusChanged:
    work_order_id: int
    address_id: int
    from_status: str
    to_status: str
    actor_id: int | None
    reason: str


@dataclass(frozen=True)
class WorkOrderAccepted:
    work_order_id: int
    address_id: int
    provisioning_job_id: int | None


@dataclass(frozen=True)
class TaskChanged:
    task_id: int
    work_order_id: int
    kind: str
    from_status: str
    to_status: str
    actor_id: int | None


@dataclass(frozen=True)
class ProvisioningRequested:
    job_id: int
    attempt: int
