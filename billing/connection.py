"""Connection charges: a signup's connection cost turned into invoices.

At signup (`order.signed_up`) the order's snapshotted terms make its `ConnectionCharge`:
the deposit is invoiced at once (one invoice, one "Connection deposit" row), and the total is
split into installment rows once, when the signup reaches its snapshotted stage:

- `not_active`: the address is awaiting deployment (or later) while the order is live;
- `deployment`: the address is in deployment (or later);
- `activated`: the address is connected or activated.

The stage is checked at every lifecycle step: at signup, when an address changes status
(one address, or many at once when an area deploys: set-based), and when the order changes
status. A unique (charge, number) and the charge's status guard make generation once-only.
The deposit does not reduce the total (ARCHITECTURE.md). Without a valid billing provider the
charge is blocked with the reason: no deposit invoice, no rows.

`installments_invoice_due` (a step of the daily billing run) invoices every installment
whose month has come, set-based, one invoice per installment, with gap-free numbers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing.invoicing import (
    Line,
    invoice_create,
    invoices_issue_all,
    provider_of,
    provider_problem,
)
from billing.lifecycle import ConnectionChargeStatus, InvoiceKind, LineKind
from billing.models import (
    BillingProvider,
    BillingRun,
    ConnectionCharge,
    Installment,
    Invoice,
    InvoiceLine,
)
from billing.periods import add_months, first_of_month
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from wholesale.connection_cost import installment_plan
from wholesale.lifecycle import LIVE_ORDER_STATUSES, InvoicingStage, OrderStatus
from wholesale.models import Order

# The address statuses at (or past) which each stage counts as reached.
STAGE_REACHED: dict[str, tuple[str, ...]] = {
    InvoicingStage.NOT_ACTIVE: (
        AddressStatus.AWAITING_DEPLOYMENT,
        AddressStatus.IN_DEPLOYMENT,
        AddressStatus.CONNECTED,
        AddressStatus.ACTIVATED,
    ),
    InvoicingStage.DEPLOYMENT: (
        AddressStatus.IN_DEPLOYMENT,
        AddressStatus.CONNECTED,
        AddressStatus.ACTIVATED,
    ),
    InvoicingStage.ACTIVATED: (AddressStatus.CONNECTED, AddressStatus.ACTIVATED),
}

DEPOSIT_DESCRIPTION = "Connection deposit"


def installment_description(number: int, of: int) -> str:
    return f"Connection cost, installment {number} of {of}"


def stage_reached(stage: str, address_status: str, order_status: str) -> bool:
    """Has a signup with this snapshotted stage reached it (its order still live)?"""
    return order_status in LIVE_ORDER_STATUSES and address_status in STAGE_REACHED.get(stage, ())


# --- at signup ------------------------------------------------------------------------------


def connection_charge_open(*, order: Order, on: dt.date | None = None) -> ConnectionCharge | None:
    """Make the order's connection charge from its snapshot (once): blocked with the reason
    when its billing party cannot invoice; else the deposit invoiced and, if the signup is
    already at its stage, the installment rows. No connection cost (or a total of 0): None.
    Call inside the signup's transaction."""
    order = Order.objects.select_related("connection_cost_billed_by").get(pk=order.pk)
    if not order.has_connection_cost or order.connection_cost_total <= 0:
        return None
    charge, created = ConnectionCharge.objects.get_or_create(order=order)
    if not created:
        return charge
    problem = provider_problem(order.connection_cost_billed_by, order.connection_cost_currency)
    if problem:
        charge.status = ConnectionChargeStatus.BLOCKED
        charge.blocked_reason = problem[:300]
        charge.save(update_fields=["status", "blocked_reason", "updated_at"])
        return charge
    return _charge_start(charge, order, on)


