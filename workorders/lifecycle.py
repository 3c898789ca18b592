"""The work-order and task lifecycles (ARCHITECTURE.md).

WorkOrder: open → scheduled → in_progress → completed → accepted   (or cancelled)
Task:      pending → done → accepted; a contractor's done task waits for the operator, who
           accepts it or sends it back (rework); a problem blocks a task until cleared.
"""

from django.db import models

from common.lifecycle import TransitionMap


class WorkOrderStatus(models.TextChoices):
    OPEN = "open", "open"
    SCHEDULED = "scheduled", "scheduled"
    IN_PROGRESS = "in_progress", "in progress"
    COMPLETED = "completed", "completed (waiting for acceptance)"
    ACCEPTED = "accepted", "accepted"
    CANCELLED = "cancelled", "cancelled"


# Work orders that still stand for work at their address (one per address at most).
LIVE_WORK_ORDER_STATUSES = (
    WorkOrderStatus.OPEN,
    WorkOrderStatus.SCHEDULED,
    WorkOrderStatus.IN_PROGRESS,
    WorkOrderStatus.COMPLETED,
)

WORK_ORDER_TRANSITIONS = TransitionMap(
    "work order",
    {
        WorkOrderStatus.OPEN: {
            WorkOrderStatus.SCHEDULED,
            WorkOrderStatus.IN_PROGRESS,
            WorkOrderStatus.CANCELLED,
        },
        WorkOrderStatus.SCHEDULED: {
            WorkOrderStatus.OPEN,
            WorkOrderStatus.IN_PROGRESS,
            WorkOrderStatus.CANCELLED,
        },
        WorkOrderStatus.IN_PROGRESS: {
            WorkOrderStatus.COMPLETED,
            WorkOrderStatus.ACCEPTED,
            WorkOrderStatus.CANCELLED,
        },
        # a task sent back for rework reopens a completed work order
        WorkOrderStatus.COMPLETED: {WorkOrderStatus.ACCEPTED, WorkOrderStatus.IN_PROGRESS},
        WorkOrderStatus.ACCEPTED: set(),
        WorkOrderStatus.CANCELLED: set(),
    },
)


class TaskStatus(models.TextChoices):
    PENDING = "pending", "to do"
    PROBLEM = "problem", "problem reported"
    AWAITING_ACCEPTANCE = "awaiting_acceptance", "done, waiting for acceptance"
    REWORK = "rework", "sent back for rework"
    ACCEPTED = "accepted", "done and accepted"
    CANCELLED = "cancelled", "cancelled"


OPEN_TASK_STATUSES = (TaskStatus.PENDING, TaskStatus.PROBLEM, TaskStatus.REWORK)

TASK_TRANSITIONS = TransitionMap(
    "task",
    {
        TaskStatus.PENDING: {
            TaskStatus.AWAITING_ACCEPTANCE,
            TaskStatus.ACCEPTED,
            TaskStatus.PROBLEM,
            TaskStatus.CANCELLED,
        },
        TaskStatus.PROBLEM: {TaskStatus.PENDING, TaskStatus.CANCELLED},
        TaskStatus.AWAITING_ACCEPTANCE: {TaskStatus.ACCEPTED, TaskStatus.REWORK},
        TaskStatus.REWORK: {
            TaskStatus.AWAITING_ACCEPTANCE,
            TaskStatus.ACCEPTED,
            TaskStatus.PROBLEM,
            TaskStatus.CANCELLED,
        },
        TaskStatus.ACCEPTED: set(),
        TaskStatus.CANCELLED: set(),
    },
)


class TaskCategory(models.TextChoices):
    PHYSICAL = "physical", "physical installation"
    TESTING = "testing", "testing"
    PROVISIONING = "provisioning", "provisioning"
    CUSTOMER = "customer", "customer communication"


class Evidence(models.TextChoices):
    """What a task's sign-off must carry."""

    PHOTO = "photo", "photos"
    LIGHT_LEVEL = "light_level", "light level (dBm)"
    SPEED_TEST = "speed_test", "speed test (down/up)"
    ONT_SERIAL = "ont_serial", "ONT serial scan"
    SIGNATURE = "signature", "customer signature"
    NOTES = "notes", "notes"


class AssigneeKind(models.TextChoices):
    STAFF = "staff", "own staff"
    CONTRACTOR = "contractor", "contractor"


class ProvisioningStatus(models.TextChoices):
    PENDING = "pending", "pending"
    PROVISIONED = "provisioned", "provisioned"
    VERIFIED = "verified", "verified"
    FAILED = "failed", "failed (retrying)"
    DEAD = "dead", "failed (gave up)"
