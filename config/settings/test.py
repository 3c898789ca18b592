"""Settings for the test suite: same real PostGIS and Redis, fast password hashing."""

import uuid

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, REST_FRAMEWORK

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests use their own Redis database so they never see the demo's queue.
CELERY_BROKER_URL = REDIS_URL.rsplit("/", 1)[0] + "/15"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
OUTBOX_RETRY_BASE_SECONDS = 1
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The cache in a Redis database of its own, under a prefix of this run: test runs side by
# side never share throttling counters (tests.conftest also empties ours before each test).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL.rsplit("/", 1)[0] + "/14",
        "KEY_PREFIX": f"oanm-test-{uuid.uuid4().hex[:12]}",
    }
}
# Generous, so that test modules asking many questions never trip it; the throttling
# tests set a tiny rate of their own.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "lookup": "10000/min"},
}

# ISP webhook receivers of the demo and the tests listen on 127.0.0.1.
WEBHOOK_ALLOW_PRIVATE_URLS = True
WEBHOOK_TIMEOUT_SECONDS = 2.0
