"""The board KPIs of revenue assurance (DOMAIN.md, "Board metrics"): each figure, its target
and alert, its colour, its 12-month trend, and the rows behind it.

Every KPI is computed set-based: one SQL statement per group of KPIs returns the figures of
every month of the trend at once (a `generate_series` of months joined to the aggregates),
so the dashboard is seven statements whatever the history. A month runs from its first
local midnight (settings.TIME_ZONE) to the next; the current month runs to the end of today.
The month's headline figure is the last point of its trend. Nothing is cached.

The definitions, with their edges, are in docs/billing-kpis.md; each KPI's `how` says it in
one sentence on the page.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.models import BillingRun, KpiMonth
from billing.periods import add_months, first_of_month, local_midnight
from common.errors import DomainError

TREND_MONTHS = 12
REWORK_DAYS = 14
VELOCITY_DAYS = 30
DSO_STABLE_RISE = Decimal("2")  # a q/q rise up to 2 % counts as stable
HUNDRED = Decimal(100)
LIVE_ORDER = "('received', 'awaiting_infrastructure', 'ready_for_activation', 'active')"

OK, WARN, BAD, NONE = "ok", "warn", "bad", "none"
KPI_STATUSES = [OK, WARN, BAD, NONE]  # the colours: target met, between, alert, no figure


# --- periods --------------------------------------------------------------------------------


def current_month(today: dt.date | None = None) -> dt.date:
    return first_of_month(today or timezone.localdate())


def parse_month(text: str | None, *, today: dt.date | None = None) -> dt.date:
    """`YYYY-MM` → the month's first day; empty → this month. Bad input or a month that has
    not begun raises DomainError (400) saying so."""
    this = current_month(today)
    if not text:
        return this
    try:
        month = dt.datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise DomainError(
            f"“{text}” is not a month: give it as YYYY-MM, e.g. {this:%Y-%m}", field="month"
        ) from None
    if month > this:
        raise DomainError(
            f"{month:%Y-%m} has not begun: pick {this:%Y-%m} or an earlier month", field="month"
        )
    if month.year < 2000:
        raise DomainError("pick a month from 2000 on", field="month")
    return month


# Money statements sum every day from the beginning unless a balance is carried in.
BEGINNING = dt.date(1900, 1, 1)


def _params(first: dt.date, last: dt.date, today: dt.date | None) -> dict:
    """The statement parameters of the months first…last (first days): the zone, and the cap
    (the end of today) that cuts the current month short. The money statement sums every
    day from the beginning (nothing carried in)."""
    today = today or timezone.localdate()
    cap_day = today + dt.timedelta(days=1)
    last_end_day = min(add_months(last, 1), cap_day)
    return {
        "money_from": BEGINNING,
        "money_from_start": local_midnight(BEGINNING),
        "carried_to": BEGINNING,
        "carried_to_start": local_midnight(BEGINNING),
        "carried": Decimal(0),
        "carried_disputed": Decimal(0),
        "first": first,
        "last": last,
        "tz": settings.TIME_ZONE,
        "cap_day": cap_day,
        "first_start": local_midnight(first),
        "last_end_day": last_end_day,
        "last_end": local_midnight(last_end_day),
        "rework_days": REWORK_DAYS,
        "velocity_days": VELOCITY_DAYS,
    }


# The months of the trend: first day, [start_day, end_day) in local days, [starts, ends) as
# instants; the current month ends with today.
MONTHS = """
months AS (
    SELECT m::date AS month,
           m::date AS start_day,
           LEAST((m + interval '1 month')::date, %(cap_day)s::date) AS end_day,
           (m AT TIME ZONE %(tz)s) AS starts,
           (LEAST((m + interval '1 month')::date, %(cap_day)s::date)::timestamp
               AT TIME ZONE %(tz)s) AS ends
      FROM generate_series(%(first)s::timestamp, %(last)s::timestamp, interval '1 month') AS m
)"""


# --- the statements: one per group, every month of the trend at once ------------------------

# Active services of each month (active at any instant of it) and those billed for it: a row
# of a non-void invoice, of the service's subscription, whose period overlaps the month.
SERVICES_SQL = f"""
WITH {MONTHS},
active AS (
    SELECT mo.month, count(*) AS services
      FROM wholesale_service sv
     CROSS JOIN LATERAL generate_series(
           date_trunc('month', GREATEST(sv.activated_at, %(first_start)s) AT TIME ZONE %(tz)s),
           date_trunc('month', (LEAST(COALESCE(sv.ended_at, %(last_end)s), %(last_end)s)
                                - interval '1 microsecond') AT TIME ZONE %(tz)s),
           interval '1 month') AS bucket
      JOIN months mo ON mo.month = bucket::date
           AND sv.activated_at < mo.ends AND (sv.ended_at IS NULL OR sv.ended_at > mo.starts)
     WHERE sv.activated_at < %(last_end)s
       AND (sv.ended_at IS NULL OR sv.ended_at > %(first_start)s)
     GROUP BY mo.month
),
billed AS (
    SELECT mo.month, count(DISTINCT l.subscription_id) AS services
      FROM billing_invoiceline l
     CROSS JOIN LATERAL generate_series(
           date_trunc('month', GREATEST(l.period_start, %(first_start)s) AT TIME ZONE %(tz)s),
           date_trunc('month', (LEAST(l.period_end, %(last_end)s) - interval '1 microsecond')
                               AT TIME ZONE %(tz)s),
           interval '1 month') AS bucket
      JOIN months mo ON mo.month = bucket::date
           AND l.period_start < mo.ends AND l.period_end > mo.starts
      JOIN billing_subscription s ON s.id = l.subscription_id
      JOIN wholesale_service sv ON sv.id = s.service_id
           AND sv.activated_at < mo.ends AND (sv.ended_at IS NULL OR sv.ended_at > mo.starts)
     WHERE l.subscription_id IS NOT NULL
       AND l.period_start < %(last_end)s AND l.period_end > %(first_start)s
       AND l.invoice_id NOT IN (SELECT id FROM billing_invoice WHERE status = 'void')
     GROUP BY mo.month
)
SELECT mo.month, COALESCE(a.services, 0) AS active, COALESCE(b.services, 0) AS billed
  FROM months mo
  LEFT JOIN active a ON a.month = mo.month
  LEFT JOIN billed b ON b.month = mo.month
 ORDER BY mo.month
