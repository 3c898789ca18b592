"""Rows of the wholesale layer (issue 5): activating services, and the ISP's order list.

- `activation`: 10,000 services activated one by one through
  `wholesale.activation.service_activate` (the function behind the ISP's API), each in its
  own transaction as a request would be, on connected addresses of the county; against the
  same rows written by plain statements over one psycopg connection (one transaction per
  activation), and set-based (every activation at once) as the physical limit. The set-up
  (ten ISPs, a product and their offerings, one order ready for activation at each address)
  is written set-based and not timed; everything the row writes is removed afterwards, so
  the county stays as built.
- `isp-orders`: 100,000 orders over ten ISPs (10,000 each, a fifth of them active with their
  service): `GET /api/isp/orders/?limit=50&offset=…` through the API in-process (token
  authentication, the view, the paginator, JSON) at offsets 0, 950 and 9,950, against the page's
  statement sent through psycopg (the API's paginator finds a page's ids first, then joins only
  those rows); for reference the same page by a plain OFFSET over the joined rows, and the
  pagination's COUNT(*). The orders are inserted set-based at the start and deleted at the end.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter

import psycopg

from bench import databases
from bench.registry import BenchContext, Goal, Result, row
from bench.timing import say, step

ISPS = 10
ACTIVATIONS = int(os.environ.get("BENCH_ACTIVATIONS", 10_000))  # fewer: a quick try
PROFILED = 20  # activations run first under CaptureQueriesContext (untimed): the profile
ORDERS_PER_ISP = 10_000
PAGE_SIZE = 50
PAGES = (1, 20, 200)
PAGE_REPEAT = 20  # per ISP and page: 10 ISPs × 20 = 200 samples for each p95
PRODUCT_CODE = "bench-wholesale-500"
ISP_NAME = "Bench ISP {:02d}"
ISP_LOGIN = "bench-isp-{:02d}"
ACTIVATION_TAG = "bench-activation"  # isp_reference of the activation row's orders
ORDERS_TAG = "bench-orders"  # isp_reference of the order-list row's orders
COUNTY_REASON = "bench county"  # the reason on the county's own history rows
ACTIVATION_TABLES = (
    "gis_core_address",
    "gis_core_addressstatuschange",
    "wholesale_order",
    "wholesale_orderstatuschange",
    "wholesale_service",
    "wholesale_servicechange",
    "wholesale_ispnotification",
    "common_domainevent",
)
SERVICE_EVENTS = ("service.activated", "order.status_changed", "address.status_changed")


def _p95(laps: list[float]) -> float:
    laps = sorted(laps)
    return laps[max(int(len(laps) * 0.95) - 1, 0)] * 1000


def _p50(laps: list[float]) -> float:
    return statistics.median(laps) * 1000


# --- set-up shared by both rows ---------------------------------------------------------------


def ensure_isps() -> list[tuple[int, int, int]]:
    """Ten active ISPs with a profile, a login and an offering of one wholesale product,
    made once through the services; returns (isp id, user id, offering id) of each."""
    from datetime import date

    from django.db import transaction

    from accounts.models import Organisation, User
    from accounts.roles import OrganisationKind, Role
    from accounts.services import organisation_create, user_create
    from wholesale.models import Offering, Product
    from wholesale.services import isp_profile_set, offering_create, product_create

    made = []
    with transaction.atomic():
        product = Product.objects.filter(code=PRODUCT_CODE).first() or product_create(
            code=PRODUCT_CODE,
            name="Bench Wholesale 500",
            download_mbps=500,
            upload_mbps=100,
            monthly_fee="18.00",
            valid_from=date(2020, 1, 1),
        )
        for k in range(1, ISPS + 1):
            name = ISP_NAME.format(k)
            isp = Organisation.objects.filter(name=name).first()
            if isp is None:
                isp = organisation_create(name=name, kind=OrganisationKind.ISP)
                isp_profile_set(isp=isp, website=f"https://isp-{k:02d}.example")
            user = User.objects.filter(username=ISP_LOGIN.format(k)).first() or user_create(
                username=ISP_LOGIN.format(k), organisation=isp, role=Role.ISP_USER
            )
            offering = Offering.objects.filter(isp=isp, product=product).first() or (
                offering_create(
                    isp=isp,
                    product=product,
                    name=f"{name} 500",
                    monthly_price=f"{30 + k:.2f}",
                    valid_from=date(2020, 1, 1),
                )
            )
            made.append((isp.pk, user.pk, offering.pk))
    return made


def _values(isps: list[tuple[int, int, int]]) -> str:
    """The ISPs as a VALUES list (k, isp, offering) to join set-based statements on."""
    return ", ".join(f"({k}, {isp}, {offering})" for k, (isp, _, offering) in enumerate(isps))


# --- activation -------------------------------------------------------------------------------

# One order ready for activation at each of the first N connected addresses with no live
# service, spread round-robin over the ISPs; placed 30 days ago.
_ACTIVATION_ORDERS_SQL = """
INSERT INTO wholesale_order (created_at, updated_at, reference, address_id, isp_id, status,
                             status_changed_at, placed_at, offering_id, monthly_price,
                             price_currency, isp_reference, unit, manage_token,
                             connection_cost_currency, connection_cost_invoicing_starts)
