"""Subscriptions, the commercial contracts that follow services ("provisioned = paid").

- A service starts (`service.activated`): its order's subscription starts at that exact
  instant, and the first invoice bills, in advance, from that instant to the end of its
  calendar month (prorated).
- Its profile changes at t: the plan billed follows; one invoice credits the old plan from t
  to the end of what was billed and charges the new plan for the same stretch.
- It ends at t: the subscription ends at t; a final invoice credits what was billed beyond t
  (or, when t lies beyond what was billed, charges up to t).
- Every month (`subscriptions_bill_month`, set-based SQL): each active subscription is billed
  in advance for the month, at the price of its segments.

Proration is by the second: price × (seconds of the part ÷ seconds of that calendar month in
settings.TIME_ZONE), one row per plan and calendar month, each rounded once with `money()`.
Promotions and the standing manual discount give DISCOUNT rows for their overlap with each
billed stretch, computed the same way, so they start and stop on the activation instant.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.invoicing import Line, invoice_create, invoices_issue_all, money
from billing.lifecycle import (
    InvoiceKind,
    LineKind,
    PromotionKind,
    PromotionScope,
    SubscriptionStatus,
)
from billing.models import (
    BillingArrangement,
    BillingProvider,
    BillingRun,
    Promotion,
    Subscription,
    SubscriptionSegment,
)
from wholesale.models import Offering, Order, Product, Service

logger = logging.getLogger(__name__)

MICRO = dt.timedelta(microseconds=1)


# --- calendar months in the billing time zone --------------------------------------------------


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def month_start(instant: dt.datetime) -> dt.datetime:
    """The first instant of the calendar month `instant` falls in (local midnight)."""
    local = instant.astimezone(_zone())
    return dt.datetime(local.year, local.month, 1, tzinfo=_zone())


def next_month_start(instant: dt.datetime) -> dt.datetime:
    """The first instant of the following calendar month: the end of `instant`'s month."""
    return month_start(instant) + relativedelta(months=1)


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the calendar month of `month` in the billing time zone."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=_zone())
    return start, start + relativedelta(months=1)


def _micros(start: dt.datetime, end: dt.datetime) -> int:
    """Elapsed microseconds (in UTC: Python subtracts same-zone datetimes by wall clock)."""
    return (end.astimezone(dt.UTC) - start.astimezone(dt.UTC)) // MICRO


@dataclass(frozen=True)
class Piece:
    """The part [start, end) of one calendar month at one plan and price."""

    product_name: str
    monthly_price: Decimal
    start: dt.datetime
    end: dt.datetime
    month_start: dt.datetime
    month_end: dt.datetime
    catalog_price: Decimal | None = None  # the plan's catalog price (None: not known)
    override_id: int | None = None  # the authorised override that set monthly_price

    @property
    def fraction(self) -> Decimal:
        return Decimal(_micros(self.start, self.end)) / Decimal(
            _micros(self.month_start, self.month_end)
        )

    @property
    def is_full_month(self) -> bool:
        return self.start == self.month_start and self.end == self.month_end

    def prorate(self, monthly: Decimal) -> Decimal:
        """`monthly` for this part of its month, rounded once."""
        return money(
            Decimal(monthly)
            * Decimal(_micros(self.start, self.end))
            / Decimal(_micros(self.month_start, self.month_end))
        )

    def span(self, start: dt.datetime | None = None, end: dt.datetime | None = None) -> str:
        """ "14 Mar 2026 09:30 – 31 Mar 2026" (local; a midnight start shows the day only)."""
        zone = _zone()
        start = (start or self.start).astimezone(zone)
        last = ((end or self.end) - MICRO).astimezone(zone)
        first = f"{start:%-d %b %Y}" + ("" if start.time() == dt.time(0) else f" {start:%H:%M}")
        end_local = (end or self.end).astimezone(zone)
        if end_local.time() == dt.time(0):
            tail = f"{last:%-d %b %Y}"
        else:
            tail = f"{end_local:%-d %b %Y %H:%M}"
        return f"{first} – {tail}"

    def days(self, start: dt.datetime | None = None, end: dt.datetime | None = None) -> str:
        micros = _micros(start or self.start, end or self.end)
        return f"{Decimal(micros) / 86_400_000_000:.1f}/{self.month_start_local_days} days"

    @property
    def month_start_local_days(self) -> int:
        local = self.month_start.astimezone(_zone())
        return ((local + relativedelta(months=1)).date() - local.date()).days


