"""Wholesale settlement: what each ISP owes the owner for a month, from actual activations at
the agreed wholesale rates, issued as an invoice of the owner's wholesale provider to the ISP.

The rules (docs/billing-assurance-settlement.md):

- every service of an ISP whose arrangement names a wholesale provider counts for the days
  of the month it was active, day by day in TIME_ZONE: a day active longer than the
  arrangement's `full_day_min_hours` (12) counts 1, a day active at least
  `half_day_min_hours` (7) counts ½, less counts 0; a day active from its start to its end
  counts 1 whatever the thresholds (a 23-hour day when the clocks change);
- amount = monthly fee × day units ÷ days in the month, rounded to the cent per line;
- a profile change splits the service's days by product; a day with a change counts once,
  for the product it carried longest (the later one on a tie);
- the fee: the service's `wholesale_monthly_fee` (the snapshot taken at activation or the
  last profile change) for its current product, the catalog fee for earlier products;
- one-time fees: the activation product's `one_time_fee`, for services activated in the
  month, except a switch from another ISP (the line is up already: no set-up work);
- wholesale promotions (scope wholesale, per ISP and/or area and/or offering): for services
  activated within the promotion's validity, a discount on the days within `months` months
  of the activation (percent off the day amounts, or an amount per month prorated by day
  units and never more than the day amounts); one promotion per service, the most specific;
- `actual_total` is the sum of the statement's lines; `expected_total` is the same month
  recomputed from the services' history alone (the instants of their ServiceChange rows, the
  products' catalog fees): the variance shows services whose snapshot fee or recorded
  instants differ from the history.

Set-based: one INSERT … SELECT computes every line of every ISP (generate_series over the
month's days, greatest/least of the intervals); a loop runs only over the ISPs, to issue
their invoices. Idempotent per (isp, month): an issued statement never changes; a draft (the
month not over yet) is regenerated on every run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from billing.invoicing import Line, invoice_create, money
from billing.lifecycle import InvoiceKind, LineKind, StatementStatus
from billing.models import BillingArrangement, BillingRun, SettlementStatement
from billing.periods import add_months, first_of_month, local_midnight
from common.errors import DomainError

LOCK_BASE = 7_100_000  # advisory lock keys: one per settled month

COMPUTE_SQL = """
CREATE TEMP TABLE IF NOT EXISTS billing_settle (
    source text, isp_id bigint, kind text, service_id bigint, address_id bigint,
    product_id bigint, promotion_id bigint, full_days int, half_days int, units numeric,
    rate numeric, amount numeric, description text
) ON COMMIT DROP;
TRUNCATE billing_settle;
INSERT INTO billing_settle (source, isp_id, kind, service_id, address_id, product_id,
                            promotion_id, full_days, half_days, units, rate, amount, description)