"""

# Activations of each month and the issue day of their subscription's first non-void invoice.
LAG_SQL = f"""
WITH {MONTHS},
activations AS (
    SELECT mo.month, sv.id,
           CASE WHEN first.issued IS NOT NULL THEN
               GREATEST(first.issued - (sv.activated_at AT TIME ZONE %(tz)s)::date, 0) END AS lag
      FROM months mo
      JOIN wholesale_service sv ON sv.activated_at >= mo.starts AND sv.activated_at < mo.ends
           AND sv.activated_at >= %(first_start)s AND sv.activated_at < %(last_end)s
      LEFT JOIN billing_subscription s ON s.service_id = sv.id
      LEFT JOIN LATERAL (
          SELECT min(i.issue_date) AS issued FROM billing_invoice i
           WHERE i.subscription_id = s.id AND i.status <> 'void' AND i.issue_date IS NOT NULL
      ) AS first ON true
)
SELECT mo.month, count(a.id) AS activations, count(a.lag) AS invoiced,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.lag::float8) AS median
  FROM months mo
  LEFT JOIN activations a ON a.month = mo.month
 GROUP BY mo.month
 ORDER BY mo.month
"""

# A row breaks the pricing policy when its unit amount is not the catalog's without an applied
# override, or when it is a discount from neither a promotion nor an applied override.
POLICY_BREACH = """
(   (l.catalog_unit_amount IS NOT NULL AND l.unit_amount <> l.catalog_unit_amount
     AND (l.override_id IS NULL OR o.status IS DISTINCT FROM 'applied'))
 OR (l.kind = 'discount' AND (l.override_id IS NULL OR o.status IS DISTINCT FROM 'applied')
     AND s.promotion_id IS NULL)
)"""

PRICING_SQL = f"""
WITH {MONTHS},
issued AS (
    SELECT mo.month, i.id
      FROM billing_invoice i
      JOIN months mo ON mo.month = date_trunc('month', i.issue_date)::date
           AND i.issue_date < mo.end_day
     WHERE i.status <> 'void' AND i.kind <> 'credit_note'
       AND i.issue_date >= %(first)s AND i.issue_date < %(last_end_day)s
),
breaches AS (
    SELECT DISTINCT l.invoice_id
      FROM billing_invoiceline l
      JOIN billing_invoice i ON i.id = l.invoice_id
      LEFT JOIN billing_priceoverride o ON o.id = l.override_id
      LEFT JOIN billing_subscription s ON s.id = COALESCE(l.subscription_id, i.subscription_id)
     WHERE (l.kind = 'discount' OR l.unit_amount <> l.catalog_unit_amount)
       AND i.issue_date >= %(first)s AND i.issue_date < %(last_end_day)s
       AND {POLICY_BREACH}
)
SELECT mo.month, count(x.id) AS invoices, count(b.invoice_id) AS breaches
  FROM months mo
  LEFT JOIN issued x ON x.month = mo.month
  LEFT JOIN breaches b ON b.invoice_id = x.id
 GROUP BY mo.month
 ORDER BY mo.month
"""

# Money by day, then summed over each month's windows: billed revenue, credit notes, refunds,
# and the receivables at the month's end (issued before it, less what was paid before it).
# An invoice whose payments are no receivables' (a credit note, nothing owed, void, never
# issued), and those or disputed ones: the predicate of the partial index `invoice_unusual`.
NOT_RECEIVABLE = (
    "(i.kind = 'credit_note' OR i.total <= 0 OR i.status = 'void' OR i.issue_date IS NULL)"
)
UNUSUAL_INVOICE = (
    "(i.kind = 'credit_note' OR i.total <= 0 OR i.status = 'void' OR i.issue_date IS NULL"
    " OR i.disputed)"
)

MONEY_SQL = f"""
WITH {MONTHS},
billed AS (
    SELECT i.issue_date AS day,
           sum(i.total) FILTER (WHERE i.kind <> 'credit_note' AND i.total > 0) AS billed,
           sum(i.total) FILTER (WHERE i.kind <> 'credit_note' AND i.total > 0 AND i.disputed)
               AS disputed,
           sum(abs(i.total)) FILTER (WHERE i.kind = 'credit_note') AS credited
      FROM billing_invoice i
     WHERE i.status <> 'void' AND i.issue_date IS NOT NULL AND i.issue_date < %(last_end_day)s
       AND i.issue_date >= %(money_from)s
     GROUP BY i.issue_date
),
-- the few invoices whose payments count differently: not receivables, or disputed (a
-- partial index keeps them, so payments are never joined to the whole invoice table)
unusual AS (
    SELECT i.id, {NOT_RECEIVABLE} AS excluded, i.disputed
      FROM billing_invoice i
     WHERE {UNUSUAL_INVOICE}
),
paid AS (
    SELECT (p.received_at AT TIME ZONE %(tz)s)::date AS day,
           sum(CASE WHEN p.kind = 'refund' THEN -p.amount ELSE p.amount END)
               FILTER (WHERE u.id IS NULL OR NOT u.excluded) AS paid,
           sum(CASE WHEN p.kind = 'refund' THEN -p.amount ELSE p.amount END)
               FILTER (WHERE u.disputed AND NOT u.excluded) AS disputed,
           sum(p.amount) FILTER (WHERE p.kind = 'refund') AS refunded
      FROM billing_payment p
      LEFT JOIN unusual u ON u.id = p.invoice_id
     WHERE p.received_at < %(last_end)s AND p.received_at >= %(money_from_start)s
       AND (p.kind = 'refund' OR p.received_at >= %(carried_to_start)s)
     GROUP BY 1
),
days AS (
    SELECT COALESCE(b.day, p.day) AS day,
           COALESCE(b.billed, 0) AS billed, COALESCE(b.disputed, 0) AS billed_disputed,
           COALESCE(b.credited, 0) AS credited, COALESCE(p.paid, 0) AS paid,
           COALESCE(p.disputed, 0) AS paid_disputed, COALESCE(p.refunded, 0) AS refunded
      FROM billed b FULL JOIN paid p ON p.day = b.day
)
SELECT mo.month, mo.end_day - mo.start_day AS days,
       COALESCE(sum(d.billed) FILTER (WHERE d.day >= mo.start_day), 0) AS revenue,
       %(carried)s + COALESCE(sum(d.billed - d.paid) FILTER (WHERE d.day >= %(carried_to)s), 0)
           AS receivables,
       %(carried_disputed)s + COALESCE(sum(d.billed_disputed - d.paid_disputed)
                                       FILTER (WHERE d.day >= %(carried_to)s), 0) AS disputed,
       COALESCE(sum(d.credited) FILTER (WHERE d.day >= mo.end_day - %(velocity_days)s), 0)
           AS credited,
       COALESCE(sum(d.refunded) FILTER (WHERE d.day >= mo.end_day - %(velocity_days)s), 0)
           AS refunded,
       COALESCE(sum(d.billed) FILTER (WHERE d.day >= mo.end_day - %(velocity_days)s), 0)
           AS revenue_30
  FROM months mo
  LEFT JOIN days d ON d.day < mo.end_day
 GROUP BY mo.month, mo.start_day, mo.end_day
 ORDER BY mo.month