def _charge_start(charge: ConnectionCharge, order: Order, on: dt.date | None):
    """A charge whose billing party can invoice: its provider, the deposit invoice, and the
    rows if the stage is reached."""
    provider = provider_of(order.connection_cost_billed_by_id)
    charge.provider = provider
    deposit = order.connection_cost_deposit
    if deposit is not None and deposit > 0:
        invoice, _ = invoice_create(
            provider=provider,
            kind=InvoiceKind.DEPOSIT,
            idempotency_key=f"deposit:order:{order.pk}",
            lines=[
                Line(kind=LineKind.DEPOSIT, description=DEPOSIT_DESCRIPTION, unit_amount=deposit)
            ],
            on=on,
            customer_id=order.customer_id,
            isp_id=order.isp_id,
            order=order,
        )
        charge.deposit_invoice = invoice
    charge.save(update_fields=["provider", "deposit_invoice", "updated_at"])
    return connection_charge_check(charge=charge, on=on)


def connection_charges_unblock(*, on: dt.date, run=None) -> dict:
    """Blocked charges whose billing party can invoice now (a provider was set up since)
    start as if the signup were new: the deposit invoiced, the rows if the stage is reached.
    Only those are read (the others stay blocked with their reason); each in the run step's
    transaction. Returns counts."""
    ready = (
        ConnectionCharge.objects.filter(status=ConnectionChargeStatus.BLOCKED)
        .filter(
            Exists(
                BillingProvider.objects.filter(
                    organisation_id=OuterRef("order__connection_cost_billed_by_id"),
                    organisation__is_active=True,
                    is_active=True,
                    currency=OuterRef("order__connection_cost_currency"),
                )
            )
        )
        .select_for_update(of=("self",))
        .select_related("order")
        .order_by("pk")
    )
    unblocked = 0
    for charge in ready:
        charge.status = ConnectionChargeStatus.WAITING
        charge.blocked_reason = ""
        charge.save(update_fields=["status", "blocked_reason", "updated_at"])
        _charge_start(charge, charge.order, on)
        unblocked += 1
    return {"unblocked": unblocked}


# --- the stage: one signup ------------------------------------------------------------------


def connection_charge_check(*, charge: ConnectionCharge, on: dt.date | None = None):
    """Generate the charge's installment rows if its signup has reached its stage and they
    were not generated yet (once: the locked status guards it). Returns the charge."""
    charge = (
        ConnectionCharge.objects.select_for_update(of=("self",))
        .select_related("order", "order__address")
        .get(pk=charge.pk)
    )
    if charge.status != ConnectionChargeStatus.WAITING:
        return charge
    order = charge.order
    stage = order.connection_cost_invoicing_starts
    if not stage_reached(stage, order.address.status, order.status):
        return charge
    rows = installment_plan(
        total=order.connection_cost_total, max_installment=order.connection_cost_max_installment
    )
    start = first_of_month(on or timezone.localdate())
    Installment.objects.bulk_create(
        [
            Installment(
                charge=charge,
                number=k,
                of=len(rows),
                amount=amount,
                due_month=add_months(start, k - 1),
            )
            for k, amount in enumerate(rows, start=1)
        ],
        ignore_conflicts=True,
    )
    charge.status = ConnectionChargeStatus.GENERATED
    charge.generated_at = timezone.now()
    charge.generated_stage = stage
    charge.save(update_fields=["status", "generated_at", "generated_stage", "updated_at"])
    return charge


def connection_charge_follow_order(*, order_id: int, to_status: str) -> ConnectionCharge | None:
    """The order moved: a cancelled one cancels its charge if nothing was generated yet
    (rows already generated, and an issued deposit, stay: finance may credit them);
    otherwise its stage is checked again."""
    charge = ConnectionCharge.objects.filter(order_id=order_id).first()
    if charge is None:
        return None
    if to_status == OrderStatus.CANCELLED:
        ConnectionCharge.objects.filter(
            pk=charge.pk,
            status__in=[ConnectionChargeStatus.WAITING, ConnectionChargeStatus.BLOCKED],
        ).update(status=ConnectionChargeStatus.CANCELLED, updated_at=timezone.now())
        charge.refresh_from_db()
        return charge
    return connection_charge_check(charge=charge)