WITH isps AS (
    SELECT a.isp_id, a.half_day_min_hours AS half_h, a.full_day_min_hours AS full_h
    FROM billing_billingarrangement a
    WHERE a.wholesale_provider_id IS NOT NULL AND a.isp_id = ANY(%(isps)s)
),
days AS (
    SELECT d::date AS day, d AT TIME ZONE %(tz)s AS day_start,
           (d + interval '1 day') AT TIME ZONE %(tz)s AS day_end
    FROM generate_series(%(first)s::timestamp, %(last)s::timestamp, interval '1 day') d
),
svc_all AS (
    SELECT s.id, s.isp_id, s.address_id, s.order_id, s.reference, s.product_id,
           s.wholesale_monthly_fee, s.activated_at, s.previous_id,
           coalesce(s.ended_at, %(until)s) AS ended_at, i.half_h, i.full_h
    FROM wholesale_service s JOIN isps i ON i.isp_id = s.isp_id
),
svc AS (  -- the services as their own rows say: active within the month
    SELECT * FROM svc_all WHERE activated_at < %(m_end)s AND ended_at > %(m_start)s
),
changes AS (
    SELECT c.service_id, c.at, c.from_product_id, c.to_product_id,
           row_number() OVER (PARTITION BY c.service_id ORDER BY c.at, c.id) AS n
    FROM wholesale_servicechange c JOIN svc s ON s.id = c.service_id
    WHERE c.kind = 'profile_changed'
),
actual_points AS (
    SELECT s.id AS service_id, s.activated_at AS starts, 0 AS n,
           coalesce(first_change.from_product_id, s.product_id) AS product_id
    FROM svc s
    LEFT JOIN changes first_change ON first_change.service_id = s.id AND first_change.n = 1
    UNION ALL
    SELECT ch.service_id, ch.at, ch.n, ch.to_product_id FROM changes ch
),
actual_segs AS (
    SELECT 'actual'::text AS source, p.service_id, p.product_id, p.starts,
           coalesce(lead(p.starts) OVER w, s.ended_at) AS ends,
           CASE WHEN lead(p.starts) OVER w IS NULL THEN s.wholesale_monthly_fee
                ELSE pr.monthly_fee END AS rate
    FROM actual_points p
    JOIN svc s ON s.id = p.service_id
    JOIN wholesale_product pr ON pr.id = p.product_id
    WINDOW w AS (PARTITION BY p.service_id ORDER BY p.starts, p.n)
),
hist AS (
    SELECT c.service_id, c.kind, c.at, c.to_product_id,
           lead(c.at) OVER (PARTITION BY c.service_id ORDER BY c.at, c.id) AS next_at
    FROM wholesale_servicechange c JOIN svc_all s ON s.id = c.service_id
),
expected_segs AS (
    SELECT 'expected'::text AS source, h.service_id, h.to_product_id AS product_id,
           h.at AS starts, coalesce(h.next_at, %(until)s) AS ends,
           pr.monthly_fee AS rate
    FROM hist h JOIN wholesale_product pr ON pr.id = h.to_product_id
    WHERE h.kind IN ('activated', 'switched_in', 'profile_changed')
      AND h.at < %(m_end)s AND coalesce(h.next_at, %(until)s) > %(m_start)s
),
segs AS (SELECT * FROM actual_segs UNION ALL SELECT * FROM expected_segs),
seg_days AS (
    SELECT g.source, g.service_id, g.product_id, g.rate, g.starts, d.day, d.day_start,
           d.day_end,
           extract(epoch FROM least(g.ends, d.day_end) - greatest(g.starts, d.day_start))
             / 3600 AS hours
    FROM segs g JOIN days d ON g.starts < d.day_end AND g.ends > d.day_start
    JOIN svc_all sa ON sa.id = g.service_id
    WHERE g.ends > g.starts
      -- a day the address is excluded from wholesale fees is not settled
      AND NOT EXISTS (
          SELECT 1 FROM billing_wholesaleexclusion x
           WHERE x.address_id = sa.address_id AND x.valid_from <= d.day
             AND (x.valid_to IS NULL OR x.valid_to >= d.day))
),
service_days AS (
    SELECT sd.source, sd.service_id, sd.day, sd.day_start, sum(sd.hours) AS hours,
           extract(epoch FROM max(sd.day_end) - max(sd.day_start)) / 3600 AS day_hours,
           (array_agg(sd.product_id ORDER BY sd.hours DESC, sd.starts DESC))[1] AS product_id,
           (array_agg(sd.rate ORDER BY sd.hours DESC, sd.starts DESC))[1] AS rate
    FROM seg_days sd
    GROUP BY sd.source, sd.service_id, sd.day, sd.day_start
),
units AS (
    SELECT x.source, x.service_id, x.day_start, x.product_id, x.rate, s.isp_id, s.address_id,
           CASE WHEN x.hours >= x.day_hours OR x.hours > s.full_h THEN 1.0
                WHEN x.hours >= s.half_h THEN 0.5
                ELSE 0 END AS unit
    FROM service_days x JOIN svc_all s ON s.id = x.service_id
),
promo_pick AS (  -- one wholesale promotion per service: the most specific, then the newest
    SELECT DISTINCT ON (s.id) s.id AS service_id, p.id AS promotion_id, p.kind, p.value,
           s.activated_at + make_interval(months => p.months) AS ends_at
    FROM svc_all s
    JOIN gis_core_address ad ON ad.id = s.address_id
    JOIN wholesale_order o ON o.id = s.order_id
    JOIN billing_promotion p
      ON p.scope = 'wholesale'
     AND (p.isp_id IS NULL OR p.isp_id = s.isp_id)
     AND (p.area_id IS NULL OR p.area_id = ad.area_id)
     AND (p.offering_id IS NULL OR p.offering_id = o.offering_id)
     AND (s.activated_at AT TIME ZONE %(tz)s)::date
         BETWEEN p.valid_from AND coalesce(p.valid_to, 'infinity'::date)
    WHERE s.activated_at < %(m_end)s
    ORDER BY s.id, (p.offering_id IS NOT NULL) DESC, (p.area_id IS NOT NULL) DESC,
             (p.isp_id IS NOT NULL) DESC, p.valid_from DESC, p.id DESC
),
lines AS (
    SELECT u.source, u.isp_id, 'wholesale'::text AS kind, u.service_id, u.address_id,
           u.product_id, NULL::bigint AS promotion_id,
           count(*) FILTER (WHERE u.unit = 1)::int AS full_days,
           count(*) FILTER (WHERE u.unit = 0.5)::int AS half_days,
           sum(u.unit) AS units, u.rate,
           round(sum(u.unit) * u.rate / %(dim)s, 2) AS amount
    FROM units u
    GROUP BY u.source, u.isp_id, u.service_id, u.address_id, u.product_id, u.rate
    UNION ALL
    SELECT u.source, u.isp_id, 'discount', u.service_id, u.address_id, NULL, pp.promotion_id,
           count(*) FILTER (WHERE u.unit = 1)::int, count(*) FILTER (WHERE u.unit = 0.5)::int,
           sum(u.unit), pp.value,
           -round(sum(CASE WHEN pp.kind = 'percent'
                           THEN u.unit * u.rate / %(dim)s * pp.value / 100
                           ELSE least(u.unit * pp.value, u.unit * u.rate) / %(dim)s END), 2)
    FROM units u JOIN promo_pick pp ON pp.service_id = u.service_id
    WHERE u.day_start < pp.ends_at AND u.unit > 0
    GROUP BY u.source, u.isp_id, u.service_id, u.address_id, pp.promotion_id, pp.value
    UNION ALL
    -- one-time fees as the services' rows say: new activations (not a switch) in the month
    SELECT 'actual', s.isp_id, 'one_time', s.id, s.address_id, p.product_id, NULL, 0, 0, 1,
           pr.one_time_fee, pr.one_time_fee
    FROM svc s
    JOIN actual_points p ON p.service_id = s.id AND p.n = 0
    JOIN wholesale_product pr ON pr.id = p.product_id
    WHERE s.activated_at >= %(m_start)s AND s.previous_id IS NULL AND pr.one_time_fee > 0
    UNION ALL
    -- … and as the history says: an `activated` row (a switch is `switched_in`) in the month
    SELECT 'expected', s.isp_id, 'one_time', s.id, s.address_id, h.to_product_id, NULL, 0, 0,
           1, pr.one_time_fee, pr.one_time_fee
    FROM hist h
    JOIN svc_all s ON s.id = h.service_id
    JOIN wholesale_product pr ON pr.id = h.to_product_id
    WHERE h.kind = 'activated' AND h.at >= %(m_start)s AND h.at < %(m_end)s
      AND pr.one_time_fee > 0
)
SELECT l.source, l.isp_id, l.kind, l.service_id, l.address_id, l.product_id, l.promotion_id,
       l.full_days, l.half_days, l.units, l.rate, l.amount,
       left(CASE l.kind
            WHEN 'wholesale' THEN s.reference || ' · ' || pr.name || ': ' || l.full_days
                 || ' full + ' || l.half_days || ' half days at ' || l.rate || ' a month'
            WHEN 'one_time' THEN s.reference || ' · one-time fee ' || pr.name
            ELSE s.reference || ' · promotion ' || promo.name
       END, 300)