"""

# Work orders first completed in the month (their first move to completed or accepted), those
# with a task sent back within 14 days of it, and whether any invoice row charges for them.
DONE = """
done AS (
    SELECT w.id, w.address_id,
           LEAST(w.completed_at, (SELECT min(h.changed_at)
                                    FROM workorders_workorderstatuschange h
                                   WHERE h.work_order_id = w.id
                                     AND h.to_status IN ('completed', 'accepted'))) AS done_at
      FROM workorders_workorder w
     WHERE w.completed_at >= %(first_start)s -- first completed no later than completed_at
),
rated AS (
    SELECT mo.month, d.id, d.address_id, d.done_at,
           (SELECT min(e.at) FROM workorders_taskevent e
              JOIN workorders_task t ON t.id = e.task_id
             WHERE t.work_order_id = d.id AND e.kind = 'rejected'
               AND e.at >= d.done_at
               AND e.at <= d.done_at + make_interval(days => %(rework_days)s)) AS reworked_at,
           EXISTS (SELECT 1 FROM billing_invoiceline l
                     JOIN billing_invoice i ON i.id = l.invoice_id AND i.status <> 'void'
                    WHERE l.work_order_id = d.id) AS charged
      FROM months mo
      JOIN done d ON d.done_at >= mo.starts AND d.done_at < mo.ends
)"""

REWORK_SQL = f"""
WITH {MONTHS}, {DONE}
SELECT mo.month, count(r.id) AS completed,
       count(r.id) FILTER (WHERE r.reworked_at IS NOT NULL AND NOT r.charged) AS free_rework
  FROM months mo
  LEFT JOIN rated r ON r.month = mo.month
 GROUP BY mo.month
 ORDER BY mo.month
"""

SETTLEMENT_SQL = f"""
WITH {MONTHS}
SELECT mo.month, count(st.id) AS statements,
       COALESCE(sum(abs(st.actual_total - st.expected_total)), 0) AS variance,
       COALESCE(sum(st.expected_total), 0) AS expected
  FROM months mo
  LEFT JOIN billing_settlementstatement st ON st.month = mo.month
 GROUP BY mo.month
 ORDER BY mo.month
"""

# Orders placed in the month and the first validation each fails (address, plan, customer,
# provider, duplicate), or NULL.
CHECKED = f"""
checked AS (
    SELECT mo.month, o.id, o.reference, o.placed_at, o.address_id, o.unit, o.isp_id,
           CASE
             WHEN a.area_id IS NULL OR ar.id IS NULL OR NOT ar.is_active THEN 'address'
             WHEN o.isp_id IS NOT NULL AND o.offering_id IS NULL
                  AND NOT EXISTS (SELECT 1 FROM wholesale_service sv WHERE sv.order_id = o.id)
                  THEN 'plan'
             WHEN o.customer_id IS NULL THEN 'customer'
             WHEN o.isp_id IS NOT NULL AND NOT EXISTS (
                  SELECT 1 FROM billing_billingprovider p
                    JOIN accounts_organisation po ON po.id = p.organisation_id AND po.is_active
                   WHERE p.is_active
                     AND (p.id = arr.subscription_provider_id
                          OR (arr.subscription_provider_id IS NULL
                              AND p.organisation_id = o.isp_id))) THEN 'provider'
             WHEN o.isp_id IS NULL AND o.connection_cost_total IS NOT NULL AND NOT EXISTS (
                  SELECT 1 FROM billing_billingprovider p
                    JOIN accounts_organisation po ON po.id = p.organisation_id AND po.is_active
                   WHERE p.is_active AND p.organisation_id = o.connection_cost_billed_by_id)
                  THEN 'provider'
             WHEN EXISTS (SELECT 1 FROM wholesale_order d
                           WHERE d.address_id = o.address_id AND d.id <> o.id
                             AND lower(btrim(d.unit)) = lower(btrim(o.unit))
                             AND d.status IN {LIVE_ORDER}) THEN 'duplicate'
           END AS reason
      FROM months mo
      JOIN wholesale_order o ON o.placed_at >= mo.starts AND o.placed_at < mo.ends
           AND o.placed_at >= %(first_start)s AND o.placed_at < %(last_end)s
      JOIN gis_core_address a ON a.id = o.address_id
      LEFT JOIN areas_area ar ON ar.id = a.area_id
      LEFT JOIN billing_billingarrangement arr ON arr.isp_id = o.isp_id
)"""

ORDERS_SQL = f"""
WITH {MONTHS}, {CHECKED}
SELECT mo.month, count(c.id) AS orders, count(c.reason) AS failing
  FROM months mo
  LEFT JOIN checked c ON c.month = mo.month
 GROUP BY mo.month
 ORDER BY mo.month