SELECT now(), now(), 'BA-' || lpad(pick.n::text, 7, '0'), pick.id, isp.isp_id,
       'ready_for_activation', now() - interval '1 day', now() - interval '30 days',
       offering.id, offering.monthly_price, offering.currency, %(tag)s::text, '',
       %(tag)s || '-' || pick.id, '', ''
  FROM (SELECT a.id, row_number() OVER (ORDER BY a.id) AS n
          FROM gis_core_address AS a
         WHERE a.status = 'connected'
           AND NOT EXISTS (SELECT 1 FROM wholesale_service AS s
                            WHERE s.address_id = a.id AND s.status = 'active')
         ORDER BY a.id LIMIT %(count)s) AS pick
  JOIN (VALUES {isps}) AS isp (k, isp_id, offering_id) ON isp.k = pick.n %% {count_isps}
  JOIN wholesale_offering AS offering ON offering.id = isp.offering_id
"""

_ACTIVATION_ORDER_HISTORY_SQL = """
INSERT INTO wholesale_orderstatuschange (order_id, from_status, to_status, actor_id, reason,
                                         changed_at)
SELECT o.id, step.from_status, step.to_status, NULL, step.reason, step.at
  FROM wholesale_order AS o
 CROSS JOIN LATERAL (VALUES ('', 'received', 'placed', o.placed_at),
                            ('received', 'ready_for_activation', 'address status',
                             o.status_changed_at)) AS step (from_status, to_status, reason, at)
 WHERE o.isp_reference = %(tag)s
