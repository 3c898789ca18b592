"""Rows of the customers' lookup (issue 4): address search through the API.

1,000 queries drawn from the county's own addresses, typed four ways in turn: "street
number", "number street postcode", the first 60 % of the label (type-ahead), and the street
with one typo ("street number"). Each query goes through the whole server side in process
(Django's test Client: middleware, DRF, throttle, validation, search, JSON), and right
after it the same SQL statements that search ran for it are sent again over a plain
psycopg 3 connection (the same client-side binding Django uses): raw is what the database
and one round trip per statement cost, oanm/raw what Django, DRF and Python add on top.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict

from django.db import connection

from bench import databases
from bench.registry import BenchContext, Goal, Result, row
from bench.timing import step

QUERIES = 1000
WARMUP = 50
SEED = 4
FORMS = ("street number", "number street postcode", "60% of the label", "typo in the street")
PATH = "/api/addresses/search"


def _sample(conn, count: int, seed: int) -> list[tuple[str, str, str, str]]:
    """`count` addresses of the county with a house number, chosen by a seeded generator:
    (street, number, postcode, label) each."""
    rng = random.Random(seed)
    highest = conn.execute("SELECT max(id) FROM gis_core_address").fetchone()[0]
    ids = rng.sample(range(1, highest + 1), count * 2)
    rows = conn.execute(
        "SELECT id, street, house_number, postcode, label FROM gis_core_address"
        " WHERE id = ANY(%s) AND house_number <> ''",
        [ids],
    ).fetchall()
    by_id = {row[0]: row[1:] for row in rows}
    return [by_id[i] for i in ids if i in by_id][:count]


def _typo(word: str, rng: random.Random) -> str:
    """One slip inside a street name: a letter doubled, dropped or swapped with the next."""
    at = rng.randrange(1, len(word) - 2)
    kind = rng.choice(("double", "drop", "swap"))
    if kind == "double":
        return word[:at] + word[at] + word[at:]
    if kind == "drop":
        return word[:at] + word[at + 1 :]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def make_queries(addresses, seed: int = SEED) -> list[tuple[str, str, str]]:
    """(form, query, the label it was made from) for each address, the forms in turn."""
    rng = random.Random(seed)
    queries = []
    for index, (street, number, postcode, label) in enumerate(addresses):
        form = FORMS[index % len(FORMS)]
        if form == "street number":
            query = f"{street} {number}"
        elif form == "number street postcode":
            query = f"{number} {street} {postcode}"
        elif form == "60% of the label":
            query = label[: max(3, round(len(label) * 0.6))].rstrip()
        else:
            query = f"{_typo(street, rng)} {number}"
        queries.append((form, query, label))
    return queries


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class _Recorder:
    """Notes every statement Django runs (SQL and parameters), to replay it raw."""

    def __init__(self):
        self.statements: list[tuple[str, object]] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql, params))
        return execute(sql, params, many, context)


@row("search", "address search through the API (1,000 typed queries) vs its raw SQL")
def search(context: BenchContext) -> list[Result]:
    import psycopg
    from django.test import Client, override_settings

    client = Client()
    # As in production: no query log (DEBUG), and the test client's host allowed.
    production_like = override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"])
    with databases.connect(context.county.database) as conn:
        queries = make_queries(_sample(conn, QUERIES, SEED))
    oanm: dict[str, list[float]] = defaultdict(list)
    raw: dict[str, list[float]] = defaultdict(list)
    first = found = statements = 0
    with (
        production_like,
        databases.connect(context.county.database) as raw_conn,
        psycopg.ClientCursor(raw_conn) as raw_cursor,
        step(f"search: {len(queries):,} queries through the API, each then as raw SQL"),
    ):
        for index, (form, query, label) in enumerate([*queries[:WARMUP], *queries]):
            recorder = _Recorder()
            # Each query from its own client address: the throttle runs, never trips.
            remote = f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"
            with connection.execute_wrapper(recorder):
                started = time.perf_counter()
                response = client.get(PATH, {"q": query}, REMOTE_ADDR=remote)
                elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(
                    f"{query!r}: HTTP {response.status_code} {response.content[:300]!r}"
                )
            started = time.perf_counter()
            for sql, params in recorder.statements:
                raw_cursor.execute(sql, params)
                raw_cursor.fetchall()
            raw_elapsed = time.perf_counter() - started
            if index < WARMUP:
                continue
            oanm[form].append(elapsed * 1000)
            raw[form].append(raw_elapsed * 1000)
            statements += len(recorder.statements)
            labels = [result["label"] for result in response.json()["results"]]
            first += bool(labels) and labels[0] == label
            found += label in labels

    every = [value for values in oanm.values() for value in values]
    every_raw = [value for values in raw.values() for value in values]
    per_form = {
        form: {
            "oanm_p50_ms": round(statistics.median(oanm[form]), 2),
            "oanm_p95_ms": round(_percentile(oanm[form], 0.95), 2),
            "raw_p50_ms": round(statistics.median(raw[form]), 2),
            "raw_p95_ms": round(_percentile(raw[form], 0.95), 2),
        }
        for form in FORMS
    }
    details = {
        "queries": len(every),
        "forms": per_form,
        "statements_per_query": round(statements / len(every), 2),
        "source_address_first": first,
        "source_address_in_results": found,
        "examples": [query for _, query, _ in queries[:8]],
    }
    note = (
        f"{len(every):,} queries, {statements / len(every):.1f} statements each; the typed"
        f" address first in {first / len(every):.0%}, in the 10 results in"
        f" {found / len(every):.0%} (the county repeats street names across settlements);"
        " p95 by form: "
        + ", ".join(f"{form} {figures['oanm_p95_ms']:.1f} ms" for form, figures in per_form.items())
    )
    raw_label = (
        "the same SQL statements, replayed over psycopg 3 (ClientCursor) right after each query"
    )
    return [
        Result(
            name="address search via API, p95",
            unit="ms",
            value=_percentile(every, 0.95),
            raw_value=_percentile(every_raw, 0.95),
            goal=Goal(maximum=10),
            raw_label=raw_label,
            note=note,
            details=details,
        ),
        Result(
            name="address search via API, p50",
            unit="ms",
            value=statistics.median(every),
            raw_value=statistics.median(every_raw),
            raw_label=raw_label,
        ),
    ]