FROM lines l
JOIN wholesale_service s ON s.id = l.service_id
LEFT JOIN wholesale_product pr ON pr.id = l.product_id
LEFT JOIN billing_promotion promo ON promo.id = l.promotion_id
"""

STATEMENTS_SQL = """
INSERT INTO billing_settlementstatement
    (isp_id, provider_id, month, status, currency, service_days, expected_total, actual_total,
     generated_at, created_at, updated_at)
SELECT a.isp_id, a.wholesale_provider_id, %(first)s, 'draft', p.currency,
       coalesce(t.units, 0), coalesce(t.expected, 0), coalesce(t.actual, 0),
       %(now)s, %(now)s, %(now)s
FROM billing_billingarrangement a
JOIN billing_billingprovider p ON p.id = a.wholesale_provider_id
LEFT JOIN (
    SELECT isp_id,
           sum(units) FILTER (WHERE source = 'actual' AND kind = 'wholesale') AS units,
           sum(amount) FILTER (WHERE source = 'actual') AS actual,
           sum(amount) FILTER (WHERE source = 'expected') AS expected
    FROM billing_settle GROUP BY isp_id
) t ON t.isp_id = a.isp_id
WHERE a.isp_id = ANY(%(isps)s)
  -- an ISP with nothing to settle gets no statement (a draft of it is brought to zero)
  AND (t.isp_id IS NOT NULL OR EXISTS (
        SELECT 1 FROM billing_settlementstatement x
        WHERE x.isp_id = a.isp_id AND x.month = %(first)s))
