"""Rows of field operations (issue 6): an area moving into deployment, and a day's route.

- `deploy`: an area of the county holding 10,000 addresses with an order each moves into
  deployment through `area_deploy` (the planner's action): the phase change, every work order
  from its template with its tasks and history, the addresses to `in_deployment` with their
  history and the tile counters, the events — against the raw `INSERT … SELECT` of the same
  10,000 bare work-order rows, in the same run. Each side runs in a transaction that is rolled
  back, so the county is left as it was. Goal: ≤ 3 s and ≤ 3× raw.
- `route`: ordering a day of 40 stops into a tour from the depot (goal ≤ 1 s), and how close
  the heuristic comes to the optimal tour found by brute force on small instances (goal:
  within 10 %). There is no SQL to hold it to: the brute force is its reference.
"""

from __future__ import annotations

import math
import random
import secrets
import statistics
import time

from bench.registry import BenchContext, Goal, Result, row
from bench.timing import say

DEPLOY_ADDRESSES = 10_000
ROUTE_STOPS = 40
SEED = 6

# The physical limit: the same number of bare work-order rows, one statement.
RAW_WORK_ORDERS_SQL = """
INSERT INTO workorders_workorder (created_at, updated_at, address_id, template_id, status,
                                  status_changed_at, reopened)
SELECT now(), now(), a.id, %(template)s, 'open', now(), 0
  FROM gis_core_address AS a
 WHERE a.area_id = %(area)s
   AND EXISTS (SELECT 1 FROM wholesale_order AS o
                WHERE o.address_id = a.id AND o.status = 'awaiting_infrastructure')
"""


def _area_with_orders(count: int):
    """An area gathering demand, holding `count` addresses awaiting deployment with an order
    each (inside the caller's transaction, which is rolled back afterwards)."""
    from django.db import connection
    from django.utils import timezone

    from areas.models import Area
    from wholesale.lifecycle import OrderStatus
    from wholesale.models import Order

    area = Area.objects.filter(phase="demand_aggregation", is_active=True).order_by("pk").first()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH chosen AS (
                SELECT id FROM gis_core_address
                 WHERE status = 'planned'
                   AND NOT EXISTS (SELECT 1 FROM wholesale_order o WHERE o.address_id = id)
                 ORDER BY id LIMIT %(count)s
            )
            UPDATE gis_core_address AS a
               SET area_id = %(area)s, status = 'awaiting_deployment'
              FROM chosen WHERE a.id = chosen.id
            RETURNING a.id
            """,
            {"count": count, "area": area.pk},
        )
        ids = [r[0] for r in cursor.fetchall()]
    now = timezone.now()
    Order.objects.bulk_create(
        Order(
            reference=f"BENCH-{address_id}",
            address_id=address_id,
            status=OrderStatus.AWAITING_INFRASTRUCTURE,
            status_changed_at=now,
            placed_at=now,
            manage_token=secrets.token_urlsafe(24),
        )
        for address_id in ids
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE gis_core_address")
        cursor.execute("ANALYZE wholesale_order")
    return area, len(ids)


@row("deploy", "an area with 10,000 ordered addresses into deployment")
def deploy(context: BenchContext) -> list[Result]:
    from django.db import connection, transaction

    from areas.services import area_deploy
    from workorders.creation import standard_template
    from workorders.models import Task, WorkOrder

    template = standard_template()  # committed once: every address of the county fits it
    ours, raw, made = [], [], (0, 0)
    for attempt in range(max(3, context.repeat)):
        for side in ("oanm", "raw"):
            with transaction.atomic():
                area, addresses = _area_with_orders(DEPLOY_ADDRESSES)
                started = time.perf_counter()
                if side == "oanm":
                    area_deploy(area=area, reason="bench")
                    ours.append(time.perf_counter() - started)
                    made = (
                        WorkOrder.objects.filter(address__area=area).count(),
                        Task.objects.filter(work_order__address__area=area).count(),
                    )
                else:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            RAW_WORK_ORDERS_SQL, {"area": area.pk, "template": template.pk}
                        )
                    raw.append(time.perf_counter() - started)
                transaction.set_rollback(True)
        say(f"  attempt {attempt + 1}: oanm {ours[-1]:.2f} s, raw {raw[-1]:.2f} s")
    work_orders, tasks = made
    if work_orders != addresses:
        raise AssertionError(f"{work_orders} work orders for {addresses} ordered addresses")
    return [
        Result(
            name=f"deploy an area: {work_orders:,} work orders with {tasks:,} tasks",
            unit="s",
            value=statistics.median(ours),
            raw_value=statistics.median(raw),
            goal=Goal(maximum=3.0, max_ratio=3.0),
            raw_label=f"INSERT … SELECT of {addresses:,} bare work-order rows",
            note="phase, work orders + tasks + history, addresses moved with history and tile"
            " counters, events",
        )
    ]


def _wedding_stops(rng: random.Random, n: int) -> tuple[tuple[float, float], list]:
    """A depot and `n` stops scattered over Wedding (lon, lat)."""
    depot = (13.345, 52.545)
    stops = [(rng.uniform(13.32, 13.38), rng.uniform(52.53, 52.56)) for _ in range(n)]
    return depot, stops


@row("route", "a technician's day of 40 stops in tour order")
def route(context: BenchContext) -> list[Result]:
    from workorders.routing import optimal_tour, order_stops

    rng = random.Random(SEED)
    times = []
    for _ in range(max(5, context.repeat)):
        depot, stops = _wedding_stops(rng, ROUTE_STOPS)
        started = time.perf_counter()
        order_stops(depot, stops)
        times.append(time.perf_counter() - started)
    gaps = []
    for n in (6, 7, 8, 9) * 10:
        depot, stops = _wedding_stops(rng, n)
        _, ours = order_stops(depot, stops)
        _, best = optimal_tour(depot, stops)
        gaps.append(ours / best - 1 if best else 0.0)
    worst = max(gaps) * 100
    say(
        f"  40 stops: {max(times) * 1000:.0f} ms at worst; small instances: worst gap {worst:.2f} %"
    )
    return [
        Result(
            name=f"order a day of {ROUTE_STOPS} stops (worst of {len(times)})",
            unit="ms",
            value=max(times) * 1000,
            goal=Goal(maximum=1000),
            note="nearest neighbour + 2-opt + Or-opt over a metric distance matrix",
        ),
        Result(
            name=f"tour length over the optimum, worst of {len(gaps)} instances of 6–9 stops",
            unit="%",
            value=worst if worst > 0 else math.ulp(0.0),
            goal=Goal(maximum=10),
            note=f"mean {statistics.mean(gaps) * 100:.2f} %; optimum by brute force",
        ),
    ]