def plan_name(*, isp_id: int, product: Product) -> str:
    """What a plan is called on invoices: the ISP's offering of it (the cheapest, if several),
    else the wholesale product's name."""
    name = (
        Offering.objects.filter(isp_id=isp_id, product=product)
        .order_by("monthly_price", "pk")
        .values_list("name", flat=True)
        .first()
    )
    return name or product.name


def _pieces(
    segments: list[SubscriptionSegment], start: dt.datetime, end: dt.datetime
) -> list[Piece]:
    """The stretch [start, end) cut by plan (segment) and calendar month."""
    pieces = []
    names: dict[int, str] = {}
    for segment in segments:
        if segment.product_id not in names:
            names[segment.product_id] = plan_name(
                isp_id=segment.subscription.isp_id, product=segment.product
            )
        seg_start = max(segment.starts_at, start)
        seg_end = min(segment.ends_at or end, end)
        cursor = seg_start
        while cursor < seg_end:
            m_start, m_end = month_start(cursor), next_month_start(cursor)
            part_end = min(m_end, seg_end)
            pieces.append(
                Piece(
                    product_name=names[segment.product_id],
                    monthly_price=segment.monthly_price,
                    start=cursor,
                    end=part_end,
                    month_start=m_start,
                    month_end=m_end,
                    catalog_price=(
                        segment.monthly_price
                        if segment.catalog_price is None
                        else segment.catalog_price
                    ),
                    override_id=segment.override_id,
                )
            )
            cursor = part_end
    return pieces


def _discount_lines(subscription: Subscription, piece: Piece, sign: int) -> list[Line]:
    """The promotion's and the standing discount's rows for one piece (negative when
    charging, positive when crediting back)."""
    lines = []
    promotion = subscription.promotion
    if promotion is not None and subscription.promotion_ends_at is not None:
        start = max(piece.start, subscription.started_at)
        end = min(piece.end, subscription.promotion_ends_at)
        if start < end:
            per_month = promotion_monthly_value(promotion, piece.monthly_price)
            part = Piece(
                piece.product_name,
                piece.monthly_price,
                start,
                end,
                piece.month_start,
                piece.month_end,
            )
            amount = part.prorate(per_month)
            if amount:
                what = "returned for" if sign < 0 else "on"
                lines.append(
                    Line(
                        kind=LineKind.DISCOUNT,
                        description=f"Promotion {promotion.name} {what} {piece.product_name},"
                        f" {part.span()}",
                        unit_amount=-sign * amount,
                        amount=-sign * amount,
                        period_start=start,
                        period_end=end,
                        subscription_id=subscription.pk,
                        service_id=subscription.service_id,
                    )
                )
    if subscription.discount:
        amount = piece.prorate(subscription.discount)
        if amount:
            what = "returned" if sign < 0 else ""
            lines.append(
                Line(
                    kind=LineKind.DISCOUNT,
                    description=f"Standing discount {what}, {piece.span()}".replace("  ", " "),
                    unit_amount=-sign * amount,
                    amount=-sign * amount,
                    period_start=piece.start,
                    period_end=piece.end,
                    subscription_id=subscription.pk,
                    service_id=subscription.service_id,
                    override_id=subscription.discount_override_id,
                )
            )
    return lines