ON CONFLICT (isp_id, month) DO UPDATE
SET provider_id = excluded.provider_id, currency = excluded.currency,
    service_days = excluded.service_days, expected_total = excluded.expected_total,
    actual_total = excluded.actual_total, generated_at = excluded.generated_at,
    updated_at = excluded.updated_at
WHERE billing_settlementstatement.status = 'draft'
"""

LINES_SQL = """
INSERT INTO billing_settlementline
    (statement_id, kind, service_id, address_id, product_id, description, full_days,
     half_days, monthly_rate, amount)
SELECT st.id, t.kind, t.service_id, t.address_id, t.product_id, t.description, t.full_days,
       t.half_days, t.rate, t.amount
FROM billing_settle t
JOIN billing_settlementstatement st ON st.isp_id = t.isp_id AND st.month = %(first)s
WHERE t.source = 'actual' AND st.status = 'draft'
ORDER BY st.id, t.service_id, CASE t.kind WHEN 'wholesale' THEN 0 WHEN 'one_time' THEN 1
                                          ELSE 2 END, t.product_id
"""

INVOICE_ROWS_SQL = """
SELECT t.kind, t.product_id, pr.name, t.promotion_id, promo.name,
       count(DISTINCT t.service_id), sum(t.units), sum(t.amount), min(t.rate), max(t.rate)
FROM billing_settle t
LEFT JOIN wholesale_product pr ON pr.id = t.product_id
LEFT JOIN billing_promotion promo ON promo.id = t.promotion_id
WHERE t.source = 'actual' AND t.isp_id = %s
GROUP BY t.kind, t.product_id, pr.name, t.promotion_id, promo.name
ORDER BY CASE t.kind WHEN 'wholesale' THEN 0 WHEN 'one_time' THEN 1 ELSE 2 END, pr.name,
         promo.name
