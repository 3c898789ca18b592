"""Creating installation work orders: the template rule and the set-based batch.

When an area moves into deployment, every address of it with a live order gets exactly one
installation work order from its template, with the template's tasks, and moves to
`in_deployment` — in one SQL statement for the work orders, their tasks and their history,
and one for the addresses, inside the area's transaction. The partial unique index on
`workorders_workorder(address_id)` (cancelled ones aside) with `ON CONFLICT DO NOTHING`
makes the batch idempotent: running it again, or twice at once, creates nothing twice.

The same statement, for one address, serves an order placed later in an area already in
deployment or live (a post-deployment connection).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from common.errors import DomainError
from common.events import publish
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.services import addresses_move
from wholesale.lifecycle import LIVE_ORDER_STATUSES, OrderStatus
from wholesale.models import Order
from workorders.events import WORK_ORDERS_CREATED, WorkOrdersCreated
from workorders.lifecycle import AssigneeKind, TaskStatus, WorkOrderStatus
from workorders.models import (
    Task,
    TaskTemplate,
    WorkOrder,
    WorkOrderStatusChange,
    WorkTemplate,
)

# Orders that want a connection built (an active order's address is built already).
WANTS_A_BUILD = tuple(s for s in LIVE_ORDER_STATUSES if s != OrderStatus.ACTIVE)
BUILDABLE = (AddressStatus.AWAITING_DEPLOYMENT, AddressStatus.IN_DEPLOYMENT)


@dataclass(frozen=True)
class Batch:
    """What one creation run did."""

    work_order_ids: list[int]
    moved_address_ids: list[int]

    @property
    def created(self) -> int:
        return len(self.work_order_ids)


def _template_sql(address: str) -> str:
    """The LATERAL subquery choosing the template for the address aliased `address`:
    area-restricted first, then premises-restricted, then priority, then id."""
    t, through = WorkTemplate._meta.db_table, WorkTemplate.areas.through._meta.db_table
    return f"""
        SELECT wt.id FROM {t} wt
         WHERE wt.is_active
           AND (cardinality(wt.premises_types) = 0
                OR {address}.premises_type = ANY(wt.premises_types))
           AND (NOT EXISTS (SELECT 1 FROM {through} x WHERE x.worktemplate_id = wt.id)
                OR EXISTS (SELECT 1 FROM {through} x
                            WHERE x.worktemplate_id = wt.id AND x.area_id = {address}.area_id))
         ORDER BY EXISTS (SELECT 1 FROM {through} x WHERE x.worktemplate_id = wt.id) DESC,
                  cardinality(wt.premises_types) > 0 DESC, wt.priority DESC, wt.id
         LIMIT 1"""


def template_for(address: Address) -> WorkTemplate | None:
    """The template the rule picks for an address (None: no active template fits it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ({_template_sql('a')}) FROM {Address._meta.db_table} a WHERE a.id = %s",
            [address.pk],
        )
        row = cursor.fetchone()
    return WorkTemplate.objects.filter(pk=row[0]).first() if row and row[0] else None


STANDARD_CODE = "standard"
# The template every address fits until the operator defines their own: made on first use
# (and never again once it exists, so an operator may deactivate it; with no active template
# fitting an ordered address, deployment is refused).
STANDARD_TASKS = [
    # position, name, category, evidence, skill, minutes, light range (dBm)
    (1, "Lay and splice the drop", "physical", ["photo"], "splicing", 90, None),
    (
        2,
        "Mount the ONT and measure the light level",
        "testing",
        ["light_level", "ont_serial", "photo"],
        "ont",
        40,
        (-27, -8),
    ),
    (
        3,
        "Speed test and customer sign-off",
        "customer",
        ["speed_test", "signature"],
        "ont",
        20,
        None,
    ),
]


def standard_template() -> WorkTemplate:
    """The standard installation template (any premises, priority -100), made if missing."""
    template, created = WorkTemplate.objects.get_or_create(
        code=STANDARD_CODE,
        defaults={
            "name": "Standard installation",
            "description": "Any premises: drop, ONT with light level, speed test, sign-off.",
            "priority": -100,
        },
    )
    if created:
        TaskTemplate.objects.bulk_create(
            TaskTemplate(
                template=template,
                position=position,
                name=name,
                category=category,
                evidence=evidence,
                skill=skill,
                minutes=minutes,
                light_min_dbm=light[0] if light else None,
                light_max_dbm=light[1] if light else None,
            )
            for position, name, category, evidence, skill, minutes, light in STANDARD_TASKS
        )
    return template


def _candidates_sql(where: str) -> str:
    """Addresses (aliased a) matching `where` that want a build, with their first such order
    and their template (a job they have already is skipped by the insert's ON CONFLICT)."""
    return f"""
        FROM {Address._meta.db_table} a
        JOIN LATERAL (SELECT min(o.id) AS order_id FROM {Order._meta.db_table} o
                       WHERE o.address_id = a.id AND o.status = ANY(%(wanting)s)) o
          ON o.order_id IS NOT NULL
        LEFT JOIN LATERAL ({_template_sql("a")}) t ON true
        WHERE {where} AND a.status = ANY(%(buildable)s)"""