def stretch_lines(
    *,
    subscription: Subscription,
    segments: list[SubscriptionSegment],
    start: dt.datetime,
    end: dt.datetime,
    kind: str,
    sign: int = 1,
    label: str = "",
) -> list[Line]:
    """The rows billing (sign +1) or crediting (sign −1) [start, end) of a subscription:
    one per plan and calendar month, each followed by its discount rows."""
    lines = []
    for piece in _pieces(segments, start, end):
        amount = piece.prorate(piece.monthly_price)
        row_kind = kind
        if kind == LineKind.PERIOD and not piece.is_full_month:
            row_kind = LineKind.PRORATION
        if row_kind == LineKind.PERIOD:
            detail = f"{piece.month_start.astimezone(_zone()):%B %Y}"
        else:
            detail = f"{piece.span()}, prorated {piece.days()}"
        prefix = f"{label} " if label else ""
        lines.append(
            Line(
                kind=row_kind,
                description=f"{prefix}{piece.product_name}, {detail}",
                unit_amount=piece.monthly_price,
                quantity=piece.fraction.quantize(Decimal("0.0001")),
                amount=sign * amount,
                period_start=piece.start,
                period_end=piece.end,
                subscription_id=subscription.pk,
                service_id=subscription.service_id,
                catalog_unit_amount=piece.catalog_price,
                override_id=piece.override_id,
            )
        )
        lines.extend(_discount_lines(subscription, piece, sign))
    return lines


# --- prices and promotions --------------------------------------------------------------------


def promotion_monthly_value(promotion: Promotion, monthly_price: Decimal) -> Decimal:
    """What a promotion takes off a month at `monthly_price` (never more than the price)."""
    if promotion.kind == PromotionKind.PERCENT:
        return Decimal(monthly_price) * promotion.value / 100
    return min(promotion.value, Decimal(monthly_price))


def offering_for(*, isp_id: int, product_id: int, day: dt.date) -> Offering | None:
    """The ISP's offering of a product valid on `day` (the cheapest, if several)."""
    return (
        Offering.objects.filter(isp_id=isp_id, product_id=product_id, valid_from__lte=day)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        .order_by("monthly_price", "pk")
        .first()
    )


def promotion_best(
    *, isp_id: int, area_id: int | None, offering_id: int | None, day: dt.date, price: Decimal
) -> Promotion | None:
    """The retail promotion worth most per month among those matching the ISP, the area and
    the offering (each empty on the promotion: any) for an activation on `day`."""
    candidates = (
        Promotion.objects.filter(scope=PromotionScope.RETAIL, valid_from__lte=day)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day))
        .filter(Q(isp__isnull=True) | Q(isp_id=isp_id))
        .filter(Q(area__isnull=True) | Q(area_id=area_id))
        .filter(Q(offering__isnull=True) | Q(offering_id=offering_id))
        .order_by("-id")
    )
    best, best_value = None, Decimal("0")
    for promotion in candidates:  # a handful of promotions, never many
        value = promotion_monthly_value(promotion, price)
        if value > best_value:
            best, best_value = promotion, value
    return best


def subscription_provider_for(isp_id: int) -> BillingProvider | None:
    """Who invoices this ISP's customers' subscriptions, if its arrangement names a valid
    (active) provider."""
    arrangement = (
        BillingArrangement.objects.filter(isp_id=isp_id)
        .select_related("subscription_provider__organisation")
        .first()
    )
    provider = arrangement.subscription_provider if arrangement else None
    if provider is None or not provider.is_active or not provider.organisation.is_active:
        return None
    return provider


# --- the event-driven writes ------------------------------------------------------------------


def event_instant(value: str) -> dt.datetime:
    instant = parse_datetime(value)
    if instant is None or timezone.is_naive(instant):
        raise ValueError(f"not an aware instant: {value!r}")
    return instant


def _segments(subscription: Subscription) -> list[SubscriptionSegment]:
    return list(
        subscription.segments.select_related("product", "subscription").order_by("starts_at", "id")
    )


def _invoice_fields(subscription: Subscription) -> dict:
    return {
        "customer_id": subscription.customer_id,
        "isp_id": subscription.isp_id,
        "order_id": subscription.order_id,
        "subscription": subscription,
    }