"""


def _units_text(units: Decimal) -> str:
    return f"{units.normalize():f}" if units else "0"


def _invoice_lines(isp_id: int, first: dt.date, period: tuple) -> list[Line]:
    """The invoice's rows: one per product's service days, one-time fees, promotions."""
    with connection.cursor() as cursor:
        cursor.execute(INVOICE_ROWS_SQL, [isp_id])
        rows = cursor.fetchall()
    lines = []
    for kind, _, product, _, promotion, services, units, amount, low, high in rows:
        units = Decimal(units or 0)
        amount = money(amount or 0)
        plural = "s" if services != 1 else ""
        if kind == LineKind.WHOLESALE:
            rate = f"{money(low)}" if low == high else f"{money(low)}–{money(high)}"
            lines.append(
                Line(
                    kind=LineKind.WHOLESALE,
                    description=f"{product}: {_units_text(units)} service days in {first:%B %Y}"
                    f" ({services} service{plural}, {rate} a month)",
                    quantity=units,
                    unit_amount=money(amount / units) if units else Decimal("0.00"),
                    amount=amount,
                    period_start=period[0],
                    period_end=period[1],
                )
            )
        elif kind == LineKind.ONE_TIME:
            lines.append(
                Line(
                    kind=LineKind.ONE_TIME,
                    description=f"One-time fee {product} ({services} activation{plural})",
                    quantity=Decimal(services),
                    unit_amount=money(low),
                    amount=amount,
                )
            )
        else:
            lines.append(
                Line(
                    kind=LineKind.DISCOUNT,
                    description=f"Promotion {promotion} ({services} service{plural})",
                    quantity=Decimal(services),
                    unit_amount=money(amount / services),
                    amount=amount,
                )
            )
    return lines


@transaction.atomic
def statements_generate(
    *,
    month: dt.date,
    run: BillingRun | None = None,
    issue: bool | None = None,
    on: dt.date | None = None,
) -> dict:
    """Generate (or regenerate, while draft) every ISP's statement of `month` and, once the
    month is over (or `issue`), issue each as a settlement invoice. Issued ones never change.

    Returns counts: {"statements", "issued", "lines", "unchanged"}.
    """
    first = first_of_month(month)
    today = timezone.localdate()
    if first > today:
        raise DomainError(f"{first:%B %Y} has not begun: it cannot be settled yet", field="month")
    after = add_months(first, 1)
    if issue is None:
        issue = after <= today
    m_start, m_end = local_midnight(first), local_midnight(after)
    with connection.cursor() as cursor:  # one run per month at a time; others wait, then see
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [LOCK_BASE + first.year * 12 + first.month]
        )
    issued_isps = set(
        SettlementStatement.objects.filter(month=first)
        .exclude(status=StatementStatus.DRAFT)
        .values_list("isp_id", flat=True)
    )
    arrangements = list(
        BillingArrangement.objects.filter(wholesale_provider__isnull=False)
        .exclude(isp_id__in=issued_isps)
        .select_related("wholesale_provider")
        .order_by("isp_id")
    )
    counts = {"statements": 0, "issued": 0, "lines": 0, "unchanged": len(issued_isps)}
    if not arrangements:
        return counts
    isp_ids = [arrangement.isp_id for arrangement in arrangements]
    now = timezone.now()
    params = {
        "isps": isp_ids,
        "tz": settings.TIME_ZONE,
        "first": first,
        "last": after - dt.timedelta(days=1),
        "m_start": m_start,
        "m_end": m_end,
        "dim": (after - first).days,
        "now": now,
        # a live service counts to the month's end: a month not over yet is a draft that
        # projects today's live services to its end (recomputed every day until it is over)
        "until": m_end,
    }
    with connection.cursor() as cursor:
        cursor.execute(COMPUTE_SQL, params)
        cursor.execute(
            "DELETE FROM billing_settlementline l USING billing_settlementstatement st"
            " WHERE l.statement_id = st.id AND st.month = %(first)s AND st.status = 'draft'"
            " AND st.isp_id = ANY(%(isps)s)",
            params,
        )
        cursor.execute(STATEMENTS_SQL, params)
        counts["statements"] = cursor.rowcount
        cursor.execute(LINES_SQL, params)
        counts["lines"] = cursor.rowcount
    if not issue:
        return counts
    providers = {arrangement.isp_id: arrangement.wholesale_provider for arrangement in arrangements}
    drafts = SettlementStatement.objects.select_for_update().filter(
        month=first, status=StatementStatus.DRAFT, isp_id__in=isp_ids
    )
    for statement in drafts.order_by("isp_id"):  # one invoice per ISP: a handful, not rows
        invoice, _ = invoice_create(
            provider=providers[statement.isp_id],
            kind=InvoiceKind.SETTLEMENT,
            idempotency_key=f"settlement:{statement.isp_id}:{first:%Y-%m}",
            lines=_invoice_lines(statement.isp_id, first, (m_start, m_end)),
            issue=True,
            on=on,
            billed_organisation_id=statement.isp_id,
            isp_id=statement.isp_id,
            run=run,
            period_start=m_start,
            period_end=m_end,
        )
        statement.invoice = invoice
        statement.status = StatementStatus.ISSUED
        statement.save(update_fields=["invoice", "status", "updated_at"])
        counts["issued"] += 1
    return counts


# --- downloads ------------------------------------------------------------------------------

CSV_HEADER = [
    "statement",
    "isp",
    "month",
    "kind",
    "service",
    "address",
    "product",
    "full_days",
    "half_days",
    "monthly_rate",
    "amount",
    "currency",
    "description",
]


def statement_lines(statement: SettlementStatement):
    """The statement's lines with what a table or a download shows of them (no N+1)."""
    return statement.lines.select_related("service", "address", "product").order_by("id")


