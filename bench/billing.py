"""Rows of the billing layer (issue 7): the monthly subscriptions run.

- `billing-run`: 100,000 active subscriptions over ten ISPs (each its own billing provider)
  billed for one month by `billing.subscriptions.subscriptions_bill_month` — set-based: the
  due subscriptions locked, one invoice each (INSERT … ON CONFLICT DO NOTHING on its
  idempotency key), the rows cut by plan segment and calendar month, promotions (a fifth of
  the subscriptions, some ending inside the month) and standing discounts (a tenth) computed
  in SQL, totals, gap-free numbers per provider, billed_until moved. One subscription in
  twenty changes plan inside the month (two segments: two prorated rows).
  Against raw SQL: the same invoices and rows written by four bare INSERT … SELECT / UPDATE
  statements (numbers by row_number, no lock, no conflict check, no temporary tables).

The data is the bench's own (ISPs "Bench Billing ISP k", providers BBRkk, orders tagged
`bench-billing`), billed for January 2020, long before any other row's subscriptions start,
so the run touches nothing else in the county; everything it writes is removed at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import psycopg

from bench import databases
from bench.registry import BenchContext, Goal, Result, row
from bench.timing import say, step

SUBSCRIPTIONS = int(os.environ.get("BENCH_SUBSCRIPTIONS", 100_000))  # fewer: a quick try
ISPS = 10
TAG = "bench-billing"
PRODUCT_CODE = "bench-billing-500"
FASTER_CODE = "bench-billing-1000"
ISP_NAME = "Bench Billing ISP {:02d}"
PREFIX = "BBR{:02d}"
MONTH = dt.date(2020, 1, 1)


def _ensure_parties() -> tuple[list[int], list[int], int, int]:
    """Ten ISPs with a billing provider each, two products and their offerings (made once);
    returns (isp ids, provider ids, product id, faster product id)."""
    from django.db import transaction

    from accounts.models import Organisation
    from accounts.roles import OrganisationKind
    from accounts.services import organisation_create
    from billing.models import BillingProvider
    from wholesale.models import Offering, Product
    from wholesale.services import product_create

    isps, providers = [], []
    with transaction.atomic():
        products = []
        for code, name, fee in ((PRODUCT_CODE, "500", "18.00"), (FASTER_CODE, "1000", "25.00")):
            products.append(
                Product.objects.filter(code=code).first()
                or product_create(
                    code=code,
                    name=f"Bench Billing {name}",
                    download_mbps=int(name),
                    upload_mbps=100,
                    monthly_fee=fee,
                    valid_from=dt.date(2015, 1, 1),
                )
            )
        for k in range(1, ISPS + 1):
            name = ISP_NAME.format(k)
            isp = Organisation.objects.filter(name=name).first() or organisation_create(
                name=name, kind=OrganisationKind.ISP
            )
            provider = BillingProvider.objects.filter(
                invoice_prefix=PREFIX.format(k)
            ).first() or BillingProvider.objects.create(
                organisation=isp, name=f"{name} billing", invoice_prefix=PREFIX.format(k)
            )
            for product, price in zip(products, (30 + k, 45 + k), strict=True):
                if not Offering.objects.filter(isp=isp, product=product).exists():
                    Offering.objects.create(
                        isp=isp,
                        product=product,
                        name=f"{name} {product.download_mbps}",
                        monthly_price=f"{price:.2f}",
                        valid_from=dt.date(2015, 1, 1),
                    )
            isps.append(isp.pk)
            providers.append(provider.pk)
    return isps, providers, products[0].pk, products[1].pk


# --- the data, set-based ----------------------------------------------------------------------

_SETUP_SQL = [
    # the promotions (retail): half price for 3 months, 10 off for 3 months
    """INSERT INTO billing_promotion (created_at, updated_at, name, scope, kind, value, months,
                                      valid_from)
       SELECT now(), now(), name, 'retail', kind, value, 3, date '2015-01-01'
         FROM (VALUES (%(tag)s::text || ' half', 'percent', 50),
                      (%(tag)s::text || ' ten', 'amount', 10))
              AS p (name, kind, value)""",
    # one order per subscription, at addresses spread over the county (7919 is prime to 1e6)
    """INSERT INTO wholesale_order (created_at, updated_at, reference, address_id, isp_id, status,
                                    status_changed_at, placed_at, offering_id, monthly_price,
                                    price_currency, isp_reference, unit, manage_token,
                                    connection_cost_currency, connection_cost_invoicing_starts)
       SELECT now(), now(), 'BB-' || lpad(n::text, 7, '0'), (n * 7919) %% 1000000 + 1,
              isp.id, 'active', now(), timestamptz '2017-06-01', offering.id,
              offering.monthly_price, 'EUR', %(tag)s::text, '', %(tag)s::text || '-' || n, '', ''
         FROM generate_series(1, %(count)s::int) AS n
         JOIN unnest(%(isps)s::bigint[]) WITH ORDINALITY AS isp (id, k) ON isp.k = 1 + n %% 10
         JOIN wholesale_offering AS offering
              ON offering.isp_id = isp.id AND offering.product_id = %(product)s::bigint""",
    # the subscriptions: started over 2018–2019 (a fifth in Oct–Dec 2019 with a promotion),
    # billed until the start of the month the row bills
    """INSERT INTO billing_subscription (created_at, updated_at, order_id, provider_id, isp_id,
                                         product_id, offering_id, catalog_price, monthly_price,
                                         discount, currency, status, started_at, billed_until,
                                         promotion_id, promotion_ends_at, billing_blocked)
       SELECT now(), now(), o.id, prov.id, o.isp_id, %(product)s::bigint, o.offering_id,
              o.monthly_price,
              o.monthly_price, CASE WHEN o.n %% 10 = 3 THEN 5 ELSE 0 END, 'EUR', 'active',
              start.at, %(billed_until)s::timestamptz,
              CASE WHEN o.n %% 5 = 0 THEN promo.id END,
              CASE WHEN o.n %% 5 = 0 THEN start.at + interval '3 months' END, false
         FROM (SELECT wo.*, substr(wo.reference, 4)::int AS n FROM wholesale_order wo
                WHERE wo.isp_reference = %(tag)s::text) AS o
         JOIN unnest(%(isps)s::bigint[], %(providers)s::bigint[]) AS prov (isp_id, id)
              ON prov.isp_id = o.isp_id
         JOIN billing_promotion AS promo
              ON promo.name = %(tag)s::text || CASE WHEN o.n %% 2 = 0 THEN ' half' ELSE ' ten' END
        CROSS JOIN LATERAL (
              SELECT CASE WHEN o.n %% 5 = 0
                          THEN timestamptz '2019-10-01 08:00+02' + (o.n %% 91) * interval '1 day'
                          ELSE timestamptz '2018-01-01 09:00+01' + (o.n %% 700) * interval '1 day'
                     END + (o.n %% 37) * interval '17 minutes' AS at) AS start""",
    # one segment each; one in twenty changes to the faster plan on 10 January at noon
    """INSERT INTO billing_subscriptionsegment (subscription_id, product_id, monthly_price,
                                                starts_at, ends_at)
       SELECT s.id, s.product_id, s.monthly_price, s.started_at,
              CASE WHEN s.id %% 20 = 7 THEN %(change)s::timestamptz END
         FROM billing_subscription s JOIN wholesale_order o ON o.id = s.order_id
        WHERE o.isp_reference = %(tag)s::text
       UNION ALL
       SELECT s.id, %(faster)s::bigint, s.monthly_price + 15, %(change)s::timestamptz, NULL
         FROM billing_subscription s JOIN wholesale_order o ON o.id = s.order_id
        WHERE o.isp_reference = %(tag)s::text AND s.id %% 20 = 7""",
]

_RESET_RUN_SQL = [
    """CREATE TEMP TABLE bench_billing_subs ON COMMIT DROP AS
       SELECT s.id FROM billing_subscription s JOIN wholesale_order o ON o.id = s.order_id
        WHERE o.isp_reference = %(tag)s::text""",
    """DELETE FROM billing_invoiceline WHERE invoice_id IN (
         SELECT id FROM billing_invoice WHERE subscription_id IN (
           SELECT id FROM bench_billing_subs))""",
    """DELETE FROM billing_invoice
        WHERE subscription_id IN (SELECT id FROM bench_billing_subs)""",
    """DELETE FROM billing_invoicesequence WHERE provider_id = ANY(%(providers)s)""",
    """UPDATE billing_subscription SET billed_until = %(billed_until)s::timestamptz
        WHERE id IN (SELECT id FROM bench_billing_subs)""",
]

_REMOVE_SQL = [
    """DELETE FROM billing_subscriptionsegment WHERE subscription_id IN (
         SELECT id FROM bench_billing_subs)""",
    "DELETE FROM billing_subscription WHERE id IN (SELECT id FROM bench_billing_subs)",
    "DELETE FROM billing_promotion WHERE name LIKE %(tag)s::text || ' %%'",
    "DELETE FROM wholesale_order WHERE isp_reference = %(tag)s::text",
]

_TABLES = (
    "wholesale_order",
    "billing_subscription",
    "billing_subscriptionsegment",
    "billing_invoice",
    "billing_invoiceline",
)


def _params(providers, isps, product, faster) -> dict:
    from django.conf import settings

    from billing.subscriptions import month_bounds

    start, end = month_bounds(MONTH)
    return {
        "tag": TAG,
        "count": SUBSCRIPTIONS,
        "isps": isps,
        "providers": providers,
        "product": product,
        "faster": faster,
        "billed_until": start,
        "end": end,
        "change": start + dt.timedelta(days=9, hours=12),
        "month": f"{MONTH:%Y-%m}",
        "zone": settings.TIME_ZONE,
        "on": MONTH,
        "year": MONTH.year,
    }


def _vacuum(conn: psycopg.Connection) -> None:
    for table in _TABLES:
        conn.execute(f"VACUUM (ANALYZE) {table}")


def _reset(conn: psycopg.Connection, params: dict, *, remove: bool = False) -> None:
    with conn.transaction():
        for statement in _RESET_RUN_SQL + (_REMOVE_SQL if remove else []):
            conn.execute(statement, params)
    _vacuum(conn)


# --- raw SQL: the same invoices and rows by bare statements ----------------------------------

_RAW_SQL = [
    # the invoices, issued and numbered per provider in one go
    """INSERT INTO billing_invoice (created_at, updated_at, provider_id, kind, status, number,
                                    sequence_year, sequence, customer_id, isp_id, order_id,
                                    subscription_id, currency, subtotal, tax, total, amount_paid,
                                    period_start, period_end, issue_date, due_date, disputed,
                                    reminder_level, void_reason, idempotency_key)
       SELECT now(), now(), s.provider_id, 'subscription', 'issued',
              p.invoice_prefix || '-' || %(year)s::int || '-'
                  || lpad(n.seq::text, 6, '0'), %(year)s::int, n.seq, s.customer_id, s.isp_id,
              s.order_id, s.id, p.currency, 0, 0, 0, 0, s.billed_until, %(end)s::timestamptz,
              %(on)s::date,
              %(on)s::date + p.payment_terms_days, false, 0, '',
              'sub:' || s.id || ':' || %(month)s::text
         FROM billing_subscription s
         JOIN billing_billingprovider p ON p.id = s.provider_id
         JOIN (SELECT id, row_number() OVER (PARTITION BY provider_id ORDER BY id) AS seq
                 FROM billing_subscription
                WHERE status = 'active' AND NOT billing_blocked
                  AND billed_until < %(end)s::timestamptz
                  AND started_at < %(end)s::timestamptz) AS n ON n.id = s.id""",
    # the rows: each segment's part of each month, the promotion's and the standing discount
    """INSERT INTO billing_invoiceline (invoice_id, position, kind, description, quantity,
                                        unit_amount, amount, period_start, period_end,
                                        subscription_id, service_id, catalog_unit_amount)
       WITH piece AS (
         SELECT i.id AS invoice_id, s.id AS subscription_id, s.service_id, s.started_at,
                s.promotion_id, s.promotion_ends_at, s.discount, s.catalog_price,
                coalesce(o.name, pr.name) AS product_name, g.monthly_price,
                m.month_start, m.month_end,
                greatest(i.period_start, g.starts_at, m.month_start) AS piece_start,
                least(i.period_end, coalesce(g.ends_at, i.period_end), m.month_end) AS piece_end,
                extract(epoch FROM m.month_end) - extract(epoch FROM m.month_start) AS month_s
           FROM billing_invoice i
           JOIN billing_subscription s ON s.id = i.subscription_id
           JOIN billing_subscriptionsegment g ON g.subscription_id = s.id
                AND g.starts_at < i.period_end
                AND (g.ends_at IS NULL OR g.ends_at > i.period_start)
           JOIN wholesale_product pr ON pr.id = g.product_id
           LEFT JOIN wholesale_offering o ON o.isp_id = s.isp_id AND o.product_id = g.product_id
          CROSS JOIN LATERAL (SELECT %(billed_until)s::timestamptz AS month_start,
                                     %(end)s::timestamptz AS month_end) AS m
          WHERE i.idempotency_key = 'sub:' || s.id || ':' || %(month)s::text
       )
       SELECT invoice_id, row_number() OVER (PARTITION BY invoice_id ORDER BY piece_start, sort),
              kind, description, quantity, unit_amount, amount, period_start, period_end,
              subscription_id, service_id, catalog_unit_amount
         FROM (
           SELECT invoice_id, piece_start, 1 AS sort,
                  CASE WHEN piece_start = month_start AND piece_end = month_end
                       THEN 'period' ELSE 'proration' END AS kind,
                  product_name || ', ' || to_char(piece_start AT TIME ZONE %(zone)s::text,
                                                  'FMDD Mon YYYY') AS description,
                  round(((extract(epoch FROM piece_end) - extract(epoch FROM piece_start))
                         / month_s)::numeric, 4) AS quantity,
                  monthly_price AS unit_amount,
                  round(monthly_price * (extract(epoch FROM piece_end)
                                         - extract(epoch FROM piece_start)) / month_s, 2)
                      AS amount,
                  piece_start AS period_start, piece_end AS period_end, subscription_id,
                  service_id, catalog_price AS catalog_unit_amount
             FROM piece
           UNION ALL
           SELECT invoice_id, piece_start, 2, 'discount', 'Promotion ' || pm.name, 1,
                  -(CASE WHEN pm.kind = 'percent' THEN monthly_price * pm.value / 100
                         ELSE least(pm.value, monthly_price) END),
                  -round((CASE WHEN pm.kind = 'percent' THEN monthly_price * pm.value / 100
                               ELSE least(pm.value, monthly_price) END)
                         * (extract(epoch FROM least(piece_end, promotion_ends_at))
                            - extract(epoch FROM greatest(piece_start, started_at)))
                         / month_s, 2),
                  greatest(piece_start, started_at), least(piece_end, promotion_ends_at),
                  subscription_id, service_id, NULL
             FROM piece JOIN billing_promotion pm ON pm.id = piece.promotion_id
            WHERE greatest(piece_start, started_at) < least(piece_end, promotion_ends_at)
           UNION ALL
           SELECT invoice_id, piece_start, 3, 'discount', 'Standing discount', 1, -discount,
                  -round(discount * (extract(epoch FROM piece_end)
                                     - extract(epoch FROM piece_start)) / month_s, 2),
                  piece_start, piece_end, subscription_id, service_id, NULL
             FROM piece WHERE discount > 0
         ) AS r
        WHERE amount <> 0 OR sort = 1""",
    # the totals
    """UPDATE billing_invoice i SET subtotal = t.subtotal, total = t.subtotal
         FROM (SELECT l.invoice_id, sum(l.amount) AS subtotal FROM billing_invoiceline l
                 JOIN billing_invoice i2 ON i2.id = l.invoice_id
                WHERE i2.idempotency_key LIKE 'sub:%%:' || %(month)s::text
                GROUP BY l.invoice_id) AS t
        WHERE i.id = t.invoice_id""",
    # billed until the end of the month
    """UPDATE billing_subscription s SET billed_until = %(end)s::timestamptz
         FROM billing_invoice i
        WHERE i.subscription_id = s.id
          AND i.idempotency_key = 'sub:' || s.id || ':' || %(month)s::text
          AND s.billed_until < %(end)s::timestamptz""",
]


def _figures(conn: psycopg.Connection, params: dict) -> tuple[int, int, str]:
    """(invoices, rows, their total) the month's run left, to check both sides agree."""
    return conn.execute(
        """SELECT count(DISTINCT i.id), count(l.id), coalesce(sum(l.amount), 0)::text
             FROM billing_invoice i LEFT JOIN billing_invoiceline l ON l.invoice_id = i.id
            WHERE i.provider_id = ANY(%(providers)s) AND i.sequence_year = %(year)s::int""",
        params,
    ).fetchone()