# --- the stage: many addresses at once (set-based) ------------------------------------------

# The installment plan of wholesale.connection_cost.installment_plan, in SQL (in cents):
# count = ceil(total / max) (1 without a max), common = floor(total / count) to the cent,
# the first (total - common × count) / 0.01 rows one cent more. A test holds both equal.
PLAN_SQL = """
    SELECT p.charge_id, k.number, p.n AS "of",
           ((p.cents / p.n) + CASE WHEN k.number <= p.cents %% p.n THEN 1 ELSE 0 END) / 100.0
               AS amount,
           (date_trunc('month', %(on)s::date) + (k.number - 1) * interval '1 month')::date
               AS due_month
      FROM (
        SELECT q.charge_id, q.cents,
               CASE WHEN q.max_cents IS NULL THEN 1
                    ELSE ((q.cents + q.max_cents - 1) / q.max_cents)::int END AS n
          FROM (
            SELECT s.charge_id, round(s.total * 100)::bigint AS cents,
                   round(s.max_installment * 100)::bigint AS max_cents
              FROM {source} s
          ) q
         WHERE q.cents > 0
      ) p
      CROSS JOIN LATERAL generate_series(1, p.n) AS k(number)
"""


def installment_plan_sql(*, total: Decimal, max_installment: Decimal | None) -> list[Decimal]:
    """The plan as PLAN_SQL computes it (for the test that holds it equal to Python's)."""
    source = (
        "(SELECT 0 AS charge_id, %(total)s::numeric AS total,"
        " %(max)s::numeric AS max_installment) AS s"
    )
    sql = PLAN_SQL.replace("{source} s", source) + " ORDER BY k.number"
    with connection.cursor() as cursor:
        cursor.execute(sql, {"total": total, "max": max_installment, "on": dt.date(2000, 1, 1)})
        return [Decimal(row[3]).quantize(Decimal("0.01")) for row in cursor.fetchall()]


def _stage_sql() -> tuple[str, dict]:
    parts, params = [], {}
    for k, (stage, statuses) in enumerate(STAGE_REACHED.items()):
        parts.append(f"(o.connection_cost_invoicing_starts = %(stage{k})s "
                     f"AND a.status = ANY(%(statuses{k})s))")  # fmt: skip
        params[f"stage{k}"] = str(stage)
        params[f"statuses{k}"] = [str(s) for s in statuses]
    return "(" + " OR ".join(parts) + ")", params