def statement_csv(statement: SettlementStatement) -> str:
    """One row per statement line (a service's days, a one-time fee, a promotion)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line in statement_lines(statement):
        writer.writerow(
            [
                statement.pk,
                statement.isp.name,
                f"{statement.month:%Y-%m}",
                line.kind,
                line.service.reference if line.service_id else "",
                line.address.label if line.address_id else "",
                line.product.name if line.product_id else "",
                line.full_days,
                line.half_days,
                line.monthly_rate,
                line.amount,
                statement.currency,
                line.description,
            ]
        )
    return out.getvalue()


def statement_filename(statement: SettlementStatement, extension: str) -> str:
    return f"settlement-{statement.pk}-{statement.month:%Y-%m}.{extension}"


def statement_pdf(statement: SettlementStatement) -> bytes:
    """The statement as a printable PDF (reportlab): header, totals, every line."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Settlement statement {statement.isp.name} {statement.month:%Y-%m}",
    )
    styles = getSampleStyleSheet()
    invoice = statement.invoice
    story = [
        Paragraph(f"Wholesale settlement statement — {statement.month:%B %Y}", styles["Title"]),
        Paragraph(f"From {statement.provider.name} to {statement.isp.name}", styles["Normal"]),
        Paragraph(
            f"Status: {statement.get_status_display()}"
            + (f" · invoice {invoice.number}" if invoice and invoice.number else ""),
            styles["Normal"],
        ),
        Paragraph(
            f"Service days: {statement.service_days} · total {statement.actual_total}"
            f" {statement.currency} (before tax)",
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]
    rows = [["Service", "Address", "Product", "Full", "Half", "Rate / month", "Amount", "What"]]
    for line in statement_lines(statement):
        rows.append(
            [
                line.service.reference if line.service_id else "",
                (line.address.label if line.address_id else "")[:40],
                line.product.name if line.product_id else "",
                str(line.full_days),
                str(line.half_days),
                str(line.monthly_rate),
                str(line.amount),
                line.get_kind_display(),
            ]
        )
    rows.append(["", "", "", "", "", "Total", str(statement.actual_total), statement.currency])
    table = Table(rows, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
                ("ALIGN", (3, 0), (6, -1), "RIGHT"),
            ]
        )
    )
    story.append(table)
    document.build(story)
    return buffer.getvalue()
