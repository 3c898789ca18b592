"""Shared fixtures: real PostGIS (pytest-django's test database) and real Redis."""

import contextlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_DATA = REPO / "data" / "berlin-wedding"


@pytest.fixture
def owner(db):
    from accounts.roles import OrganisationKind
    from accounts.services import organisation_create

    return organisation_create(name="Wedding Fibre Netz", kind=OrganisationKind.OWNER)


@pytest.fixture
def planner(owner):
    from accounts.roles import Role
    from accounts.services import user_create

    return user_create(
        username="planner", organisation=owner, role=Role.PLANNER, password="x-pass-123"
    )


@pytest.fixture
def admin_user(owner):
    from accounts.roles import Role
    from accounts.services import user_create

    return user_create(
        username="admin",
        organisation=owner,
        role=Role.OPERATOR_ADMIN,
        password="admin-pass-123",
        is_superuser=True,
    )


@pytest.fixture(scope="session", autouse=True)
def _forget_unconsumed_drains():
    """Committed events queue outbox drains that no worker of the suite consumes: drop them."""
    yield
    import redis
    from django.conf import settings

    with contextlib.suppress(redis.RedisError):
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("celery")


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Each test starts with no throttling history: this run's cache keys (under its own
    prefix, see config.settings.test) are deleted, never another run's."""
    from django.core.cache import cache

    client = cache._cache.get_client(None, write=True)
    keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