@transaction.atomic
def subscription_start(*, service: Service, at: dt.datetime) -> Subscription | None:
    """Start the subscription of a service's order at its activation instant and issue its
    first invoice (the rest of that month, prorated). None when nobody bills the ISP's
    subscriptions or no price is known (revenue assurance raises the free rider)."""
    existing = Subscription.objects.filter(order_id=service.order_id).first()
    if existing is not None:
        return existing
    provider = subscription_provider_for(service.isp_id)
    if provider is None:
        return None
    order = Order.objects.select_related("address").get(pk=service.order_id)
    day = timezone.localdate(at)
    offering, price = None, None
    if order.monthly_price is not None and (
        order.offering_id is None or order.offering.product_id == service.product_id
    ):
        offering, price = order.offering, order.monthly_price
    else:
        offering = offering_for(isp_id=service.isp_id, product_id=service.product_id, day=day)
        price = offering.monthly_price if offering else None
    if price is None:
        logger.warning("no price for service %s: no subscription", service.pk)
        return None
    promotion = promotion_best(
        isp_id=service.isp_id,
        area_id=order.address.area_id,
        offering_id=offering.pk if offering else None,
        day=day,
        price=price,
    )
    billed_until = next_month_start(at)
    subscription = Subscription.objects.create(
        order=order,
        service=service,
        provider=provider,
        isp_id=service.isp_id,
        customer_id=order.customer_id,
        product_id=service.product_id,
        offering=offering,
        catalog_price=price,
        monthly_price=price,
        currency=provider.currency,
        started_at=at,
        billed_until=billed_until,
        promotion=promotion,
        promotion_ends_at=(
            at.astimezone(_zone()) + relativedelta(months=promotion.months) if promotion else None
        ),
    )
    SubscriptionSegment.objects.create(
        subscription=subscription,
        product_id=service.product_id,
        monthly_price=price,
        catalog_price=price,
        starts_at=at,
    )
    lines = stretch_lines(
        subscription=subscription,
        segments=_segments(subscription),
        start=at,
        end=billed_until,
        kind=LineKind.PRORATION,
    )
    invoice_create(
        provider=provider,
        kind=InvoiceKind.SUBSCRIPTION,
        idempotency_key=f"sub:{subscription.pk}:start",
        lines=lines,
        period_start=at,
        period_end=billed_until,
        **_invoice_fields(subscription),
    )
    return subscription


def _locked(service_id: int) -> Subscription | None:
    return (
        Subscription.objects.select_for_update(of=("self",))
        .filter(service_id=service_id, status=SubscriptionStatus.ACTIVE)
        .select_related("promotion", "provider")
        .first()
    )


@transaction.atomic
def subscription_change_plan(
    *, service: Service, product: Product, at: dt.datetime
) -> Subscription | None:
    """The provisioned plan changed at `at`: the billed plan follows. The segment closes at
    `at` and one opens at the new plan, at the ISP's offering's price for it (no offering:
    the price stays). What was billed beyond `at` is credited at the old plan and charged
    at the new one, on one invoice issued at once."""
    subscription = _locked(service.pk)
    if subscription is None:
        return None
    current = subscription.segments.filter(ends_at__isnull=True).order_by("-starts_at").first()
    offering = offering_for(
        isp_id=subscription.isp_id, product_id=product.pk, day=timezone.localdate(at)
    )
    price = offering.monthly_price if offering else subscription.monthly_price
    old_segments = _segments(subscription)
    if current is not None:
        current.ends_at = at
        current.save(update_fields=["ends_at"])
    SubscriptionSegment.objects.create(
        subscription=subscription,
        product=product,
        monthly_price=price,
        catalog_price=offering.monthly_price if offering else _catalog_of(current, subscription),
        starts_at=at,
    )
    subscription.product = product
    subscription.monthly_price = price
    if offering is not None:
        subscription.offering = offering
        subscription.catalog_price = offering.monthly_price
    subscription.save(
        update_fields=["product", "monthly_price", "offering", "catalog_price", "updated_at"]
    )
    if at < subscription.billed_until:
        credit = stretch_lines(
            subscription=subscription,
            segments=old_segments,
            start=at,
            end=subscription.billed_until,
            kind=LineKind.CREDIT,
            sign=-1,
            label="Credit:",
        )
        charge = stretch_lines(
            subscription=subscription,
            segments=_segments(subscription),
            start=at,
            end=subscription.billed_until,
            kind=LineKind.PRORATION,
        )
        invoice_create(
            provider=subscription.provider,
            kind=InvoiceKind.SUBSCRIPTION,
            idempotency_key=f"sub:{subscription.pk}:change:{at.isoformat()}",
            lines=credit + charge,
            period_start=at,
            period_end=subscription.billed_until,
            **_invoice_fields(subscription),
        )
    return subscription