"""

# The open month alone: the same columns as SERVICES_SQL for one month, written so that it
# reads only that month's rows (the rows of invoices whose period reaches into the month).
OPEN_SERVICES_SQL = """
WITH billed AS (
    SELECT DISTINCT l.subscription_id
      FROM billing_invoiceline l
     WHERE l.subscription_id IS NOT NULL
       AND l.period_start < %(last_end)s AND l.period_end > %(first_start)s
       AND l.invoice_id NOT IN (SELECT id FROM billing_invoice WHERE status = 'void')
)
SELECT %(first)s::date AS month, count(*) AS active, count(b.subscription_id) AS billed
  FROM wholesale_service sv
  LEFT JOIN billing_subscription s ON s.service_id = sv.id
  LEFT JOIN billed b ON b.subscription_id = s.id
 WHERE sv.activated_at < %(last_end)s
   AND (sv.ended_at IS NULL OR sv.ended_at > %(first_start)s)
"""

QUERIES = {
    "services": SERVICES_SQL,
    "lag": LAG_SQL,
    "pricing": PRICING_SQL,
    "money": MONEY_SQL,
    "rework": REWORK_SQL,
    "settlement": SETTLEMENT_SQL,
    "orders": ORDERS_SQL,
}

# What computes the open month alone (the others take a one-month range as they are).
# Pricing of the open month alone: its invoices and those breaking the policy, counted.
OPEN_PRICING_SQL = f"""
SELECT %(first)s::date AS month,
       (SELECT count(*) FROM billing_invoice i
         WHERE i.issue_date >= %(first)s AND i.issue_date < %(last_end_day)s
           AND i.status <> 'void' AND i.kind <> 'credit_note') AS invoices,
       (SELECT count(DISTINCT l.invoice_id)
          FROM billing_invoiceline l
          -- the few rows off the catalog (partial index line_off_policy), each looked up
          -- (OFFSET 0 keeps the lookups: the planner cannot tell how few rows there are)
         CROSS JOIN LATERAL (
               SELECT i.subscription_id FROM billing_invoice i
                WHERE i.id = l.invoice_id
                  AND i.issue_date >= %(first)s AND i.issue_date < %(last_end_day)s
                  AND i.status <> 'void' AND i.kind <> 'credit_note'
               OFFSET 0) i
          LEFT JOIN LATERAL (
               SELECT o.status FROM billing_priceoverride o WHERE o.id = l.override_id
               OFFSET 0) o ON true
          LEFT JOIN LATERAL (
               SELECT s.promotion_id FROM billing_subscription s
                WHERE s.id = COALESCE(l.subscription_id, i.subscription_id)
               OFFSET 0) s ON true
         WHERE (l.kind = 'discount' OR l.unit_amount <> l.catalog_unit_amount)
           AND {POLICY_BREACH}) AS breaches
