"""Rows of the customers' lookup (issue 4): serviceability through the API, and req/s.

- `serviceability`: 1,000 addresses and 1,000 points of the county, each asked through the
  API in-process (Django's test Client: URL routing, DRF, the view, JSON), p50/p95 of the
  server-side time, against the raw SQL statement the answer is built from, run through
  psycopg with the same parameters in the same run. Goal: p95 ≤ 5 ms.
- `serviceability-rps`: gunicorn on 127.0.0.1 (2 gthread workers, keep-alive) against the
  county, and a load generator in a second process (asyncio, keep-alive connections) asking
  for ~10 s. Goal: ≥ 500 req/s with no errors.

The county has areas and addresses but no catalog; the set-up adds (idempotently) three
ISPs serving every area with an offering each, connection-cost terms on a quarter of the
areas and installation slots in the areas in deployment, so answers are as rich as real ones.
Throttling is off for both rows (LOOKUP_THROTTLE_RATE=off): one client asking thousands of
times a second is what the throttle exists to refuse.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from bench import databases
from bench.registry import BenchContext, Goal, Result, row
from bench.timing import say, step

QUERIES = 1_000
SEED = 4
RPS_SECONDS = 10.0
RPS_WARMUP_SECONDS = 1.5
RPS_CONNECTIONS = 8
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
REPO = Path(__file__).resolve().parent.parent
BENCH_ISPS = [
    ("Bench Spree", "spree-net"),
    ("Bench Kiez", "kiez-online"),
    ("Bench Panke", "panke-glasfaser"),
]


# --- the catalog the county lacks ------------------------------------------------------------


def ensure_catalog() -> None:
    """ISPs serving every area with an offering each, terms on every 4th area, and two
    slots a weekday for three weeks in the areas in deployment; added once."""
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.models import Organisation
    from accounts.roles import OrganisationKind
    from accounts.services import organisation_create
    from areas.lifecycle import AreaPhase
    from areas.models import Area
    from wholesale.models import ConnectionCostTerms, InstallationSlot, IspServiceArea, Product
    from wholesale.services import isp_profile_set, offering_create, product_create

    if IspServiceArea.objects.filter(isp__name=BENCH_ISPS[-1][0]).exists():
        return
    with step("serviceability: adding the catalog to the county"), transaction.atomic():
        owner = Organisation.objects.filter(kind=OrganisationKind.OWNER).first()
        owner = owner or organisation_create(name="Bench Netz", kind=OrganisationKind.OWNER)
        product = Product.objects.filter(code="bench-500").first() or product_create(
            code="bench-500",
            name="Bench 500",
            download_mbps=500,
            upload_mbps=100,
            monthly_fee="18.00",
            valid_from=date(2020, 1, 1),
        )
        for k, (name, slug) in enumerate(BENCH_ISPS):
            isp = Organisation.objects.filter(name=name).first() or organisation_create(
                name=name, kind=OrganisationKind.ISP
            )
            isp_profile_set(isp=isp, logo=f"oanm/isp/{slug}.svg")
            offering_create(
                isp=isp,
                product=product,
                name=f"{name} 500",
                monthly_price=f"{34.90 + 5 * k:.2f}",
                terms="24 months, then monthly.",
                valid_from=date(2020, 1, 1),
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO wholesale_ispservicearea (created_at, updated_at, isp_id, area_id)"
                    " SELECT now(), now(), %s, id FROM areas_area ON CONFLICT DO NOTHING",
                    [isp.pk],
                )
        ConnectionCostTerms.objects.bulk_create(
            ConnectionCostTerms(
                area_id=area_id,
                total="5000.00",
                deposit="1000.00",
                max_installment="500.00",
                invoicing_starts="deployment",
                billed_by=owner,
                connection_only_enabled=area_id % 8 == 0,
            )
            for area_id in Area.objects.filter(id__in=range(0, 10**6, 4)).values_list(
                "id", flat=True
            )
        )
        start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
        days = [
            start + timedelta(days=n)
            for n in range(1, 22)
            if (start + timedelta(days=n)).weekday() < 5
        ]
        slots = [
            InstallationSlot(
                area_id=area_id,
                starts_at=day + timedelta(hours=hour),
                ends_at=day + timedelta(hours=hour + 4),
                capacity=4,
            )
            for area_id in Area.objects.filter(phase=AreaPhase.IN_DEPLOYMENT).values_list(
                "id", flat=True
            )
            for day in days
            for hour in (0, 5)
        ]
        InstallationSlot.objects.bulk_create(slots, batch_size=5000)
    with databases.connect(databases.bench_database_name()) as conn:
        conn.execute("ANALYZE wholesale_ispservicearea")
        conn.execute("ANALYZE wholesale_installationslot")
        conn.execute("ANALYZE wholesale_connectioncostterms")


def sample(conn, count: int = QUERIES, seed: int = SEED) -> tuple[list[int], list[tuple]]:
    """`count` address ids, and `count` points (lon, lat) near other addresses: a third on
    an address, a third 10–25 m off, a third 40–150 m off (mostly an area-only answer)."""
    total = conn.execute("SELECT max(id) FROM gis_core_address").fetchone()[0]
    rng = random.Random(seed)
    ids = rng.sample(range(1, total + 1), 2 * count)
    rows = conn.execute(
        "SELECT id, ST_X(location), ST_Y(location) FROM gis_core_address WHERE id = ANY(%s)",
        [ids[count:]],
    ).fetchall()
    points = []
    for k, (_, lon, lat) in enumerate(sorted(rows)):
        metres = (0, rng.uniform(10, 25), rng.uniform(40, 150))[k % 3]
        angle = rng.uniform(0, 6.283)
        points.append(
            (
                lon + metres * 1.5e-5 * math.cos(angle),
                lat + metres * 9e-6 * math.sin(angle),
            )
        )
    return ids[:count], points


def _percentiles(laps: list[float]) -> tuple[float, float]:
    laps = sorted(laps)
    return statistics.median(laps) * 1000, laps[int(len(laps) * 0.95) - 1] * 1000


@row("serviceability", "serviceability by address and by point through the API vs raw SQL")
def serviceability(context: BenchContext) -> list[Result]:
    from django.conf import settings
    from django.test import Client
    from django.test.utils import override_settings

    from wholesale import serviceability as answers

    ensure_catalog()
    with databases.connect(context.county.database) as conn:
        ids, points = sample(conn)
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = {**rest.get("DEFAULT_THROTTLE_RATES", {}), "lookup": None}
    results = []
    states: dict[str, int] = {}
    with override_settings(REST_FRAMEWORK=rest):
        client = Client(HTTP_HOST="127.0.0.1")
        cases = {
            "address": [{"address": i} for i in ids],
            "point": [{"lon": f"{x:.7f}", "lat": f"{y:.7f}"} for x, y in points],
        }
        for kind, queries in cases.items():
            for query in queries[:50]:  # warm-up: connections, caches, plans
                client.get("/api/serviceability/", query)
            laps, errors = [], 0
            for query in queries:
                started = time.perf_counter()
                response = client.get("/api/serviceability/", query)
                laps.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors += 1
                else:
                    state = json.loads(response.content)["state"]
                    states[state] = states.get(state, 0) + 1
            statement = (
                answers.ANSWER_BY_ADDRESS_SQL if kind == "address" else answers.ANSWER_BY_POINT_SQL
            )
            raw_laps = []
            with databases.connect(context.county.database) as conn, conn.cursor() as cursor:
                for query in queries[:50] + queries:
                    params = answers._parameters(
                        **(
                            {"id": query["address"]}
                            if kind == "address"
                            else {
                                "lon": float(query["lon"]),
                                "lat": float(query["lat"]),
                                "radius": 30 / math.cos(math.radians(float(query["lat"]))),
                            }
                        )
                    )
                    started = time.perf_counter()
                    cursor.execute(statement, params)
                    cursor.fetchall()
                    raw_laps.append(time.perf_counter() - started)
            raw_laps = raw_laps[50:]
            p50, p95 = _percentiles(laps)
            raw50, raw95 = _percentiles(raw_laps)
            result = Result(
                name=f"serviceability by {kind} (API, p95)",
                unit="ms",
                value=p95,
                raw_value=raw95,
                goal=Goal(maximum=5.0),
                raw_label="the answer's one SQL statement through psycopg 3 (p95)",
                note=f"p50 {p50:.2f} ms (raw {raw50:.2f} ms) over {len(queries):,} {kind}es"
                if kind == "address"
                else f"p50 {p50:.2f} ms (raw {raw50:.2f} ms) over {len(queries):,} points",
                details={"p50_ms": p50, "p95_ms": p95, "raw_p50_ms": raw50, "raw_p95_ms": raw95,
                         "errors": errors},
            )  # fmt: skip
            if errors:
                result.error = f"{errors} of {len(queries)} answers were not 200"
            results.append(result)
    results[-1].details["states"] = states
    say(f"  answers by state: {states}")
    databases.close_django_connections()
    return results


# --- requests per second through gunicorn --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(
                    b"GET /health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
                if conn.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


@row("serviceability-rps", "serviceability req/s through gunicorn on loopback (2 cores)")
def serviceability_rps(context: BenchContext) -> list[Result]:
    ensure_catalog()
    with databases.connect(context.county.database) as conn:
        ids, points = sample(conn, seed=SEED + 1)
    paths = [f"/api/serviceability/?address={i}" for i in ids] + [
        f"/api/serviceability/?lon={x:.7f}&lat={y:.7f}" for x, y in points
    ]
    random.Random(SEED).shuffle(paths)
    databases.close_django_connections()
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "0",
        "DATABASE_NAME": context.county.database,
        "DATABASE_CONN_MAX_AGE": "600",
        "LOOKUP_THROTTLE_RATE": "off",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")), "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(GUNICORN_WORKERS),
        "--worker-class", "gthread", "--threads", str(GUNICORN_THREADS),
        "--keep-alive", "30", "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
    try:
        _wait_until_up(port, server)
        with step(f"serviceability-rps: {RPS_CONNECTIONS} connections for {RPS_SECONDS:.0f} s"):
            done = subprocess.run(
                [sys.executable, "-m", "bench.load", str(port), str(RPS_CONNECTIONS),
                 str(RPS_WARMUP_SECONDS), str(RPS_SECONDS)],
                input="\n".join(paths), cwd=REPO, capture_output=True, text=True, check=True,
            )  # fmt: skip
        report = json.loads(done.stdout)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    rate = report["ok"] / report["seconds"]
    errors = report["errors"] + report["not_ok"]
    result = Result(
        name="serviceability through gunicorn",
        unit="req/s",
        value=rate,
        higher_is_better=True,
        goal=Goal(minimum=500),
        note=(
            f"{report['ok']:,} answers in {report['seconds']:.1f} s, {errors} errors;"
            f" {GUNICORN_WORKERS} gthread workers × {GUNICORN_THREADS} threads,"
            f" {RPS_CONNECTIONS} keep-alive connections from a second process;"
            f" latency p50 {report['p50_ms']:.1f} ms, p95 {report['p95_ms']:.1f} ms"
        ),
        details={**report, "workers": GUNICORN_WORKERS, "threads": GUNICORN_THREADS},
    )
    if errors:
        result.error = f"{errors} requests failed: {report.get('first_error', '')}"
    return [result]