def _catalog_of(segment: SubscriptionSegment | None, subscription: Subscription) -> Decimal:
    """The catalog price a plan change without an offering keeps: the current segment's."""
    if segment is not None and segment.catalog_price is not None:
        return segment.catalog_price
    return subscription.catalog_price


@transaction.atomic
def subscription_end(*, service: Service, at: dt.datetime) -> Subscription | None:
    """The service ended at `at`: so does its subscription, and billing stops exactly there
    with a final invoice (crediting what was billed beyond `at`, or charging up to it)."""
    subscription = _locked(service.pk)
    if subscription is None:
        return None
    segments = _segments(subscription)
    billed_until = subscription.billed_until
    if at < billed_until:
        lines = stretch_lines(
            subscription=subscription,
            segments=segments,
            start=at,
            end=billed_until,
            kind=LineKind.FINAL,
            sign=-1,
            label="Not used after the end:",
        )
        period = (at, billed_until)
    else:
        lines = stretch_lines(
            subscription=subscription,
            segments=segments,
            start=billed_until,
            end=at,
            kind=LineKind.FINAL,
            label="Up to the end:",
        )
        period = (billed_until, at)
    subscription.segments.filter(ends_at__isnull=True).update(ends_at=at)
    subscription.status = SubscriptionStatus.ENDED
    subscription.ended_at = at
    subscription.billed_until = at
    subscription.save(update_fields=["status", "ended_at", "billed_until", "updated_at"])
    if lines:
        invoice_create(
            provider=subscription.provider,
            kind=InvoiceKind.SUBSCRIPTION,
            idempotency_key=f"sub:{subscription.pk}:final",
            lines=lines,
            period_start=period[0],
            period_end=period[1],
            **_invoice_fields(subscription),
        )
    return subscription


# --- the monthly run, set-based ---------------------------------------------------------------

# Everything below runs as a few statements over every due subscription at once. The pieces of
# a subscription's stretch [billed_until, month end) are cut by its segments and by calendar
# month (generate_series over months), exactly as `_pieces` does in Python.
_DUE_LOCK_SQL = """
SELECT s.id FROM billing_subscription s
 WHERE s.status = 'active' AND NOT s.billing_blocked
   AND s.billed_until < %(end)s AND s.started_at < %(end)s
 ORDER BY s.id FOR UPDATE
"""

_DUE_SQL = """
CREATE TEMP TABLE billing_sub_due ON COMMIT DROP AS
SELECT s.id AS subscription_id, s.provider_id, s.customer_id, s.isp_id, s.order_id,
       s.service_id, s.billed_until AS starts_at, %(end)s::timestamptz AS ends_at,
       s.started_at, s.promotion_id, s.promotion_ends_at, s.discount, s.catalog_price,
       'sub:' || s.id || ':' || %(month)s AS key
  FROM billing_subscription s
 WHERE s.status = 'active' AND NOT s.billing_blocked
   AND s.billed_until < %(end)s AND s.started_at < %(end)s
"""