"""

OPEN_QUERIES = {**QUERIES, "services": OPEN_SERVICES_SQL, "pricing": OPEN_PRICING_SQL}

REASONS = {
    "address": "address: outside every area",
    "plan": "plan: an ISP order with no offering and no service",
    "customer": "billing: no customer to invoice",
    "provider": "billing: no billing provider able to bill it",
    "duplicate": "duplicate: another live order on the same address and unit",
}


# --- the KPIs -------------------------------------------------------------------------------


def _ratio(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return Decimal(numerator) * HUNDRED / Decimal(denominator)


@dataclass(frozen=True)
class Kpi:
    """One board metric: how it is read from its statement's row, and its thresholds.

    `target`/`alert` apply to the value, or (DSO) to its rise over the quarter before, in %.
    ok: value < target (≤ when target_inclusive); bad: value ≥ alert (> when alert_strict).
    """

    key: str
    title: str
    query: str
    unit: str  # "%" or "days"
    target: Decimal
    alert: Decimal
    target_inclusive: bool
    alert_strict: bool
    how: str
    drill: str
    read: Callable[[dict], tuple[Decimal | None, Decimal | int, Decimal | int, dict]]
    quarter_over_quarter: bool = False

    @property
    def target_text(self) -> str:
        sign = "≤" if self.target_inclusive else "<"
        if self.quarter_over_quarter:
            return f"stable or falling (rise ≤ {self.target} % q/q)"
        return f"{sign} {self.target} {self.unit}"

    @property
    def alert_text(self) -> str:
        sign = ">" if self.alert_strict else "≥"
        if self.quarter_over_quarter:
            return f"rise {sign} {self.alert} % q/q"
        return f"{sign} {self.alert} {self.unit}"

    def status(self, measured: Decimal | None) -> str:
        """The colour of a measured value (the value, or for DSO its q/q rise)."""
        if measured is None:
            return NONE
        if (measured > self.alert) if self.alert_strict else (measured >= self.alert):
            return BAD
        if (measured <= self.target) if self.target_inclusive else (measured < self.target):
            return OK
        return WARN


def _read_unbilled(row):
    active, billed = row["active"], row["billed"]
    return _ratio(active - billed, active), active - billed, active, {}


def _read_lag(row):
    median = row["median"]
    value = None if median is None else Decimal(str(median))
    pending = row["activations"] - row["invoiced"]
    return value, row["invoiced"], row["activations"], {"not_invoiced_yet": pending}


def _read_pricing(row):
    return _ratio(row["breaches"], row["invoices"]), row["breaches"], row["invoices"], {}


def _read_velocity(row):
    numerator = row["credited"] + row["refunded"]
    extra = {"credits": row["credited"], "refunds": row["refunded"]}
    return _ratio(numerator, row["revenue_30"]), numerator, row["revenue_30"], extra


def _dso(receivables, revenue, days) -> Decimal | None:
    if not revenue:
        return None
    return Decimal(receivables) * Decimal(days) / Decimal(revenue)


def _read_dso(row):
    value = _dso(row["receivables"], row["revenue"], row["days"])
    return value, row["receivables"], row["revenue"], {"days_in_period": row["days"]}


def _read_dso_adjusted(row):
    receivables = row["receivables"] - row["disputed"]
    value = _dso(receivables, row["revenue"], row["days"])
    extra = {"days_in_period": row["days"], "disputed_balance": row["disputed"]}
    return value, receivables, row["revenue"], extra


def _read_rework(row):
    return _ratio(row["free_rework"], row["completed"]), row["free_rework"], row["completed"], {}


def _read_settlement(row):
    extra = {"statements": row["statements"]}
    return _ratio(row["variance"], row["expected"]), row["variance"], row["expected"], extra


def _read_orders(row):
    return _ratio(row["failing"], row["orders"]), row["failing"], row["orders"], {}


KPIS: list[Kpi] = [
    Kpi(
        key="active-but-unbilled",
        title="Active-but-unbilled rate",
        query="services",
        unit="%",
        target=Decimal("0.25"),
        alert=Decimal("1"),
        target_inclusive=False,
        alert_strict=False,
        how="Services active at any moment of the month with no row of a non-void invoice of"
        " their subscription for a period overlapping the month, over the services active.",
        drill="the active services not billed for the month",
        read=_read_unbilled,
    ),
    Kpi(
        key="activation-to-invoice-lag",
        title="Activation-to-invoice lag",
        query="lag",
        unit="days",
        target=Decimal("1"),
        alert=Decimal("3"),
        target_inclusive=True,
        alert_strict=True,
        how="The median of the days from each activation of the month to the issue day of its"
        " subscription's first non-void invoice; activations not invoiced yet are counted but"
        " left out of the median.",
        drill="the month's activations with their first invoice and lag",
        read=_read_lag,
    ),
    Kpi(
        key="pricing-policy-exceptions",
        title="Pricing-policy exception rate",
        query="pricing",
        unit="%",
        target=Decimal("1"),
        alert=Decimal("2"),
        target_inclusive=False,
        alert_strict=False,
        how="Non-void invoices issued in the month with a row priced off the catalog without an"
        " applied override, or a discount from neither a promotion nor an applied override,"
        " over the non-void invoices issued (credit notes aside).",
        drill="the invoices with a policy exception and the row that breaks it",
        read=_read_pricing,
    ),
    Kpi(
        key="credit-refund-velocity",
        title="Credit and refund velocity",
        query="money",
        unit="%",
        target=Decimal("1.5"),
        alert=Decimal("3"),
        target_inclusive=False,
        alert_strict=False,
        how="Credit notes (their totals) and refunds of the 30 days ending with the month,"
        " over the revenue billed (non-void invoices' positive totals) in the same 30 days.",
        drill="the credit notes and refunds of the 30 days",
        read=_read_velocity,
    ),
    Kpi(
        key="no-charge-rework",
        title="No-charge rework rate",
        query="rework",
        unit="%",
        target=Decimal("5"),
        alert=Decimal("8"),
        target_inclusive=False,
        alert_strict=False,
        how="Work orders first completed in the month with a task sent back for rework within"
        " 14 days of that completion and no invoice row charging for them, over the work"
        " orders first completed in the month.",
        drill="the work orders reworked at no charge",
        read=_read_rework,
    ),
    Kpi(
        key="settlement-variance",
        title="Settlement variance",
        query="settlement",
        unit="%",
        target=Decimal("0.5"),
        alert=Decimal("1"),
        target_inclusive=True,
        alert_strict=True,
        how="The sum of |actual − expected| over the month's settlement statements, over the"
        " sum of their expected totals.",
        drill="the month's statements with their variance",
        read=_read_settlement,
    ),
    Kpi(
        key="dso",
        title="DSO",
        query="money",
        unit="days",
        target=DSO_STABLE_RISE,
        alert=Decimal("10"),
        target_inclusive=True,
        alert_strict=True,
        how="Receivables at the month's end (issued non-void invoices' totals less what was"
        " paid before the end) over the revenue billed in the month, times its days; coloured"
        " by its rise against three months before.",
        drill="the open invoices at the month's end",
        read=_read_dso,
        quarter_over_quarter=True,
    ),
    Kpi(
        key="dso-dispute-adjusted",
        title="Dispute-adjusted DSO",
        query="money",
        unit="days",
        target=DSO_STABLE_RISE,
        alert=Decimal("10"),
        target_inclusive=True,
        alert_strict=True,
        how="DSO without the balances of disputed invoices; coloured by its rise against three"
        " months before.",
        drill="the open undisputed invoices at the month's end",
        read=_read_dso_adjusted,
        quarter_over_quarter=True,
    ),
    Kpi(
        key="data-quality-failures",
        title="Data-quality failure rate",
        query="orders",
        unit="%",
        target=Decimal("1"),
        alert=Decimal("2"),
        target_inclusive=False,
        alert_strict=False,
        how="Orders placed in the month failing a validation — address outside every area, an"
        " ISP order with no plan, no customer or no billing provider able to bill it, another"
        " live order on the same address and unit — over the orders placed.",
        drill="the failing orders, each with its first failing check",
        read=_read_orders,
    ),
]
KPI_BY_KEY = {kpi.key: kpi for kpi in KPIS}


@dataclass
class TrendPoint:
    month: dt.date
    value: Decimal | None
    status: str


@dataclass
class Figure:
    """One KPI for one month: value, its parts, thresholds, colour, how, and its trend."""

    kpi: Kpi
    month: dt.date
    value: Decimal | None
    numerator: Decimal | int
    denominator: Decimal | int
    status: str
    trend: list[TrendPoint]
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.kpi.key

    @property
    def display(self) -> str:
        return display(self.value, self.kpi.unit)

    @property
    def parts(self) -> str:
        """The numerator and denominator as the page shows them."""
        if self.kpi.key == "activation-to-invoice-lag":
            waiting = self.extra.get("not_invoiced_yet", 0)
            return f"{self.numerator} of {self.denominator} activations invoiced, {waiting} not yet"
        return f"{_plain(self.numerator)} / {_plain(self.denominator)}"

    @property
    def change_display(self) -> str:
        change = self.extra.get("change")
        if change is None:
            return "no figure three months before"
        return f"{change:+.1f} % against {display(self.extra.get('quarter_before'), 'days')}"


def _plain(number) -> str:
    if isinstance(number, Decimal) and number != number.to_integral_value():
        return f"{number:,.2f}"
    return f"{number:,.0f}" if number is not None else "—"


def display(value: Decimal | None, unit: str) -> str:
    """A KPI value for people: "0.42 %", "1.5 days", "—" when there is none."""
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2f} %"
    return f"{value:.1f} days"


def _rows(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _change(value: Decimal | None, before: Decimal | None) -> Decimal | None:
    """The rise of `value` over `before`, in % (None when either is missing or before is 0)."""
    if value is None or before is None or before == 0:
        return None
    return (value - before) * HUNDRED / before


def _decoded(text: str) -> dict:
    """A statement row kept as JSON, its numbers back as int or exact Decimal."""
    row = json.loads(text, parse_float=Decimal)
    row["month"] = dt.date.fromisoformat(row["month"])
    return row


def _stored(queries: set[str], first: dt.date, last: dt.date) -> dict[str, dict]:
    """The kept rows of these statements for the months first…last: {query: {month: row}}."""
    found: dict[str, dict] = {query: {} for query in queries}
    if last < first:
        return found
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT statement, parts::text FROM {KpiMonth._meta.db_table}"
            " WHERE statement = ANY(%s) AND month BETWEEN %s AND %s",
            [sorted(queries), first, last],
        )
        for query, text in cursor.fetchall():
            row = _decoded(text)
            found[query][row["month"]] = row
    return found


def _as_json(query: str, sql: str) -> str:
    """A statement as rows of (query, its row as JSON), its parameters named after it."""
    return (
        f"SELECT '{query}' AS query, to_jsonb(r)::text FROM ({sql.replace('%(', f'%({query}_')}) r"
    )


def _live_sql(plans: dict[str, tuple[str, dict]]) -> tuple[str, dict]:
    """The statements planned {query: (sql, params)} as one statement and its parameters."""
    sql = "\nUNION ALL\n".join(_as_json(query, text) for query, (text, _) in plans.items())
    params = {
        f"{query}_{name}": value
        for query, (_, given) in plans.items()
        for name, value in given.items()
    }
    return sql, params


def _live(plans: dict[str, tuple[str, dict]]) -> dict[str, dict]:
    """Run the statements planned {query: (sql, params)} as one: {query: {month: row}}."""
    found: dict[str, dict] = {query: {} for query in plans}
    if not plans:
        return found
    with connection.cursor() as cursor:
        cursor.execute(*_live_sql(plans))
        for query, text in cursor.fetchall():
            row = _decoded(text)
            found[query][row["month"]] = row
    return found


def _open_params(month: dt.date, before: dict | None, today: dt.date | None) -> dict:
    """The parameters of the open month alone; the money statement carries the balances kept
    for the month before (`before`) and sums only the days since (and the 30 days' moves)."""
    params = _params(month, month, today)
    if before is not None:
        money_from = min(month, params["last_end_day"] - dt.timedelta(days=VELOCITY_DAYS))
        params.update(
            money_from=money_from,
            money_from_start=local_midnight(money_from),
            carried_to=month,
            carried_to_start=local_midnight(month),
            carried=before["receivables"],
            carried_disputed=before["disputed"],
        )
    return params


def _plans(stored: dict[str, dict], months: list[dt.date], today: dt.date | None) -> dict:
    """What to compute live, {query: (sql, params)}: from the first month not kept on, or the
    open month alone (when the trend reaches it)."""
    open_month, month = current_month(today), months[-1]
    plans = {}
    for query in sorted(stored):
        missing = [m for m in months if m < open_month and m not in stored[query]]
        if missing:
            plans[query] = (QUERIES[query], _params(missing[0], month, today))
        elif month == open_month:
            before = stored[query].get(add_months(month, -1)) if query == "money" else None
            plans[query] = (OPEN_QUERIES[query], _open_params(month, before, today))
    return plans


def _rows_of_trend(queries: set[str], first: dt.date, month: dt.date, today: dt.date | None):
    """Every month first…month of these statements: closed months as kept by the daily run
    (`kpi_months_refresh`), the open month computed alone; a statement with a closed month not
    kept is computed live from that month on. Two statements at most."""
    open_month = current_month(today)
    stored = _stored(queries, first, min(month, add_months(open_month, -1)))
    months = [add_months(first, k) for k in range(TREND_MONTHS)]
    live = _live(_plans(stored, months, today))
    return {
        query: [live.get(query, {}).get(m) or stored[query][m] for m in months] for query in queries
    }


def kpi_figures(
    month: dt.date, *, keys: list[str] | None = None, today: dt.date | None = None
) -> list[Figure]:
    """The KPIs of `month` with their 12-month trends: closed months as kept, the open month
    (and any month not kept yet) computed, in two statements."""
    kpis = [KPI_BY_KEY[key] for key in keys] if keys else KPIS
    first = add_months(month, -(TREND_MONTHS - 1))
    results = _rows_of_trend({k.query for k in kpis}, first, month, today)
    figures = []
    for kpi in kpis:
        read = [kpi.read(row) for row in results[kpi.query]]
        values = [value for value, *_ in read]
        points = []
        for index, (row, value) in enumerate(zip(results[kpi.query], values, strict=True)):
            if kpi.quarter_over_quarter:
                before = values[index - 3] if index >= 3 else None
                measured = _change(value, before)
            else:
                measured = value
            points.append(TrendPoint(month=row["month"], value=value, status=kpi.status(measured)))
        value, numerator, denominator, extra = read[-1]
        if kpi.quarter_over_quarter:
            before = values[-4] if len(values) >= 4 else None
            extra = {**extra, "quarter_before": before, "change": _change(value, before)}
        figures.append(
            Figure(
                kpi=kpi,
                month=month,
                value=value,
                numerator=numerator,
                denominator=denominator,
                status=points[-1].status,
                trend=points,
                extra=extra,
            )
        )
    return figures


# --- keeping closed months -------------------------------------------------------------------

REFRESH_MONTHS = 13


@transaction.atomic
def kpi_months_refresh(
    *, on: dt.date, run: BillingRun | None = None, months: int = REFRESH_MONTHS
) -> dict:
    """Keep the statements' rows of the `months` closed months before `on`'s month (a daily
    step): each statement computes them all at once and one INSERT … SELECT writes them,
    replacing what was kept (late rework, backdated payments, voids move closed months)."""
    last = add_months(current_month(on), -1)
    first = add_months(last, -(months - 1))
    params = _params(first, last, on)
    written = 0
    with connection.cursor() as cursor:
        for query, sql in QUERIES.items():
            cursor.execute(
                f"""INSERT INTO {KpiMonth._meta.db_table} (month, statement, parts, computed_at)
                    SELECT r.month, %(statement)s, to_jsonb(r), now() FROM ({sql}) AS r
                    ON CONFLICT (month, statement)
                    DO UPDATE SET parts = EXCLUDED.parts, computed_at = EXCLUDED.computed_at""",
                {**params, "statement": query},
            )
            written += cursor.rowcount
    return {"months": months, "first": first.isoformat(), "last": last.isoformat(), "rows": written}


def month_totals(month: dt.date, *, today: dt.date | None = None) -> dict:
    """This month's money: invoiced (non-void, credit notes aside), collected (payments less
    refunds received), outstanding now (balances of issued invoices), open exceptions."""
    params = _params(month, month, today)
    sql = f"""
    WITH {MONTHS}
    SELECT
      (SELECT COALESCE(sum(i.total), 0) FROM billing_invoice i, months mo
        WHERE i.status <> 'void' AND i.kind <> 'credit_note'
          AND i.issue_date >= mo.start_day AND i.issue_date < mo.end_day) AS invoiced,
      (SELECT COALESCE(sum(CASE WHEN p.kind = 'refund' THEN -p.amount ELSE p.amount END), 0)
         FROM billing_payment p, months mo
        WHERE p.received_at >= mo.starts AND p.received_at < mo.ends) AS collected,
      (SELECT COALESCE(sum(i.total - i.amount_paid), 0) FROM billing_invoice i
        WHERE i.status = 'issued' AND i.kind <> 'credit_note' AND i.total > i.amount_paid)
          AS outstanding,
      (SELECT count(*) FILTER (WHERE severity = 'red') FROM billing_billingexception
        WHERE status = 'open') AS red,
      (SELECT count(*) FILTER (WHERE severity = 'amber') FROM billing_billingexception
        WHERE status = 'open') AS amber
    """
    return _rows(sql, params)[0]


# --- the rows behind each figure ------------------------------------------------------------

DRILL_SQL = {
    "active-but-unbilled": f"""
        WITH {MONTHS}
        SELECT sv.reference AS service, org.name AS isp, ad.label AS address, sv.unit,
               sv.activated_at AS activated, sv.ended_at AS ended, s.id AS subscription
          FROM months mo
          JOIN wholesale_service sv
            ON sv.activated_at < mo.ends AND (sv.ended_at IS NULL OR sv.ended_at > mo.starts)
          JOIN accounts_organisation org ON org.id = sv.isp_id
          JOIN gis_core_address ad ON ad.id = sv.address_id
          LEFT JOIN billing_subscription s ON s.service_id = sv.id
         WHERE NOT EXISTS (
               SELECT 1 FROM billing_invoiceline l
                 JOIN billing_invoice i ON i.id = l.invoice_id AND i.status <> 'void'
                WHERE l.subscription_id = s.id
                  AND l.period_start < mo.ends AND l.period_end > mo.starts)
         ORDER BY sv.activated_at, sv.id""",
    "activation-to-invoice-lag": f"""
        WITH {MONTHS}
        SELECT sv.reference AS service, org.name AS isp, sv.activated_at AS activated,
               s.id AS subscription, first.number AS first_invoice, first.issue_date AS issued,
               CASE WHEN first.issue_date IS NOT NULL THEN
               GREATEST(first.issue_date - (sv.activated_at AT TIME ZONE %(tz)s)::date, 0) END
                   AS lag_days
          FROM months mo
          JOIN wholesale_service sv ON sv.activated_at >= mo.starts AND sv.activated_at < mo.ends
          JOIN accounts_organisation org ON org.id = sv.isp_id
          LEFT JOIN billing_subscription s ON s.service_id = sv.id
          LEFT JOIN LATERAL (
              SELECT i.number, i.issue_date FROM billing_invoice i
               WHERE i.subscription_id = s.id AND i.status <> 'void' AND i.issue_date IS NOT NULL
               ORDER BY i.issue_date, i.id LIMIT 1) AS first ON true
         ORDER BY lag_days DESC NULLS FIRST, sv.activated_at, sv.id""",
    "pricing-policy-exceptions": f"""
        WITH {MONTHS}
        SELECT DISTINCT ON (i.id) i.number AS invoice, i.issue_date AS issued,
               i.total, l.description AS line, l.kind, l.unit_amount,
               l.catalog_unit_amount AS catalog, o.status AS override
          FROM months mo
          JOIN billing_invoice i ON i.issue_date >= mo.start_day AND i.issue_date < mo.end_day
          JOIN billing_invoiceline l ON l.invoice_id = i.id
          LEFT JOIN billing_priceoverride o ON o.id = l.override_id
          LEFT JOIN billing_subscription s ON s.id = COALESCE(l.subscription_id, i.subscription_id)
         WHERE i.status <> 'void' AND i.kind <> 'credit_note' AND {POLICY_BREACH}
         ORDER BY i.id, l.position, l.id""",
    "credit-refund-velocity": f"""
        WITH {MONTHS}
        SELECT * FROM (
          SELECT 'credit note' AS what, i.number AS document, i.issue_date AS day,
                 abs(i.total) AS amount, c.number AS corrects
            FROM months mo
            JOIN billing_invoice i ON i.issue_date >= mo.end_day - %(velocity_days)s
                 AND i.issue_date < mo.end_day
            LEFT JOIN billing_invoice c ON c.id = i.credits_id
           WHERE i.kind = 'credit_note' AND i.status <> 'void'
          UNION ALL
          SELECT 'refund', COALESCE(NULLIF(p.reference, ''), 'refund ' || p.id),
                 (p.received_at AT TIME ZONE %(tz)s)::date, p.amount, i.number
            FROM months mo
            JOIN billing_payment p ON p.kind = 'refund'
                 AND (p.received_at AT TIME ZONE %(tz)s)::date >= mo.end_day - %(velocity_days)s
                 AND p.received_at < mo.ends
            JOIN billing_invoice i ON i.id = p.invoice_id
        ) AS moves ORDER BY day, document""",
    "no-charge-rework": f"""
        WITH {MONTHS}, {DONE}
        SELECT r.id AS work_order, ad.label AS address, r.done_at AS completed,
               r.reworked_at AS sent_back
          FROM rated r JOIN gis_core_address ad ON ad.id = r.address_id
         WHERE r.reworked_at IS NOT NULL AND NOT r.charged
         ORDER BY r.done_at, r.id""",
    "settlement-variance": f"""
        WITH {MONTHS}
        SELECT org.name AS isp, st.month, st.expected_total AS expected,
               st.actual_total AS actual, st.actual_total - st.expected_total AS variance
          FROM months mo
          JOIN billing_settlementstatement st ON st.month = mo.month
          JOIN accounts_organisation org ON org.id = st.isp_id
         ORDER BY abs(st.actual_total - st.expected_total) DESC, org.name""",
    "dso": f"""
        WITH {MONTHS}
        SELECT * FROM (
          SELECT i.number AS invoice, i.issue_date AS issued, i.total,
                 i.total - COALESCE((SELECT sum(CASE WHEN p.kind = 'refund' THEN -p.amount
                                                      ELSE p.amount END)
                                       FROM billing_payment p
                                      WHERE p.invoice_id = i.id AND p.received_at < mo.ends), 0)
                     AS balance,
                 i.disputed
            FROM months mo
            JOIN billing_invoice i ON i.issue_date < mo.end_day
           WHERE i.status <> 'void' AND i.kind <> 'credit_note' AND i.total > 0
             AND (i.paid_at IS NULL OR i.paid_at >= mo.starts)
        ) AS receivable WHERE balance <> 0
        ORDER BY issued, invoice""",
    "data-quality-failures": f"""
        WITH {MONTHS}, {CHECKED}
        SELECT c.reference AS order_reference, c.placed_at AS placed, ad.label AS address, c.unit,
               org.name AS isp, c.reason
          FROM checked c
          JOIN gis_core_address ad ON ad.id = c.address_id
          LEFT JOIN accounts_organisation org ON org.id = c.isp_id
         WHERE c.reason IS NOT NULL
         ORDER BY c.placed_at, c.id""",
}
DRILL_SQL["dso-dispute-adjusted"] = DRILL_SQL["dso"].replace(
    "AND i.total > 0", "AND i.total > 0 AND NOT i.disputed"
)


@dataclass
class Drill:
    """The rows behind one KPI for one month: a page of them and how many there are."""

    kpi: Kpi
    month: dt.date
    columns: list[str]
    rows: list[dict]
    total: int


def kpi_rows(
    key: str, month: dt.date, *, limit: int = 50, offset: int = 0, today: dt.date | None = None
) -> Drill:
    """The rows behind KPI `key` in `month`, `limit` from `offset`, with their count."""
    kpi = KPI_BY_KEY.get(key)
    if kpi is None:
        raise DomainError(f"there is no KPI “{key}”", field="key")
    params = _params(month, month, today)
    sql = DRILL_SQL[key]
    page = _rows(
        f"{sql} LIMIT %(limit)s OFFSET %(offset)s", {**params, "limit": limit, "offset": offset}
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS behind", params)
        total = cursor.fetchone()[0]
        cursor.execute(f"SELECT * FROM ({sql}) AS behind LIMIT 0", params)
        columns = [column.name for column in cursor.description]
    if key == "data-quality-failures":
        for row in page:
            row["reason"] = REASONS.get(row["reason"], row["reason"])
    return Drill(kpi=kpi, month=month, columns=columns, rows=page, total=total)
