"""Settings for the test suite: same real PostGIS and Redis, fast password hashing."""

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests use their own Redis database so they never see the demo's queue.
CELERY_BROKER_URL = REDIS_URL.rsplit("/", 1)[0] + "/15"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
OUTBOX_RETRY_BASE_SECONDS = 1