_NEW_TABLE_SQL = """
CREATE TEMP TABLE billing_sub_new ON COMMIT DROP AS
SELECT 0::bigint AS invoice_id, d.* FROM billing_sub_due d WITH NO DATA
"""

_INVOICES_SQL = """
WITH made AS (
    INSERT INTO billing_invoice (created_at, updated_at, provider_id, kind, status, customer_id,
                                 isp_id, order_id, subscription_id, run_id, currency, subtotal,
                                 tax, total, amount_paid, period_start, period_end, disputed,
                                 reminder_level, void_reason, idempotency_key)
    SELECT now(), now(), d.provider_id, 'subscription', 'draft', d.customer_id, d.isp_id,
           d.order_id, d.subscription_id, %(run)s, p.currency, 0, 0, 0, 0, d.starts_at,
           d.ends_at, false, 0, '', d.key
      FROM billing_sub_due d JOIN billing_billingprovider p ON p.id = d.provider_id
     ORDER BY d.provider_id, d.subscription_id
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, subscription_id
)
INSERT INTO billing_sub_new
SELECT m.id, d.* FROM made m JOIN billing_sub_due d ON d.subscription_id = m.subscription_id
"""

_PIECES_SQL = """
CREATE TEMP TABLE billing_sub_piece ON COMMIT DROP AS
SELECT n.invoice_id, n.subscription_id, n.service_id, n.started_at, n.promotion_id,
       n.promotion_ends_at, n.discount, n.catalog_price, g.product_id,
       coalesce(o.name, pr.name) AS product_name,
       g.monthly_price, coalesce(g.catalog_price, g.monthly_price) AS segment_catalog,
       g.override_id, s.discount_override_id, m.month_start, m.month_end,
       greatest(n.starts_at, g.starts_at, m.month_start) AS piece_start,
       least(n.ends_at, coalesce(g.ends_at, n.ends_at), m.month_end) AS piece_end,
       extract(epoch FROM m.month_end) - extract(epoch FROM m.month_start) AS month_seconds
  FROM billing_sub_new n
  JOIN billing_subscriptionsegment g ON g.subscription_id = n.subscription_id
       AND g.starts_at < n.ends_at AND (g.ends_at IS NULL OR g.ends_at > n.starts_at)
  JOIN billing_subscription s ON s.id = n.subscription_id
  JOIN wholesale_product pr ON pr.id = g.product_id
  LEFT JOIN (SELECT DISTINCT ON (isp_id, product_id) isp_id, product_id, name
               FROM wholesale_offering ORDER BY isp_id, product_id, monthly_price, id) AS o
       ON o.isp_id = s.isp_id AND o.product_id = g.product_id
 CROSS JOIN LATERAL generate_series(
       date_trunc('month', greatest(n.starts_at, g.starts_at) AT TIME ZONE %(zone)s),
       date_trunc('month', (least(n.ends_at, coalesce(g.ends_at, n.ends_at))
                            - interval '1 microsecond') AT TIME ZONE %(zone)s),
       interval '1 month') AS gs (local_month)
 CROSS JOIN LATERAL (
       SELECT gs.local_month AT TIME ZONE %(zone)s AS month_start,
              (gs.local_month + interval '1 month') AT TIME ZONE %(zone)s AS month_end) AS m
 WHERE greatest(n.starts_at, g.starts_at, m.month_start)
       < least(n.ends_at, coalesce(g.ends_at, n.ends_at), m.month_end)
"""

