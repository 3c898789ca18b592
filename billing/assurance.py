"""Revenue assurance: the commercial contract (subscriptions: plan, price) compared with the
network contract (services: profile, state, ONT binding), continuously.

`exceptions_detect` is one set-based SQL statement per run: it computes every condition that
holds now, raises an exception for each that has no open one yet (`INSERT … SELECT … ON
CONFLICT DO NOTHING` against the partial unique index `billing_exception_one_open`), and
resolves the open ones whose condition no longer holds ("cleared by the next check"). It
also keeps `Subscription.billing_blocked` equal to "its service's ONT binding is broken".

The conditions (docs/billing-assurance-settlement.md):

- free rider (red): an active service, activated more than BILLING_FREE_RIDER_GRACE_MINUTES
  ago, with no active subscription, where oanm bills the ISP's customers (its arrangement
  names a subscription provider); an ISP that bills its customers itself is only settled
  wholesale, so its services are never free riders here;
- billing without an active service (red): an active subscription whose service has ended
  or is missing;
- plan mismatch (amber): an active subscription billing another product than its live
  service carries;
- ONT binding (red): a live service whose ONT serial is not the one of its address's latest
  installation record, or is the serial of another address's latest record; its
  subscription is blocked from billing until the binding is repaired;
- pricing policy (amber): an active subscription billed off the catalog (price ≠ catalog
  price, or a discount) without an applied price override that explains the current value.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.permissions import is_finance
from billing.lifecycle import ExceptionStatus
from billing.models import BillingException, BillingRun
from common.errors import Conflict, DomainError, PermissionDenied

CLEARED = "cleared by the next check"
DEFAULT_GRACE_MINUTES = 60

# Every condition that holds now, one row each: (kind, severity, subject, service_id,
# subscription_id, isp_id, detail). `%(service)s` narrows the check to one service.
FOUND_SQL = """
    latest_record AS (
        SELECT DISTINCT ON (r.address_id) r.address_id, upper(btrim(r.ont_serial)) AS serial
        FROM workorders_installationrecord r
        ORDER BY r.address_id, r.created_at DESC, r.id DESC
    ),
    live AS (
        SELECT s.id, s.reference, s.isp_id, s.address_id, s.product_id, s.ont_serial,
               s.activated_at, s.order_id
        FROM wholesale_service s
        WHERE s.status = 'active' AND (%(service)s::bigint IS NULL OR s.id = %(service)s)
    ),
    subs AS (
        SELECT sub.*
        FROM billing_subscription sub
        WHERE sub.status = 'active'
          AND (%(service)s::bigint IS NULL OR sub.service_id = %(service)s
               OR sub.order_id = (SELECT order_id FROM wholesale_service WHERE id = %(service)s))
    ),
    ont_broken AS (
        SELECT DISTINCT ON (s.id) s.id AS service_id, s.isp_id, s.reference, s.ont_serial,
               lr.serial AS recorded, other.address_id AS other_address_id
        FROM live s
        LEFT JOIN latest_record lr ON lr.address_id = s.address_id
        LEFT JOIN latest_record other
               ON other.serial = s.ont_serial AND other.address_id <> s.address_id
        WHERE (lr.serial IS NOT NULL AND lr.serial <> '' AND lr.serial <> s.ont_serial)
           OR other.address_id IS NOT NULL
        ORDER BY s.id, other.address_id
    ),
    found AS (
        -- free rider: live, past the grace, oanm bills the ISP's customers, no subscription
        SELECT 'free_rider'::text AS kind, 'red'::text AS severity,
               'service:' || s.id AS subject, s.id AS service_id,
               NULL::bigint AS subscription_id, s.isp_id,
               'service ' || s.reference || ' is active since '
                 || to_char(s.activated_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI')
                 || ' but has no active subscription' AS detail
        FROM live s
        JOIN billing_billingarrangement a
          ON a.isp_id = s.isp_id AND a.subscription_provider_id IS NOT NULL
        WHERE s.activated_at <= %(grace_until)s
          AND NOT EXISTS (SELECT 1 FROM billing_subscription sub
                          WHERE sub.status = 'active'
                            AND (sub.service_id = s.id OR sub.order_id = s.order_id))
        UNION ALL
        -- billing without an active service
        SELECT 'billing_without_service', 'red', 'subscription:' || sub.id, sub.service_id,
               sub.id, sub.isp_id,
               CASE WHEN s.id IS NULL
                    THEN 'subscription ' || sub.id || ' is billing but has no service'
                    ELSE 'subscription ' || sub.id || ' is billing but its service '
                         || s.reference || ' ended on '
                         || to_char(s.ended_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI')
               END
        FROM subs sub
        LEFT JOIN wholesale_service s ON s.id = sub.service_id
        WHERE s.id IS NULL OR s.status <> 'active'
        UNION ALL
        -- plan mismatch: the billed plan is not the provisioned profile
        SELECT 'plan_mismatch', 'amber', 'subscription:' || sub.id, s.id, sub.id, sub.isp_id,
               'subscription ' || sub.id || ' bills ' || billed.name || ' (' || billed.code
                 || ') but service ' || s.reference || ' carries ' || live_p.name
                 || ' (' || live_p.code || ')'
        FROM subs sub
        JOIN wholesale_service s ON s.id = sub.service_id AND s.status = 'active'
        JOIN wholesale_product billed ON billed.id = sub.product_id
        JOIN wholesale_product live_p ON live_p.id = s.product_id
        WHERE sub.product_id <> s.product_id
        UNION ALL
        -- ONT binding: the service's ONT is not the one installed at its address
        SELECT 'ont_binding', 'red', 'service:' || b.service_id, b.service_id, NULL, b.isp_id,
               CASE WHEN b.recorded IS NOT NULL AND b.recorded <> '' AND b.recorded <> b.ont_serial
                    THEN 'service ' || b.reference || ' uses ONT ' || b.ont_serial
                         || ' but the installation record of its address names ONT '
                         || b.recorded
                    ELSE 'service ' || b.reference || ' uses ONT ' || b.ont_serial
                         || ', which is installed at another address (' || b.other_address_id
                         || ')'
               END
        FROM ont_broken b
        UNION ALL
        -- pricing policy: off the catalog without an applied override explaining it
        SELECT 'pricing_policy', 'amber', 'subscription:' || sub.id, sub.service_id, sub.id,
               sub.isp_id,
               'subscription ' || sub.id || ' is billed '
                 || CASE WHEN sub.monthly_price <> sub.catalog_price AND price_ok.id IS NULL
                         THEN sub.monthly_price || ' a month against the catalog price '
                              || sub.catalog_price
                         ELSE '' END
                 || CASE WHEN sub.monthly_price <> sub.catalog_price AND price_ok.id IS NULL
                              AND sub.discount > 0 AND discount_ok.id IS NULL
                         THEN ' and ' ELSE '' END
                 || CASE WHEN sub.discount > 0 AND discount_ok.id IS NULL
                         THEN 'with a discount of ' || sub.discount || ' a month'
                         ELSE '' END
                 || ' without an applied price override'
        FROM subs sub
        LEFT JOIN LATERAL (
            SELECT o.id FROM billing_priceoverride o
            WHERE o.subscription_id = sub.id AND o.field = 'price' AND o.status = 'applied'
            ORDER BY coalesce(o.decided_at, o.requested_at) DESC, o.id DESC LIMIT 1
        ) last_price ON true
        LEFT JOIN billing_priceoverride price_ok
               ON price_ok.id = last_price.id AND price_ok.new_value = sub.monthly_price
        LEFT JOIN LATERAL (
            SELECT o.id FROM billing_priceoverride o
            WHERE o.subscription_id = sub.id AND o.field = 'discount' AND o.status = 'applied'
            ORDER BY coalesce(o.decided_at, o.requested_at) DESC, o.id DESC LIMIT 1
        ) last_discount ON true
        LEFT JOIN billing_priceoverride discount_ok
               ON discount_ok.id = last_discount.id AND discount_ok.new_value = sub.discount
        WHERE (sub.monthly_price <> sub.catalog_price AND price_ok.id IS NULL)
           OR (sub.discount > 0 AND discount_ok.id IS NULL)
    )
"""

DETECT_SQL = (
    "WITH "
    + FOUND_SQL
    + """,
    raised AS (
        INSERT INTO billing_billingexception
            (kind, severity, status, subject, service_id, subscription_id, isp_id, detail,
             detected_at, resolution, created_at, updated_at)
        SELECT f.kind, f.severity, 'open', f.subject, f.service_id, f.subscription_id, f.isp_id,
               left(f.detail, 500), %(now)s, '', %(now)s, %(now)s
        FROM found f
        ON CONFLICT (kind, subject) WHERE status = 'open' DO NOTHING
        RETURNING kind
    ),
    cleared AS (
        UPDATE billing_billingexception e
        SET status = 'resolved', resolved_at = %(now)s, resolution = %(cleared)s,
            updated_at = %(now)s
        WHERE e.status = 'open'
          AND (%(service)s::bigint IS NULL OR e.service_id = %(service)s
               OR e.subscription_id IN (SELECT id FROM subs))
          AND NOT EXISTS (SELECT 1 FROM found f WHERE f.kind = e.kind AND f.subject = e.subject)
        RETURNING e.kind
    ),
    blocked AS (
        UPDATE billing_subscription sub
        SET billing_blocked = (sub.status = 'active'
                               AND sub.service_id IN (SELECT service_id FROM ont_broken)),
            updated_at = %(now)s
        WHERE (%(service)s::bigint IS NULL OR sub.service_id = %(service)s)
          AND sub.billing_blocked IS DISTINCT FROM
              (sub.status = 'active' AND sub.service_id IN (SELECT service_id FROM ont_broken))
        RETURNING sub.billing_blocked
    )
    SELECT 'raised', kind, count(*) FROM raised GROUP BY kind
    UNION ALL SELECT 'cleared', kind, count(*) FROM cleared GROUP BY kind
    UNION ALL SELECT 'blocked', billing_blocked::text, count(*) FROM blocked
        GROUP BY billing_blocked
    UNION ALL SELECT 'open', kind, count(*) FROM found GROUP BY kind
"""
)


def grace_minutes() -> int:
    """Minutes after an activation before a service without subscription is a free rider."""
    return int(getattr(settings, "BILLING_FREE_RIDER_GRACE_MINUTES", DEFAULT_GRACE_MINUTES))


def _check_instant(on: dt.date, now: dt.datetime | None) -> dt.datetime:
    """The instant the check stands at: `now`, else the end of day `on` or now if sooner."""
    if now is not None:
        return now
    end_of_day = timezone.make_aware(dt.datetime.combine(on + dt.timedelta(days=1), dt.time.min))
    return min(timezone.now(), end_of_day)


@transaction.atomic
def exceptions_detect(
    *,
    on: dt.date,
    run: BillingRun | None = None,
    now: dt.datetime | None = None,
    service_id: int | None = None,
) -> dict:
    """Compare subscriptions with services and raise, clear and block, set-based (one SQL
    statement). `service_id` narrows the check to one service (and its subscription).

    Returns counts: {"raised": n, "cleared": n, "blocked": n, "unblocked": n, "open": n,
    "by_kind": {kind: open count}}.
    """
    instant = _check_instant(on, now)
    params = {
        "now": instant,
        "grace_until": instant - dt.timedelta(minutes=grace_minutes()),
        "tz": settings.TIME_ZONE,
        "cleared": CLEARED,
        "service": service_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(DETECT_SQL, params)
        rows = cursor.fetchall()
    counts = {"raised": 0, "cleared": 0, "blocked": 0, "unblocked": 0, "open": 0, "by_kind": {}}
    for what, key, count in rows:
        if what == "blocked":
            counts["blocked" if key == "true" else "unblocked"] += count
        elif what == "open":
            counts["open"] += count
            counts["by_kind"][key] = count
        else:
            counts[what] += count
    return counts


@transaction.atomic
def exception_resolve(
    *, exception: BillingException, resolution: str, actor: User
) -> BillingException:
    """Finance marks an open exception resolved with a note saying how. Should its condition
    still hold, the next check raises it again, as a new exception."""
    if not is_finance(actor):
        raise PermissionDenied("only the owner's finance staff may resolve exceptions")
    note = (resolution or "").strip()
    if not note:
        raise DomainError("say how the exception was resolved", field="resolution")
    if len(note) > 500:
        raise DomainError("the resolution note is longer than 500 characters", field="resolution")
    exception = BillingException.objects.select_for_update().get(pk=exception.pk)
    if exception.status != ExceptionStatus.OPEN:
        raise Conflict(f"exception {exception.pk} is resolved already", code="resolved")
    exception.status = ExceptionStatus.RESOLVED
    exception.resolved_at = timezone.now()
    exception.resolved_by = actor
    exception.resolution = note
    exception.save(
        update_fields=["status", "resolved_at", "resolved_by", "resolution", "updated_at"]
    )
    return exception