"""

# Everything an activation run wrote, removed; the addresses back to how the county built them.
_ACTIVATION_RESET_SQL = [
    """CREATE TEMP TABLE bench_touched ON COMMIT DROP AS
       SELECT o.id AS order_id, o.address_id FROM wholesale_order AS o
        WHERE o.isp_reference = %(tag)s""",
    """DELETE FROM common_outboxmessage WHERE event_id IN (
         SELECT e.id FROM common_domainevent AS e
          WHERE e.topic = ANY(%(topics)s)
            AND (e.payload ->> 'address_id')::int IN (SELECT address_id FROM bench_touched))""",
    """DELETE FROM common_domainevent AS e
        WHERE e.topic = ANY(%(topics)s)
          AND (e.payload ->> 'address_id')::int IN (SELECT address_id FROM bench_touched)""",
    """DELETE FROM wholesale_webhookdelivery WHERE notification_id IN (
         SELECT id FROM wholesale_ispnotification
          WHERE order_id IN (SELECT order_id FROM bench_touched))""",
    """DELETE FROM wholesale_ispnotification
        WHERE order_id IN (SELECT order_id FROM bench_touched)""",
    """DELETE FROM wholesale_servicechange WHERE service_id IN (
         SELECT id FROM wholesale_service
          WHERE order_id IN (SELECT order_id FROM bench_touched))""",
    """DELETE FROM wholesale_service WHERE order_id IN (SELECT order_id FROM bench_touched)""",
    """DELETE FROM wholesale_orderstatuschange
        WHERE order_id IN (SELECT order_id FROM bench_touched)""",
    """DELETE FROM wholesale_order WHERE id IN (SELECT order_id FROM bench_touched)""",
    """DELETE FROM gis_core_addressstatuschange
        WHERE address_id IN (SELECT address_id FROM bench_touched) AND reason <> %(county)s""",
    """UPDATE gis_core_address AS a
          SET status = 'connected', updated_at = %(epoch)s,
              status_changed_at = (SELECT max(h.changed_at) FROM gis_core_addressstatuschange AS h
                                    WHERE h.address_id = a.id)
        WHERE a.id IN (SELECT address_id FROM bench_touched) AND a.status <> 'connected'""",
]


def _activation_reset(conn: psycopg.Connection) -> int:
    """Remove whatever an activation run left (also after a crash); returns the orders."""
    from bench.county import EPOCH

    parameters = {
        "tag": ACTIVATION_TAG,
        "topics": list(SERVICE_EVENTS),
        "county": COUNTY_REASON,
        "epoch": EPOCH,
    }
    with conn.transaction():
        for statement in _ACTIVATION_RESET_SQL:
            conn.execute(statement, parameters)
        removed = conn.execute("SELECT count(*) FROM bench_touched").fetchone()[0]
    # each side starts without the other's dead rows in the tables and their indexes
    for table in ACTIVATION_TABLES:
        conn.execute(f"VACUUM (ANALYZE) {table}")
    return removed


def _activation_orders(conn: psycopg.Connection, isps, count: int) -> list[tuple[int, int]]:
    """Insert `count` orders ready for activation (set-based); returns (order, address) ids."""
    with conn.transaction():
        statement = _ACTIVATION_ORDERS_SQL.format(isps=_values(isps), count_isps=len(isps))
        conn.execute(statement, {"tag": ACTIVATION_TAG, "count": count})
        conn.execute(_ACTIVATION_ORDER_HISTORY_SQL, {"tag": ACTIVATION_TAG})
    for table in ("wholesale_order", "wholesale_orderstatuschange"):
        conn.execute(f"VACUUM (ANALYZE) {table}")
    return conn.execute(
        "SELECT id, address_id FROM wholesale_order WHERE isp_reference = %s ORDER BY id",
        [ACTIVATION_TAG],
    ).fetchall()


def ont_serial(address_id: int) -> str:
    """The ONT serial of an address in the county (one per address, as on a real line)."""
    return f"BNCH{address_id:08X}"


def _describe(sql: str) -> str:
    """A statement's kind and table, for the profile (`SELECT wholesale_order FOR UPDATE`)."""
    words = sql.replace('"', "").split()
    verb = words[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"):
        return verb
    marker = {"INSERT": "INTO", "UPDATE": "UPDATE"}.get(verb, "FROM")
    index = words.index(marker) + 1 if marker in words else len(words)
    table = words[index] if index < len(words) else ""
    suffix = " FOR UPDATE" if "FOR UPDATE" in sql else ""
    suffix += " (exists)" if "LIMIT 1" in sql and "SELECT 1 AS" in sql else ""
    return f"{verb} {table}{suffix}"


# The same rows as one activation writes, by plain statements: lock and check the order and
# the address, the service (its reference from its id), its history row, the order's status
# and history row, the address's status and history row.
RAW_ACTIVATION_SQL = [
    "SELECT status, isp_id, address_id, unit, offering_id FROM wholesale_order"
    " WHERE id = %(order)s FOR UPDATE",
    "SELECT status FROM gis_core_address WHERE id = %(address)s FOR UPDATE",
    """WITH new AS (SELECT nextval(pg_get_serial_sequence('wholesale_service', 'id')) AS id)
       INSERT INTO wholesale_service (id, created_at, updated_at, reference, order_id, isp_id,
                                      address_id, unit, product_id, wholesale_monthly_fee,
                                      currency, ont_serial, c_vlan, s_vlan, parameters, status,
                                      status_changed_at, activated_at, end_reason)
       SELECT new.id, %(at)s, %(at)s, 'SRV-' || lpad(new.id::text, 6, '0'), %(order)s,
              %(isp)s, %(address)s, '', %(product)s, %(fee)s, 'EUR', %(serial)s, %(c_vlan)s,
              %(s_vlan)s, '{}', 'active', %(at)s, %(at)s, ''
         FROM new RETURNING id, reference""",
    "INSERT INTO wholesale_servicechange (service_id, kind, to_product_id, actor_id, reason, at)"
    " VALUES (%(service)s, 'activated', %(product)s, %(actor)s, '', %(at)s)",
    "UPDATE wholesale_order SET status = 'active', status_changed_at = %(at)s,"
    " updated_at = %(at)s WHERE id = %(order)s",
    "INSERT INTO wholesale_orderstatuschange (order_id, from_status, to_status, actor_id,"
    " reason, changed_at) VALUES (%(order)s, 'ready_for_activation', 'active', %(actor)s,"
    " 'service activated', %(at)s)",
    "UPDATE gis_core_address SET status = 'activated', status_changed_at = %(at)s,"
    " updated_at = %(at)s WHERE id = %(address)s",
    "INSERT INTO gis_core_addressstatuschange (address_id, from_status, to_status, actor_id,"
    " reason, changed_at) VALUES (%(address)s, 'connected', 'activated', %(actor)s,"
    " %(reason)s, %(at)s)",
]

# The same rows for every order at once: the physical limit of writing them.
RAW_SET_BASED_SQL = [
    """CREATE TEMP TABLE bench_new_service ON COMMIT DROP AS
       SELECT nextval(pg_get_serial_sequence('wholesale_service', 'id')) AS id, o.id AS order_id,
              o.isp_id, o.address_id, offering.product_id, product.monthly_fee,
              u.id AS actor_id, row_number() OVER (ORDER BY o.id) AS n
         FROM wholesale_order AS o
         JOIN wholesale_offering AS offering ON offering.id = o.offering_id
         JOIN wholesale_product AS product ON product.id = offering.product_id
         JOIN LATERAL (SELECT m.user_id AS id FROM accounts_membership AS m
                        WHERE m.organisation_id = o.isp_id ORDER BY m.user_id LIMIT 1) AS u
              ON true
        WHERE o.isp_reference = %(tag)s AND o.status = 'ready_for_activation'""",
    """INSERT INTO wholesale_service (id, created_at, updated_at, reference, order_id, isp_id,
                                      address_id, unit, product_id, wholesale_monthly_fee,
                                      currency, ont_serial, c_vlan, s_vlan, parameters, status,
                                      status_changed_at, activated_at, end_reason)
       SELECT id, now(), now(), 'SRV-' || lpad(id::text, 6, '0'), order_id, isp_id, address_id,
              '', product_id, monthly_fee, 'EUR',
              'BNCH' || lpad(upper(to_hex(address_id)), 8, '0'),
              100 + n %% 3000, 10 + n %% 10, '{}', 'active', now(), now(), ''
         FROM bench_new_service""",
    """INSERT INTO wholesale_servicechange (service_id, kind, to_product_id, actor_id, reason, at)
       SELECT id, 'activated', product_id, actor_id, '', now() FROM bench_new_service""",
    """UPDATE wholesale_order AS o SET status = 'active', status_changed_at = now(),
              updated_at = now()
         FROM bench_new_service AS s WHERE o.id = s.order_id""",
    """INSERT INTO wholesale_orderstatuschange (order_id, from_status, to_status, actor_id,
                                                reason, changed_at)
       SELECT order_id, 'ready_for_activation', 'active', actor_id, 'service activated', now()
         FROM bench_new_service""",
    """UPDATE gis_core_address AS a SET status = 'activated', status_changed_at = now(),
              updated_at = now()
         FROM bench_new_service AS s WHERE a.id = s.address_id""",
    """INSERT INTO gis_core_addressstatuschange (address_id, from_status, to_status, actor_id,
                                                 reason, changed_at)
       SELECT address_id, 'connected', 'activated', actor_id,
              'service SRV-' || lpad(id::text, 6, '0'), now()
         FROM bench_new_service""",
]


def _raw_activations(conn: psycopg.Connection, orders, isps, product_id: int, fee) -> float:
    """Activate every order by plain statements, one transaction each; returns seconds."""
    users = {isp: user for isp, user, _ in isps}
    isp_of = dict(
        conn.execute(
            "SELECT id, isp_id FROM wholesale_order WHERE isp_reference = %s", [ACTIVATION_TAG]
        ).fetchall()
    )
    started = time.perf_counter()
    with conn.cursor() as cursor:
        for n, (order_id, address_id) in enumerate(orders):
            at = _now()
            values = {
                "order": order_id,
                "address": address_id,
                "isp": isp_of[order_id],
                "actor": users[isp_of[order_id]],
                "product": product_id,
                "fee": fee,
                "serial": ont_serial(address_id),
                "c_vlan": 100 + n % 3000,
                "s_vlan": 10 + n % ISPS,
                "at": at,
            }
            with conn.transaction():
                cursor.execute(RAW_ACTIVATION_SQL[0], values)
                cursor.fetchone()
                cursor.execute(RAW_ACTIVATION_SQL[1], values)
                cursor.fetchone()
                cursor.execute(RAW_ACTIVATION_SQL[2], values)
                values["service"], reference = cursor.fetchone()
                values["reason"] = f"service {reference}"
                for statement in RAW_ACTIVATION_SQL[3:]:
                    cursor.execute(statement, values)
    return time.perf_counter() - started


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


@row("activation", f"activate {ACTIVATIONS:,} services through service_activate vs raw SQL")
def activation(context: BenchContext) -> list[Result]:
    from django.test.utils import override_settings

    with override_settings(DEBUG=False):  # as in production: no query log
        return _activation(context)


def _activation(context: BenchContext) -> list[Result]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from wholesale.activation import service_activate
    from wholesale.models import Order, Product

    isps = ensure_isps()
    product = Product.objects.get(code=PRODUCT_CODE)
    users = {
        user.organisation.pk: user for user in User.objects.filter(pk__in=[u for _, u, _ in isps])
    }
    total = PROFILED + ACTIVATIONS
    with databases.connect(context.county.database, autocommit=True) as conn:
        left = _activation_reset(conn)
        if left:
            say(f"  removed {left:,} orders a previous run left")
        with step(f"activation: {total:,} orders ready for activation (set-based)"):
            orders = _activation_orders(conn, isps, total)
        if len(orders) < total:
            raise RuntimeError(f"the county has only {len(orders):,} connected addresses free")

        # The profile: statements and their time, over the first activations (untimed).
        objects = {
            order.pk: order
            for order in Order.objects.filter(isp_reference=ACTIVATION_TAG).order_by("pk")
        }

        def activate(n: int, order_id: int, address_id: int):
            order = objects[order_id]
            return service_activate(
                order=order,
                ont_serial=ont_serial(address_id),
                c_vlan=100 + n % 3000,
                s_vlan=10 + n % ISPS,
                actor=users[order.isp_id],
            )

        profile_started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            for n, (order_id, address_id) in enumerate(orders[:PROFILED]):
                activate(n, order_id, address_id)
        profile_seconds = time.perf_counter() - profile_started
        statements = len(captured.captured_queries) / PROFILED
        sql_seconds = sum(float(query["time"]) for query in captured.captured_queries)
        kinds = Counter(_describe(query["sql"]) for query in captured.captured_queries)
        per_activation = {kind: count / PROFILED for kind, count in kinds.most_common()}
        say(f"  {statements:.1f} statements per activation:")
        for kind, count in per_activation.items():
            say(f"    {count:4.1f} × {kind}")

        timed = orders[PROFILED:]
        with step(f"activation: oanm, {len(timed):,} × service_activate"):
            started = time.perf_counter()
            for n, (order_id, address_id) in enumerate(timed, start=PROFILED):
                activate(n, order_id, address_id)
            oanm_seconds = time.perf_counter() - started
        activated = conn.execute(
            "SELECT count(*) FROM wholesale_service AS s JOIN wholesale_order AS o"
            " ON o.id = s.order_id WHERE o.isp_reference = %s", [ACTIVATION_TAG]
        ).fetchone()[0]  # fmt: skip
        if activated != total:
            raise RuntimeError(f"{activated} services for {total} activations")

        # Raw, one transaction per activation, the same orders from the same state.
        _activation_reset(conn)
        orders = _activation_orders(conn, isps, total)
        fee = product.monthly_fee
        with step(f"activation: raw SQL, {ACTIVATIONS:,} activations one by one"):
            _raw_activations(conn, orders[:PROFILED], isps, product.pk, fee)  # warm-up
            raw_seconds = _raw_activations(conn, orders[PROFILED:], isps, product.pk, fee)

        # Raw, set-based: every activation in one transaction of seven statements.
        _activation_reset(conn)
        _activation_orders(conn, isps, total)
        with step(f"activation: raw SQL, {total:,} activations set-based"):
            started = time.perf_counter()
            with conn.transaction():
                for statement in RAW_SET_BASED_SQL:
                    conn.execute(statement, {"tag": ACTIVATION_TAG})
            set_seconds = time.perf_counter() - started
        with step("activation: removing the run's rows"):
            _activation_reset(conn)
    databases.close_django_connections()

    rate, raw_rate = ACTIVATIONS / oanm_seconds, ACTIVATIONS / raw_seconds
    set_rate = total / set_seconds
    profile_ms = profile_seconds / PROFILED * 1000
    sql_share = sql_seconds / profile_seconds
    return [
        Result(
            name=f"activate {ACTIVATIONS:,} services (service_activate)",
            unit="services/s",
            value=rate,
            raw_value=raw_rate,
            higher_is_better=True,
            goal=Goal(minimum=100),
            seconds=oanm_seconds,
            raw_seconds=raw_seconds,
            raw_label="the same rows by 8 plain statements, one transaction each (psycopg)",
            note=(
                f"{statements:.0f} statements per activation, BEGIN and COMMIT included"
                f" (raw: 10); profiled {profile_ms:.1f} ms each, {sql_share:.0%} of it in SQL"
            ),
            details={
                "statements_per_activation": statements,
                "statement_kinds": per_activation,
                "profile_ms_per_activation": profile_ms,
                "profile_sql_share": sql_share,
            },
        ),
        Result(
            name=f"activate {total:,} services set-based",
            unit="services/s",
            raw_value=set_rate,
            higher_is_better=True,
            raw_seconds=set_seconds,
            raw_label="7 INSERT … SELECT / UPDATE … FROM statements, one transaction",
            note="the physical limit of writing these rows; no checks, events or notifications",
        ),
    ]


# --- the ISP's order list ---------------------------------------------------------------------

# 100,000 orders over the ISPs, each at its own address (7919 is prime to 1,000,000, so
# n → address is one-to-one), placed over the last two years; a fifth active (with their
# service below), the rest waiting, ready, cancelled or terminated; each with a customer.
_LIST_CUSTOMERS_SQL = """
INSERT INTO wholesale_customer (id, created_at, updated_at, name, email, phone)
SELECT %(base)s + n, now(), now(), 'Bench Customer ' || n, 'customer' || n || '@bench.example', ''
  FROM generate_series(1, %(count)s) AS n
"""
_LIST_CUSTOMERS_SEQUENCE_SQL = """
SELECT setval(pg_get_serial_sequence('wholesale_customer', 'id'),
              (SELECT max(id) FROM wholesale_customer))
"""
_LIST_ORDERS_SQL = """
INSERT INTO wholesale_order (created_at, updated_at, reference, address_id, isp_id, status,
                             status_changed_at, placed_at, customer_id, offering_id,
                             monthly_price, price_currency, isp_reference, unit, manage_token,
                             connection_cost_currency, connection_cost_invoicing_starts)
SELECT placed.at, placed.at, 'BO-' || lpad(n::text, 7, '0'), (n * 7919) %% 1000000 + 1,
       isp.isp_id, state.status, placed.at + interval '3 days', placed.at, %(base)s + n,
       offering.id, offering.monthly_price, offering.currency, %(tag)s::text, '',
       %(tag)s || '-' || n, '', ''
  FROM generate_series(1, %(count)s) AS n
  JOIN (VALUES {isps}) AS isp (k, isp_id, offering_id) ON isp.k = n %% {count_isps}
  JOIN wholesale_offering AS offering ON offering.id = isp.offering_id
 CROSS JOIN LATERAL (SELECT timestamptz '2026-01-01' - interval '730 days'
                            * ((hashint8extended(n, 91) & 2147483647)::float8 / 2147483648.0)
                            AS at) AS placed
 CROSS JOIN LATERAL (SELECT (ARRAY['active', 'awaiting_infrastructure', 'ready_for_activation',
                                   'cancelled', 'terminated'])[1 + n %% 5] AS status) AS state
"""
_LIST_SERVICES_SQL = """
INSERT INTO wholesale_service (created_at, updated_at, reference, order_id, isp_id, address_id,
                               unit, product_id, wholesale_monthly_fee, currency, ont_serial,
                               parameters, status, status_changed_at, activated_at, end_reason)
SELECT o.placed_at, o.placed_at, 'BS-' || substr(o.reference, 4), o.id, o.isp_id,
       o.address_id, '', offering.product_id, 18, 'EUR', 'BNCHO' || substr(o.reference, 4),
       '{}', 'active', o.status_changed_at, o.status_changed_at, ''
  FROM wholesale_order AS o JOIN wholesale_offering AS offering ON offering.id = o.offering_id
 WHERE o.isp_reference = %(tag)s AND o.status = 'active'
"""
_LIST_RESET_SQL = [
    """DELETE FROM wholesale_service WHERE order_id IN (
         SELECT id FROM wholesale_order WHERE isp_reference = %(tag)s)""",
    """CREATE TEMP TABLE bench_list_customers ON COMMIT DROP AS
       SELECT customer_id AS id FROM wholesale_order WHERE isp_reference = %(tag)s""",
    "DELETE FROM wholesale_order WHERE isp_reference = %(tag)s",
    "DELETE FROM wholesale_customer WHERE id IN (SELECT id FROM bench_list_customers)",
]


def _orders_reset(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for statement in _LIST_RESET_SQL:
            conn.execute(statement, {"tag": ORDERS_TAG})


def _orders_insert(conn: psycopg.Connection, isps) -> int:
    count = ISPS * ORDERS_PER_ISP
    with conn.transaction():
        base = conn.execute("SELECT coalesce(max(id), 0) FROM wholesale_customer").fetchone()[0]
        conn.execute(_LIST_CUSTOMERS_SQL, {"base": base, "count": count})
        conn.execute(_LIST_CUSTOMERS_SEQUENCE_SQL)
        statement = _LIST_ORDERS_SQL.format(isps=_values(isps), count_isps=len(isps))
        conn.execute(statement, {"base": base, "count": count, "tag": ORDERS_TAG})
        conn.execute(_LIST_SERVICES_SQL, {"tag": ORDERS_TAG})
    for table in ("wholesale_customer", "wholesale_order", "wholesale_service"):
        conn.execute(f"VACUUM (ANALYZE) {table}")
    return count


def _page_query(user, page: int):
    """What GET /api/isp/orders/?page=N evaluates: the selector, newest first, one page."""
    from wholesale.selectors import orders_for

    offset = (page - 1) * PAGE_SIZE
    return orders_for(user).order_by("-placed_at", "-id")[offset : offset + PAGE_SIZE]


def _page_by_ids_query(user, page: int):
    """The same page found by its ids first (an index-only scan of the ISP's orders), then
    the 50 rows with their relations: one statement, the joins paid for 50 rows only."""
    from wholesale.selectors import orders_for

    offset = (page - 1) * PAGE_SIZE
    ordered = orders_for(user).order_by("-placed_at", "-id")
    ids = ordered.values("pk")[offset : offset + PAGE_SIZE]
    return ordered.filter(pk__in=ids)


def _api_pages(users, conn, page: int) -> tuple[list[float], list[float]]:
    """oanm's laps of one page through the API for every ISP, and raw's of its statement."""
    from django.test import Client

    clients = []
    for user in users:
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        clients.append(client)
    offset = (page - 1) * PAGE_SIZE
    url = f"/api/isp/orders/?limit={PAGE_SIZE}&offset={offset}"
    for client in clients:  # warm-up
        client.get(url)
    laps = []
    for _ in range(PAGE_REPEAT):
        for client in clients:
            started = time.perf_counter()
            response = client.get(url)
            laps.append(time.perf_counter() - started)
            if response.status_code != 200 or len(response.json()["results"]) != PAGE_SIZE:
                raise RuntimeError(f"the API answered {response.status_code} for page {page}")
    statements = [_page_by_ids_query(user, page).query.sql_with_params() for user in users]
    raw_laps = []
    with conn.cursor() as cursor:
        for _ in range(PAGE_REPEAT):
            for sql, params in statements:
                started = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                raw_laps.append(time.perf_counter() - started)
    return laps, raw_laps


def _explain(conn: psycopg.Connection, sql: str, params) -> str:
    rows = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params).fetchall()
    return "\n".join(line for (line,) in rows)


def _time_pages(users, conn, build, page: int) -> tuple[list[float], list[float], str]:
    """oanm's and raw's laps of one page for every ISP, PAGE_REPEAT times, and the plan."""
    laps, raw_laps = [], []
    for _ in range(PAGE_REPEAT):
        for user in users:
            started = time.perf_counter()
            rows = list(build(user, page))
            laps.append(time.perf_counter() - started)
            if len(rows) != PAGE_SIZE:
                raise RuntimeError(f"page {page} had {len(rows)} orders")
    statements = [build(user, page).query.sql_with_params() for user in users]
    with conn.cursor() as cursor:
        for _ in range(PAGE_REPEAT):
            for sql, params in statements:
                started = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                raw_laps.append(time.perf_counter() - started)
    return laps, raw_laps, _explain(conn, *statements[0])


@row("isp-orders", f"the ISP's order list: {ISPS * ORDERS_PER_ISP:,} orders over {ISPS} ISPs")
def isp_orders(context: BenchContext) -> list[Result]:
    from django.test.utils import override_settings

    with override_settings(DEBUG=False):  # as in production: no query log
        return _isp_orders(context)


def _isp_orders(context: BenchContext) -> list[Result]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from wholesale.selectors import orders_for

    isps = ensure_isps()
    users = list(User.objects.filter(pk__in=[user for _, user, _ in isps]).order_by("pk"))
    results = []
    with databases.connect(context.county.database) as conn:
        _orders_reset(conn)
        try:
            with step(f"isp-orders: {ISPS * ORDERS_PER_ISP:,} orders (set-based)"):
                _orders_insert(conn, isps)
            for user in users:  # warm-up: plans, caches, the user's membership
                list(_page_query(user, 1))
                list(_page_by_ids_query(user, 1))
                orders_for(user).count()
            with CaptureQueriesContext(connection) as captured:
                list(_page_query(users[0], 1))
            page_statements = len(captured.captured_queries)
            for page in PAGES:
                with step(f"isp-orders: page {page} through the API"):
                    laps, raw_laps = _api_pages(users, conn, page)
                results.append(
                    Result(
                        name=f"GET /api/isp/orders/, page {page} of 50 (p95)",
                        unit="ms",
                        value=_p95(laps),
                        raw_value=_p95(raw_laps),
                        goal=Goal(maximum=50),
                        raw_label="the page's SELECT … WHERE id IN (ids LIMIT 50 OFFSET …)"
                        " through psycopg (p95)",
                        note=f"offset {(page - 1) * PAGE_SIZE:,}; the whole request (auth,"
                        f" view, count, page, JSON); p50 {_p50(laps):.2f} ms"
                        f" (raw {_p50(raw_laps):.2f} ms) over {len(laps)} pages",
                        details={"p50_ms": _p50(laps), "raw_p50_ms": _p50(raw_laps)},
                    )
                )
            variants = (
                (
                    ", plain OFFSET (reference)",
                    _page_query,
                    "the same SELECT … LIMIT 50 OFFSET … through psycopg",
                ),
            )
            for suffix, build, raw_label in variants:
                for page in PAGES:
                    with step(f"isp-orders: page {page}{suffix}"):
                        laps, raw_laps, plan = _time_pages(users, conn, build, page)
                    results.append(
                        Result(
                            name=f"ISP order list, page {page} of 50{suffix} (p95)",
                            unit="ms",
                            value=_p95(laps),
                            raw_value=_p95(raw_laps),
                            raw_label=raw_label + " (p95)",
                            note=f"offset {(page - 1) * PAGE_SIZE:,}; p50 {_p50(laps):.2f} ms"
                            f" (raw {_p50(raw_laps):.2f} ms) over {len(laps)} pages",
                            details={
                                "p50_ms": _p50(laps),
                                "raw_p50_ms": _p50(raw_laps),
                                "plan": plan,
                                "statements": page_statements,
                            },
                        )
                    )
                    if page == PAGES[-1]:
                        say(f"  plan of page {page}{suffix}:\n{plan}")

            # the pagination's count, each side in a loop of its own
            count_laps, count_raw_laps = [], []
            for _ in range(PAGE_REPEAT * len(PAGES)):
                for user in users:
                    started = time.perf_counter()
                    total = orders_for(user).count()
                    count_laps.append(time.perf_counter() - started)
                    if total != ORDERS_PER_ISP:
                        raise RuntimeError(f"an ISP has {total} orders")
            with CaptureQueriesContext(connection) as captured:
                orders_for(users[0]).count()
            count_sql = captured.captured_queries[-1]["sql"]
            with conn.cursor() as cursor:
                for _ in range(PAGE_REPEAT * len(PAGES)):
                    for user in users:
                        sql, params = orders_for(user).query.get_compiler("default").as_sql()
                        started = time.perf_counter()
                        cursor.execute(f"SELECT count(*) FROM ({sql}) AS page", params)
                        cursor.fetchone()
                        count_raw_laps.append(time.perf_counter() - started)
            raw_count_sql = "SELECT count(*) FROM wholesale_order WHERE isp_id = %s"
            with conn.cursor() as cursor:
                bare_laps = []
                for _ in range(PAGE_REPEAT * len(PAGES)):
                    for isp, _, _ in isps:
                        started = time.perf_counter()
                        cursor.execute(raw_count_sql, [isp])
                        cursor.fetchone()
                        bare_laps.append(time.perf_counter() - started)
            results.append(
                Result(
                    name=f"ISP order list, COUNT(*) of {ORDERS_PER_ISP:,} (p95)",
                    unit="ms",
                    value=_p95(count_laps),
                    raw_value=_p95(bare_laps),
                    raw_label="SELECT count(*) FROM wholesale_order WHERE isp_id = … (p95)",
                    note=f"the pagination's count (the selector's WHERE, an index-only scan);"
                    f" p50 {_p50(count_laps):.2f} ms (raw {_p50(bare_laps):.2f} ms)",
                    details={
                        "sql": count_sql,
                        "plan": _explain(conn, raw_count_sql, [isps[0][0]]),
                        "count_of_the_joined_select_p95_ms": _p95(count_raw_laps),
                    },
                )
            )
        finally:
            with step("isp-orders: removing the orders"):
                _orders_reset(conn)
    connection.close()
    databases.close_django_connections()
    return results