# the rows: the plan's part of each month, then the promotion's and the standing discount's
_LINES_SQL = """
INSERT INTO billing_invoiceline (invoice_id, position, kind, description, quantity, unit_amount,
                                 amount, period_start, period_end, subscription_id, service_id,
                                 catalog_unit_amount, override_id)
SELECT r.invoice_id, row_number() OVER (PARTITION BY r.invoice_id
                                        ORDER BY r.piece_start, r.sort),
       r.kind, left(r.description, 300), r.quantity, r.unit_amount, r.amount, r.period_start,
       r.period_end, r.subscription_id, r.service_id, r.catalog_unit_amount, r.override_id
  FROM (
    SELECT p.invoice_id, p.piece_start, 1 AS sort,
           CASE WHEN full_month THEN 'period' ELSE 'proration' END AS kind,
           p.product_name || ', ' || CASE WHEN full_month
               THEN trim(to_char(p.month_start AT TIME ZONE %(zone)s, 'FMMonth YYYY'))
               ELSE to_char(p.piece_start AT TIME ZONE %(zone)s, 'FMDD Mon YYYY')
                    || ' – ' || to_char((p.piece_end - interval '1 microsecond')
                                        AT TIME ZONE %(zone)s, 'FMDD Mon YYYY')
                    || ', prorated '
                    || to_char(round(((extract(epoch FROM p.piece_end)
                                       - extract(epoch FROM p.piece_start)) / 86400)::numeric,
                                     1), 'FM9990.0')
                    || '/' || extract(day FROM (p.month_end AT TIME ZONE %(zone)s)
                                               - interval '1 day')::int || ' days'
           END AS description,
           round(((extract(epoch FROM p.piece_end) - extract(epoch FROM p.piece_start))
                  / p.month_seconds)::numeric, 4) AS quantity,
           p.monthly_price AS unit_amount,
           round(p.monthly_price * (extract(epoch FROM p.piece_end)
                                    - extract(epoch FROM p.piece_start)) / p.month_seconds, 2)
               AS amount,
           p.piece_start AS period_start, p.piece_end AS period_end, p.subscription_id,
           p.service_id, p.segment_catalog AS catalog_unit_amount, p.override_id
      FROM (SELECT *, piece_start = month_start AND piece_end = month_end AS full_month
              FROM billing_sub_piece) p
    UNION ALL
    SELECT p.invoice_id, p.piece_start, 2,
           'discount',
           'Promotion ' || pm.name || ' on ' || p.product_name || ', '
               || to_char(o.s AT TIME ZONE %(zone)s, 'FMDD Mon YYYY') || ' – '
               || to_char((o.e - interval '1 microsecond') AT TIME ZONE %(zone)s,
                          'FMDD Mon YYYY'),
           1, -v.per_month,
           -round(v.per_month * (extract(epoch FROM o.e) - extract(epoch FROM o.s))
                  / p.month_seconds, 2),
           o.s, o.e, p.subscription_id, p.service_id, NULL, NULL
      FROM billing_sub_piece p
      JOIN billing_promotion pm ON pm.id = p.promotion_id
     CROSS JOIN LATERAL (SELECT greatest(p.piece_start, p.started_at) AS s,
                                least(p.piece_end, p.promotion_ends_at) AS e) o
     CROSS JOIN LATERAL (SELECT CASE WHEN pm.kind = 'percent'
                                     THEN p.monthly_price * pm.value / 100
                                     ELSE least(pm.value, p.monthly_price) END AS per_month) v
     WHERE o.s < o.e
    UNION ALL
    SELECT p.invoice_id, p.piece_start, 3,
           'discount',
           'Standing discount, ' || to_char(p.piece_start AT TIME ZONE %(zone)s, 'FMDD Mon YYYY')
               || ' – ' || to_char((p.piece_end - interval '1 microsecond')
                                   AT TIME ZONE %(zone)s, 'FMDD Mon YYYY'),
           1, -p.discount,
           -round(p.discount * (extract(epoch FROM p.piece_end)
                                - extract(epoch FROM p.piece_start)) / p.month_seconds, 2),
           p.piece_start, p.piece_end, p.subscription_id, p.service_id, NULL,
           p.discount_override_id
      FROM billing_sub_piece p
     WHERE p.discount > 0
  ) r
 WHERE r.amount <> 0 OR r.sort = 1
"""

