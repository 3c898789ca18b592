"""Fixtures of the infrastructure tests: temporary handlers and a real Celery worker."""

import pytest

from tests.celery_worker import celery_worker  # noqa: F401  (the fixture, for test_celery_worker)
from tests.common.handlers import TemporaryHandlers


@pytest.fixture
def handlers():
    """Register test handlers with `handlers.in_transaction(…)` / `handlers.outbox(…)`."""
    registered = TemporaryHandlers()
    yield registered
    registered.remove_all()
