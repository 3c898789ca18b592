"""The benchmark's databases: created beside the configured one, on the same server.

The county lives in `<name>_bench` (e.g. `oanm_bench`), scratch copies in `<name>_bench_*`.
Django's default connection is pointed at one of them with `use_database()`; migrations run
in a subprocess with `DATABASE_NAME` set, exactly as an operator would run them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from django.db import connections
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent

# The configured database's connection settings, captured before any switch.
_configured: dict[str, Any] = {}


def configured_settings() -> dict[str, Any]:
    """The configured default database (host, port, user, password, name) as settings say."""
    if not _configured:
        _configured.update(connections["default"].settings_dict)
    return _configured


def bench_database_name() -> str:
    """Where the county lives: BENCH_DATABASE_NAME, or the configured name + `_bench`."""
    return os.environ.get("BENCH_DATABASE_NAME") or f"{configured_settings()['NAME']}_bench"


def connect(dbname: str, *, autocommit: bool = True) -> psycopg.Connection:
    """A plain psycopg 3 connection to `dbname` on the configured server."""
    settings = configured_settings()
    params: dict[str, Any] = {
        "dbname": dbname,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "application_name": "oanm-bench",
    }
    return psycopg.connect(
        autocommit=autocommit, **{key: value for key, value in params.items() if value}
    )


def _maintenance() -> psycopg.Connection:
    """A connection for CREATE/DROP DATABASE: the configured database, never a bench one."""
    return connect(configured_settings()["NAME"])


def database_exists(name: str) -> bool:
    """Whether a database of this name exists on the server."""
    with _maintenance() as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def create_database(name: str) -> None:
    """CREATE DATABASE `name` (empty; `migrate` gives it the schema)."""
    with _maintenance() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    """DROP DATABASE IF EXISTS, ending any session still connected to it."""
    with _maintenance() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def migrate(name: str) -> str:
    """Run `manage.py migrate` into database `name`; returns its output, raises on failure."""
    env = {**os.environ, "DATABASE_NAME": name}
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrate into {name} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


RUN_LOCK = "oanm.bench"


@contextmanager
def exclusive_run() -> Iterator[None]:
    """Hold a server-wide advisory lock for the whole run: two runs at once would share the
    county and scratch databases (and skew each other's figures), so the second one waits."""
    with _maintenance() as conn:
        key = "SELECT hashtext(%s)::bigint"
        if not conn.execute(f"SELECT pg_try_advisory_lock(({key}))", [RUN_LOCK]).fetchone()[0]:
            holder = conn.execute(
                "SELECT pid, application_name, datname FROM pg_stat_activity WHERE pid IN ("
                " SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                f" AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = ({key}))",
                [RUN_LOCK],
            ).fetchall()
            from bench.timing import say

            who = ", ".join(f"server pid {pid} ({app or 'no name'})" for pid, app, _ in holder)
            say(f"· another benchmark run is going ({who or 'unknown'}): waiting for it to end")
            conn.execute(f"SELECT pg_advisory_lock(({key}))", [RUN_LOCK])
        try:
            yield
        finally:
            conn.execute(f"SELECT pg_advisory_unlock(({key}))", [RUN_LOCK])


def close_django_connections() -> None:
    """Close Django's connections (a database with sessions cannot be copied or dropped)."""
    connections.close_all()


@contextmanager
def use_database(name: str) -> Iterator[None]:
    """Point Django's default connection (and settings.DATABASES, the same dict) at `name`."""
    settings_dict = connections["default"].settings_dict
    previous = settings_dict["NAME"]
    configured_settings()
    close_django_connections()
    settings_dict["NAME"] = name
    try:
        yield
    finally:
        close_django_connections()
        settings_dict["NAME"] = previous


def switch_database(name: str) -> None:
    """Point Django's default connection at `name` for the rest of the process."""
    configured_settings()
    close_django_connections()
    connections["default"].settings_dict["NAME"] = name