_TOTALS_SQL = """
UPDATE billing_invoice i
   SET subtotal = t.subtotal, tax = round(t.subtotal * p.tax_rate / 100, 2),
       total = t.subtotal + round(t.subtotal * p.tax_rate / 100, 2)
  FROM (SELECT l.invoice_id, sum(l.amount) AS subtotal
          FROM billing_invoiceline l JOIN billing_sub_new n ON n.invoice_id = l.invoice_id
         GROUP BY l.invoice_id) t, billing_billingprovider p
 WHERE i.id = t.invoice_id AND p.id = i.provider_id
"""

_BILLED_UNTIL_SQL = """
UPDATE billing_subscription s SET billed_until = n.ends_at, updated_at = now()
  FROM billing_sub_new n WHERE s.id = n.subscription_id
"""


def subscriptions_bill_month(
    *, month: dt.date, run: BillingRun | None, on: dt.date | None = None
) -> dict:
    """Bill every active, unblocked subscription not yet billed to the end of `month`, in
    advance, set-based: one invoice each (key `sub:<id>:<YYYY-MM>`, created once), its rows
    from its segments' prices and its discounts, numbered without gaps. Call inside the run
    step's transaction (it opens one if there is none)."""
    _, end = month_bounds(month)
    params = {
        "end": end,
        "month": f"{month:%Y-%m}",
        "run": run.pk if run else None,
        "zone": settings.TIME_ZONE,
    }
    on = on or timezone.localdate()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_DUE_LOCK_SQL, params)
        cursor.execute(_DUE_SQL, params)
        due = cursor.rowcount
        cursor.execute(_NEW_TABLE_SQL)
        cursor.execute(_INVOICES_SQL, params)
        invoices = cursor.rowcount
        lines = 0
        if invoices:
            cursor.execute(_PIECES_SQL, params)
            cursor.execute(_LINES_SQL, params)
            lines = cursor.rowcount
            cursor.execute(_TOTALS_SQL)
            cursor.execute(_BILLED_UNTIL_SQL)
            cursor.execute(
                "SELECT coalesce(sum(total), 0) FROM billing_invoice i"
                " JOIN billing_sub_new n ON n.invoice_id = i.id"
            )
            amount = cursor.fetchone()[0]
        else:
            amount = Decimal("0.00")
        issued = (
            invoices_issue_all(
                invoice_ids_sql="SELECT invoice_id FROM billing_sub_new", params=[], on=on
            )
            if invoices
            else 0
        )
        cursor.execute("DROP TABLE IF EXISTS billing_sub_due, billing_sub_new, billing_sub_piece")
    return {
        "month": f"{month:%Y-%m}",
        "due": due,
        "invoices": invoices,
        "lines": lines,
        "issued": issued,
        "amount": str(amount),
    }


# --- reads ------------------------------------------------------------------------------------


def subscriptions_filtered(*, status: str = "", isp: str | int = "", blocked: str = ""):
    """Subscriptions, newest first, with what a list row shows (no N+1); filters ignore
    values they do not understand."""
    queryset = Subscription.objects.select_related(
        "isp", "product", "offering", "order", "service", "customer", "provider", "promotion"
    ).order_by("-started_at", "-id")
    if status in SubscriptionStatus.values:
        queryset = queryset.filter(status=status)
    if str(isp).isdigit():
        queryset = queryset.filter(isp_id=int(isp))
    if str(blocked).lower() in ("true", "1", "yes"):
        queryset = queryset.filter(billing_blocked=True)
    elif str(blocked).lower() in ("false", "0", "no"):
        queryset = queryset.filter(billing_blocked=False)
    return queryset


def subscription_detail():
    """Subscriptions with their segments, invoices and overrides prefetched."""
    from django.db.models import Prefetch

    from billing.models import Invoice, PriceOverride

    return subscriptions_filtered().prefetch_related(
        Prefetch("segments", SubscriptionSegment.objects.select_related("product")),
        Prefetch("invoices", Invoice.objects.order_by("-id")),
        Prefetch("overrides", PriceOverride.objects.select_related("requested_by", "approved_by")),
    )
