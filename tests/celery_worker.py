"""A real Celery worker on Redis for end-to-end tests (STYLE.md §12).

`celery_worker_process()` starts `celery -A config worker --pool=solo` as a subprocess that
talks to the test database (`DATABASE_NAME`) and to the tests' Redis database, consuming a
queue of its own: the test process sends its tasks there for as long as the worker runs,
so workers of other test runs on the same Redis never take them. Use it from a
`transaction=True` test: the worker only sees committed rows.

The `celery_worker` fixture wraps it for a test module; import it into a conftest.py:
`from tests.celery_worker import celery_worker  # noqa: F401`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 30
T = TypeVar("T")


@dataclass
class CeleryWorker:
    """A running worker subprocess and the queue it consumes."""

    process: subprocess.Popen
    queue: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_task(self, task_id: str, *, timeout: float = 20) -> str:
        """Wait until the worker reports the task finished; return its logged return value."""
        pattern = re.compile(rf"\[{re.escape(task_id)}\] succeeded in [0-9.e-]+s: (.*)")
        found = self.wait_until(
            lambda: pattern.search(self.log()), timeout=timeout, what=f"task {task_id}"
        )
        return found.group(1).strip()

    def wait_until(self, probe: Callable[[], T], *, timeout: float = 20, what: str) -> T:
        """`wait_until`, with the worker's log in the failure message."""
        return wait_until(probe, timeout=timeout, what=lambda: self.failure(what))

    def failure(self, message: str) -> str:
        return f"{message}\n--- worker log ---\n{self.log()[-4000:]}"


def wait_until(
    probe: Callable[[], T], *, timeout: float = 20, what: str | Callable[[], str] = "condition"
) -> T:
    """Poll `probe` until it returns something truthy; fail the test after `timeout` seconds.

    `what` names what was awaited in the failure message (a callable is asked only then).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            description = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout}s waiting for {description}")
        time.sleep(0.05)


@contextmanager
def celery_worker_process(
    *, database_name: str, includes: Sequence[str] = ()
) -> Iterator[CeleryWorker]:
    """Run a worker on the test database until the block ends; route our tasks to it."""
    from django.conf import settings

    from config.celery import app

    queue = f"oanm-test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_NAME": database_name,
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool=solo",
        "--loglevel=info",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--queues={queue}",
        f"--hostname={queue}@%h",
    ]
    for module in includes:
        command += ["--include", module]
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the worker)
        prefix="oanm-celery-worker-", suffix=".log", delete=False
    )
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker = CeleryWorker(process=process, queue=queue, log_path=Path(log_file.name))
    previous_queue = app.conf.task_default_queue
    try:
        _wait_ready(worker)
        app.conf.task_default_queue = queue
        yield worker
    finally:
        app.conf.task_default_queue = previous_queue
        _stop(process)
        log_file.close()
        worker.log_path.unlink(missing_ok=True)
        _forget_queue(queue, settings.CELERY_BROKER_URL)


def _wait_ready(worker: CeleryWorker) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while " ready." not in worker.log():
        if worker.process.poll() is not None:
            pytest.fail(worker.failure("the Celery worker exited before it was ready"))
        if time.monotonic() > deadline:
            pytest.fail(worker.failure("the Celery worker did not get ready in time"))
        time.sleep(0.05)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # warm shutdown: finishes the task at hand
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _forget_queue(queue: str, broker_url: str) -> None:
    import redis

    client = redis.Redis.from_url(broker_url)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


@pytest.fixture(scope="module")
def celery_worker(request, django_db_setup) -> Iterator[CeleryWorker]:
    """A worker on the test database for the tests of one module; it also imports the
    modules the test module lists in `CELERY_WORKER_INCLUDES` (test-only handlers)."""
    from django.db import connection

    includes = getattr(request.module, "CELERY_WORKER_INCLUDES", ())
    database_name = connection.settings_dict["NAME"]  # the test database, once set up
    with celery_worker_process(database_name=database_name, includes=includes) as worker:
        yield worker