def _refuse_untemplated(where: str, params: dict) -> None:
    """Refuse (naming an example) when an address wanting a build fits no active template.

    With an active catch-all template (any premises, any area: the standard one, unless the
    operator retired it) every address fits one, and the count is skipped: over an area of
    10,000 ordered addresses it costs 50–80 ms, a tenth of the whole deployment.
    """
    catch_all = (
        WorkTemplate.objects.filter(is_active=True, premises_types=[], areas__isnull=True)
        .values("pk")
        .exists()
    )
    if catch_all:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), min(a.premises_type), min(a.id) {_candidates_sql(where)}"
            " AND t.id IS NULL",
            params,
        )
        count, premises, example = cursor.fetchone()
    if count:
        raise DomainError(
            f"no active work template fits {count} address(es) with orders (e.g. address"
            f" {example}, premises type {premises}); add or widen a template first",
            code="no_template",
        )


def _create(where: str, params: dict, *, area_id: int | None, actor: User | None) -> Batch:
    params = {
        **params,
        "wanting": list(WANTS_A_BUILD),
        "buildable": list(BUILDABLE),
        "open": WorkOrderStatus.OPEN,
        "cancelled": WorkOrderStatus.CANCELLED,
        "pending": TaskStatus.PENDING,
        "contractor": AssigneeKind.CONTRACTOR,
        "actor": actor.pk if actor else None,
        "now": timezone.now(),
        "due": timezone.localdate() + timedelta(days=settings.WORK_ORDER_DUE_DAYS),
    }
    standard_template()  # made on first use; afterwards one lookup
    _refuse_untemplated(where, params)
    wo, task, tt = WorkOrder._meta.db_table, Task._meta.db_table, TaskTemplate._meta.db_table
    history = WorkOrderStatusChange._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH new_wo AS (
                INSERT INTO {wo} (created_at, updated_at, address_id, order_id, template_id,
                                  status, status_changed_at, due_on, reopened)
                SELECT %(now)s, %(now)s, a.id, o.order_id, t.id, %(open)s, %(now)s, %(due)s, 0
                {_candidates_sql(where)}
                ORDER BY a.id
                ON CONFLICT (address_id) WHERE status <> %(cancelled)s DO NOTHING
                RETURNING id, template_id, address_id
            ), new_tasks AS (
                INSERT INTO {task} (created_at, updated_at, work_order_id, position, name,
                    category, instructions, evidence, light_min_dbm, light_max_dbm,
                    min_download_mbps, min_upload_mbps, skill, minutes, contractor_id,
                    crew_id, needs_acceptance, status, status_changed_at, result, problem,
                    rework_count)
                SELECT %(now)s, %(now)s, w.id, tt.position, tt.name, tt.category, tt.instructions,
                       tt.evidence, tt.light_min_dbm, tt.light_max_dbm, tt.min_download_mbps,
                       tt.min_upload_mbps, tt.skill, tt.minutes,
                       tt.contractor_id, NULL,
                       tt.assignee_kind = %(contractor)s, %(pending)s, %(now)s, '{{}}', '', 0
                  FROM new_wo w JOIN {tt} tt ON tt.template_id = w.template_id
            ), new_history AS (
                INSERT INTO {history} (work_order_id, from_status, to_status, actor_id, reason,
                                       changed_at)
                SELECT id, '', %(open)s, %(actor)s, 'created from its template', %(now)s
                  FROM new_wo
            )
            SELECT id, address_id FROM new_wo ORDER BY id
            """,
            params,
        )
        rows = cursor.fetchall()
    work_order_ids = [row[0] for row in rows]
    moved = addresses_move(
        address_ids=[row[1] for row in rows],
        from_status=AddressStatus.AWAITING_DEPLOYMENT,
        to_status=AddressStatus.IN_DEPLOYMENT,
        actor=actor,
        reason="installation work order created",
    )
    if work_order_ids:
        publish(
            WORK_ORDERS_CREATED, WorkOrdersCreated(work_order_ids=work_order_ids, area_id=area_id)
        )
    return Batch(work_order_ids=work_order_ids, moved_address_ids=moved)


@transaction.atomic
def work_orders_create_for_area(*, area_id: int, actor: User | None = None) -> Batch:
    """Every address of the area with a live order gets its installation work order (once)."""
    return _create("a.area_id = %(area)s", {"area": area_id}, area_id=area_id, actor=actor)


@transaction.atomic
def work_order_create_for_address(*, address: Address, actor: User | None = None) -> Batch:
    """A post-deployment connection: the address's installation work order, at once (once)."""
    return _create("a.id = %(address)s", {"address": address.pk}, area_id=None, actor=actor)