@row("billing-run", f"the monthly billing run over {SUBSCRIPTIONS:,} subscriptions vs raw SQL")
def billing_run(context: BenchContext) -> list[Result]:
    from django.test.utils import override_settings

    with override_settings(DEBUG=False):
        return _billing_run(context)


def _billing_run(context: BenchContext) -> list[Result]:
    from django.db import transaction

    from billing.subscriptions import subscriptions_bill_month

    isps, providers, product, faster = _ensure_parties()
    params = _params(providers, isps, product, faster)
    with databases.connect(context.county.database) as conn:
        _reset(conn, params, remove=True)  # whatever a previous run left
        with step(f"billing-run: {SUBSCRIPTIONS:,} subscriptions (set-based)"):
            with conn.transaction():
                for statement in _SETUP_SQL:
                    conn.execute(statement, params)
            _vacuum(conn)
        best, raw_best, figures, raw_figures, counts = None, None, None, None, {}
        try:
            for attempt in range(context.repeat):
                if attempt:
                    _reset(conn, params)
                with step(f"billing-run: oanm, subscriptions_bill_month({MONTH:%Y-%m})"):
                    started = time.perf_counter()
                    with transaction.atomic():
                        counts = subscriptions_bill_month(month=MONTH, run=None, on=MONTH)
                    seconds = time.perf_counter() - started
                best = seconds if best is None else min(best, seconds)
                figures = _figures(conn, params)
                _reset(conn, params)
                with step("billing-run: raw SQL, 4 bare statements"):
                    started = time.perf_counter()
                    with conn.transaction():
                        for statement in _RAW_SQL:
                            conn.execute(statement, params)
                    raw_seconds = time.perf_counter() - started
                raw_best = raw_seconds if raw_best is None else min(raw_best, raw_seconds)
                raw_figures = _figures(conn, params)
        finally:
            with step("billing-run: removing the row's data"):
                _reset(conn, params, remove=True)
    databases.close_django_connections()
    if figures != raw_figures:
        say(f"  oanm wrote {figures}, raw wrote {raw_figures} (invoices, rows, total)")
    invoices, lines, total = figures
    return [
        Result(
            name=f"monthly billing run, {SUBSCRIPTIONS:,} subscriptions",
            unit="s",
            value=best,
            raw_value=raw_best,
            goal=Goal(maximum=60),
            seconds=best,
            raw_seconds=raw_best,
            raw_label="the same invoices and rows by 4 bare INSERT … SELECT / UPDATE statements",
            note=(
                f"{invoices:,} invoices, {lines:,} rows, {total} EUR"
                f"{' (raw agrees)' if figures == raw_figures else f' (raw: {raw_figures})'};"
                " lock, ON CONFLICT, temp tables and gap-free numbering included"
            ),
            details={"counts": counts, "figures": figures, "raw_figures": raw_figures},
        )
    ]