def connection_charges_check_addresses(*, address_ids: list[int], on: dt.date | None = None):
    """Generate, set-based, the installment rows of every waiting charge at these addresses
    whose signup has reached its stage: one INSERT … SELECT of all their rows and one UPDATE
    of the charges (the status guard makes it once-only). Returns how many charges."""
    if not address_ids:
        return 0
    stage_sql, params = _stage_sql()
    params.update(
        {
            "ids": list(address_ids),
            "waiting": ConnectionChargeStatus.WAITING,
            "generated": ConnectionChargeStatus.GENERATED,
            "live": [str(s) for s in LIVE_ORDER_STATUSES],
            "on": on or timezone.localdate(),
            "now": timezone.now(),
        }
    )
    charge_table = ConnectionCharge._meta.db_table
    sql = f"""
        WITH due AS (
            SELECT c.id AS charge_id, o.connection_cost_total AS total,
                   o.connection_cost_max_installment AS max_installment,
                   o.connection_cost_invoicing_starts AS stage
              FROM {charge_table} c
              JOIN {Order._meta.db_table} o ON o.id = c.order_id
              JOIN {Address._meta.db_table} a ON a.id = o.address_id
             WHERE o.address_id = ANY(%(ids)s) AND c.status = %(waiting)s
               AND o.status = ANY(%(live)s) AND {stage_sql}
             ORDER BY c.id
               FOR UPDATE OF c
        ), marked AS (
            UPDATE {charge_table} c
               SET status = %(generated)s, generated_at = %(now)s,
                   generated_stage = due.stage, updated_at = %(now)s
              FROM due
             WHERE c.id = due.charge_id AND c.status = %(waiting)s
            RETURNING c.id AS charge_id, due.total, due.max_installment
        ), inserted AS (
            INSERT INTO {Installment._meta.db_table} (charge_id, number, "of", amount, due_month)
            {PLAN_SQL.replace("{source}", "marked")}
            ON CONFLICT (charge_id, number) DO NOTHING
            RETURNING charge_id
        )
        SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM inserted)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        charges, _rows = cursor.fetchone()
    return charges


# --- invoicing the installments (daily run step) --------------------------------------------


@transaction.atomic
def installments_invoice_due(*, on: dt.date, run: BillingRun | None = None) -> dict:
    """Invoice, set-based, every installment whose month has come (`due_month <= on`) and
    that is on no invoice yet: one invoice per installment (a charge has one a month) with
    one "Connection cost, installment k of n" row, issued with the provider's next numbers.
    Keyed `installment:<id>`: a rerun, or a second worker, creates nothing twice."""
    now = timezone.now()
    params = {
        "on": on,
        "now": now,
        "run": run.pk if run else None,
        "generated": ConnectionChargeStatus.GENERATED,
        "kind": InvoiceKind.CONNECTION,
        "line_kind": LineKind.INSTALLMENT,
    }
    invoice_table = Invoice._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH due AS (
                SELECT i.id AS installment_id, i.number, i."of", i.amount, c.provider_id,
                       o.customer_id, o.isp_id, o.id AS order_id, p.currency, p.tax_rate,
                       i.due_month
                  FROM {Installment._meta.db_table} i
                  JOIN {ConnectionCharge._meta.db_table} c ON c.id = i.charge_id
                  JOIN {Order._meta.db_table} o ON o.id = c.order_id
                  JOIN billing_billingprovider p ON p.id = c.provider_id
                 WHERE i.due_month <= %(on)s AND c.status = %(generated)s
                   AND NOT EXISTS (SELECT 1 FROM {InvoiceLine._meta.db_table} l
                                    WHERE l.installment_id = i.id)
            ), new_invoices AS (
                INSERT INTO {invoice_table} (created_at, updated_at, provider_id, kind, status,
                    customer_id, isp_id, order_id, run_id, currency, subtotal, tax, total,
                    amount_paid, period_start, period_end, disputed, reminder_level,
                    void_reason, idempotency_key)
                SELECT %(now)s, %(now)s, d.provider_id, %(kind)s, 'draft', d.customer_id,
                       d.isp_id, d.order_id, %(run)s, d.currency, d.amount,
                       round(d.amount * d.tax_rate / 100, 2),
                       d.amount + round(d.amount * d.tax_rate / 100, 2),
                       0, NULL, NULL, false, 0, '', 'installment:' || d.installment_id
                  FROM due d
                 ORDER BY d.due_month, d.installment_id
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING id, idempotency_key
            ), new_lines AS (
                INSERT INTO {InvoiceLine._meta.db_table} (invoice_id, position, kind,
                    description, quantity, unit_amount, amount, installment_id)
                SELECT n.id, 1, %(line_kind)s,
                       'Connection cost, installment ' || d.number || ' of ' || d."of",
                       1, d.amount, d.amount, d.installment_id
                  FROM new_invoices n
                  JOIN due d ON 'installment:' || d.installment_id = n.idempotency_key
                RETURNING invoice_id
            )
            SELECT count(*) FROM new_lines
            """,
            params,
        )
        created = cursor.fetchone()[0]
    issued = invoices_issue_all(
        invoice_ids_sql=(
            f"SELECT id FROM {invoice_table} WHERE status = 'draft' AND kind = %s "
            "AND idempotency_key LIKE %s"
        ),
        params=[InvoiceKind.CONNECTION, "installment:%"],
        on=on,
    )
    return {"installment_invoices": created, "issued": issued}
