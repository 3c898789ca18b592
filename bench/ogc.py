"""Row of the OGC API – Features door (issue 8): pages of 1,000 addresses.

`ogc-items`: `GET /ogc/collections/addresses/items?limit=1000` through the whole server side
in process (Django's test Client as an owner-staff session: middleware, authorisation,
parameter parsing, the page statement, the count, the JSON response), 40 pages starting at
seeded places of the county (`after=<id>`, as `next` links give them), and right after each
the same SQL statements sent again over a plain psycopg connection: raw is what the database
and the round trips cost. Goal: p50 ≤ 150 ms.
"""

from __future__ import annotations

import random
import statistics
import time

from django.db import connection

from bench import databases
from bench.registry import BenchContext, Goal, Result, row
from bench.timing import step

PAGES = 40
WARMUP = 5
SEED = 8
LIMIT = 1000
PATH = "/ogc/collections/addresses/items"
USERNAME = "bench-ogc"


class _Recorder:
    """Notes every statement Django runs (SQL and parameters), to replay it raw."""

    def __init__(self):
        self.statements: list[tuple[str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, params))
        return execute(sql, params, many, context)


def _owner_staff():
    """A planner of the county's network owner (made once, through the services)."""
    from accounts.models import Organisation, User
    from accounts.roles import OrganisationKind, Role
    from accounts.services import organisation_create, user_create

    user = User.objects.filter(username=USERNAME).first()
    if user is not None:
        return user
    owner = Organisation.objects.filter(kind=OrganisationKind.OWNER).order_by("id").first()
    if owner is None:
        owner = organisation_create(name="Bench owner", kind=OrganisationKind.OWNER)
    return user_create(username=USERNAME, organisation=owner, role=Role.PLANNER)


@row("ogc-items", "OGC API items: a page of 1,000 addresses (GeoJSON) vs its raw SQL")
def ogc_items(context: BenchContext) -> list[Result]:
    import psycopg
    from django.test import Client, override_settings

    client = Client()
    client.force_login(_owner_staff())
    rng = random.Random(SEED)
    with databases.connect(context.county.database) as conn:
        highest = conn.execute("SELECT max(id) FROM gis_core_address").fetchone()[0]
    starts = [rng.randrange(0, max(highest - LIMIT, 1)) for _ in range(WARMUP + PAGES)]
    oanm, raw, sizes = [], [], []
    with (
        override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]),
        databases.connect(context.county.database) as raw_conn,
        psycopg.ClientCursor(raw_conn) as raw_cursor,
        step(f"ogc-items: {PAGES} pages of {LIMIT:,} addresses, each then as raw SQL"),
    ):
        for index, after in enumerate(starts):
            recorder = _Recorder()
            with connection.execute_wrapper(recorder):
                started = time.perf_counter()
                response = client.get(PATH, {"limit": LIMIT, "after": after})
                elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code} {response.content[:300]!r}")
            statements = [(s, p) for s, p in recorder.statements if "gis_core_address" in s]
            started = time.perf_counter()
            for sql, params in statements:
                raw_cursor.execute(sql, params)
                raw_cursor.fetchall()
            raw_elapsed = time.perf_counter() - started
            if index < WARMUP:
                continue
            oanm.append(elapsed * 1000)
            raw.append(raw_elapsed * 1000)
            sizes.append(len(response.content))
    return [
        Result(
            name="ogc-items",
            unit="ms",
            value=round(statistics.median(oanm), 1),
            raw_value=round(statistics.median(raw), 1),
            goal=Goal(maximum=150),
            raw_label="the page and count statements via psycopg",
            note=f"p50 of {PAGES} pages of {LIMIT:,} addresses, GeoJSON, as owner staff",
            details={
                "pages": PAGES,
                "oanm_p95_ms": round(sorted(oanm)[round(0.95 * (len(oanm) - 1))], 1),
                "raw_p95_ms": round(sorted(raw)[round(0.95 * (len(raw) - 1))], 1),
                "response_bytes_p50": int(statistics.median(sizes)),
            },
        )
    ]
