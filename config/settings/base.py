"""Settings shared by every environment; every value can be set from the environment.

Defaults point at the project's own local PostgreSQL and Redis that `make setup` starts
(ports 55432 and 56379), so a fresh checkout works without any configuration.
"""

import json
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str = "") -> str:
    """A setting from the environment, or its default."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """A yes/no setting from the environment (1, true, yes, on)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEFAULT_DATABASE_URL = "postgis://oanm@127.0.0.1:55432/oanm"
DEFAULT_REDIS_URL = "redis://127.0.0.1:56379/0"

SECRET_KEY = env("SECRET_KEY", "oanm-insecure-development-key-change-me-in-production")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # oanm, lowest layer first (ARCHITECTURE.md)
    "common",
    "accounts",
    "gis_core",
    "areas",
    "wholesale",
    "workorders",
    "billing",
    "integrations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", DEFAULT_DATABASE_URL),
        engine="django.contrib.gis.db.backends.postgis",
        conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if env("DATABASE_NAME"):
    # Lets a Celery worker started by the test suite talk to the test database.
    DATABASES["default"]["NAME"] = env("DATABASE_NAME")
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
DATABASES["default"].setdefault("TEST", {})["NAME"] = env("TEST_DATABASE_NAME", "") or None

# Debian 12 ships GDAL 3.6; GeoDjango's "GDAL < 3.9" notice (gis.W001) is harmless there.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.MembershipBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    # Public doors (the customers' lookup) are throttled per client by scope; the counters
    # live in the cache (Redis). "off" turns a scope's throttle off (benchmarks only).
    "DEFAULT_THROTTLE_RATES": {
        "lookup": None
        if env("LOOKUP_THROTTLE_RATE", "120/min").strip().lower() in {"", "off", "none"}
        else env("LOOKUP_THROTTLE_RATE", "120/min").strip(),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "oanm API",
    "DESCRIPTION": "Open-access fibre network manager: addresses, areas and everything on them.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Status fields of several lifecycles share the name "status": one enum name for each.
    "ENUM_NAME_OVERRIDES": {
        "AddressStatusEnum": "gis_core.lifecycle.AddressStatus",
        "OrderStatusEnum": "wholesale.lifecycle.OrderStatus",
        "ServiceStatusEnum": "wholesale.lifecycle.ServiceStatus",
        "WebhookStatusEnum": "wholesale.lifecycle.WebhookStatus",
        "BookingStatusEnum": "wholesale.lifecycle.BookingStatus",
        "InvoiceStatusEnum": "billing.lifecycle.InvoiceStatus",
        "SubscriptionStatusEnum": "billing.lifecycle.SubscriptionStatus",
        "BillingRunStatusEnum": "billing.lifecycle.RunStatus",
        "BillingExceptionStatusEnum": "billing.lifecycle.ExceptionStatus",
        "OverrideStatusEnum": "billing.lifecycle.OverrideStatus",
        "StatementStatusEnum": "billing.lifecycle.StatementStatus",
        "ConnectionChargeStatusEnum": "billing.lifecycle.ConnectionChargeStatus",
        "KpiStatusEnum": "billing.kpis.KPI_STATUSES",
    },
}

# --- Cache (Redis): API throttling counters ---------------------------------
REDIS_URL = env("REDIS_URL", DEFAULT_REDIS_URL)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        # the broker uses database 0 of the same Redis; the cache keeps to its own
        "LOCATION": env("CACHE_URL", REDIS_URL.rsplit("/", 1)[0] + "/1"),
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "oanm"),
    }
}
# Sessions are read from the cache (written through to the database, so a cache flush only
# costs a read): a signed-in request, every map tile included, skips a query.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Email --------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "oanm <no-reply@oanm.localhost>")
# Where customers reach the public pages: the base of the links in their emails.
PUBLIC_SITE_URL = env("PUBLIC_SITE_URL", "http://127.0.0.1:8000")

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The one place the beat schedule lives (STYLE.md §7).
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "common.tasks.outbox_drain_task",
        "schedule": 60.0,
    },
    "outbox-prune": {
        "task": "common.tasks.outbox_prune_task",
        "schedule": crontab(hour=3, minute=17),
    },
    "sync-changes-prune": {
        "task": "integrations.sync.tasks.changes_prune_task",
        "schedule": crontab(hour=3, minute=37),
    },
    "billing-daily-run": {
        "task": "billing.tasks.billing_daily_run_task",
        "schedule": crontab(hour=int(env("BILLING_RUN_HOUR", "2")), minute=5),
    },
    # IQGeo's incremental pull (does nothing while USE_IQGEO is off; see IQGEO_SYNC_MINUTES)
    "iqgeo-sync-incremental": {
        "task": "integrations.tasks.sync_run_task",
        "schedule": 60.0 * int(env("IQGEO_SYNC_MINUTES", "15")),
        "args": ("iqgeo",),
        "kwargs": {"full": False},
    },
    # and its daily full reconciliation: the only run that can see features gone (retired)
    "iqgeo-sync-full": {
        "task": "integrations.tasks.sync_run_task",
        "schedule": crontab(hour=int(env("IQGEO_FULL_SYNC_HOUR", "4")), minute=10),
        "args": ("iqgeo",),
        "kwargs": {"full": True},
    },
    # VETRO → oanm: an incremental pull every few minutes, a full reconciliation daily (both
    # do nothing while USE_VETRO is off; docs/vetro.md)
    "vetro-sync-incremental": {
        "task": "integrations.tasks.sync_run_task",
        "schedule": 60.0 * int(env("VETRO_PULL_MINUTES", "5")),
        "args": ("vetro",),
        "kwargs": {"full": False},
    },
    "vetro-sync-full": {
        "task": "integrations.tasks.sync_run_task",
        "schedule": crontab(hour=int(env("VETRO_FULL_HOUR", "4")), minute=40),
        "args": ("vetro",),
        "kwargs": {"full": True},
    },
}

# --- oanm -------------------------------------------------------------------
# Outbox delivery: exponential back-off from OUTBOX_RETRY_BASE_SECONDS, capped at an hour.
OUTBOX_RETRY_BASE_SECONDS = int(env("OUTBOX_RETRY_BASE_SECONDS", "5"))
OUTBOX_RETRY_CAP_SECONDS = 3600
OUTBOX_MAX_ATTEMPTS = int(env("OUTBOX_MAX_ATTEMPTS", "25"))
OUTBOX_KEEP_DELIVERED_DAYS = int(env("OUTBOX_KEEP_DELIVERED_DAYS", "30"))

# The daily billing run (billing.runs) starts at this local hour (beat: "billing-daily-run").
BILLING_RUN_HOUR = int(env("BILLING_RUN_HOUR", "2"))
# Dunning: reminders of an overdue invoice at these days past its due date (levels 1, 2, 3).
BILLING_REMINDER_DAYS = tuple(
    int(days) for days in env("BILLING_REMINDER_DAYS", "7,21,35").split(",") if days.strip()
)
# Revenue assurance: a live service without a subscription is a free rider after this long.
BILLING_FREE_RIDER_GRACE_MINUTES = int(env("BILLING_FREE_RIDER_GRACE_MINUTES", "60"))
# A manual price cut or discount above this share of the catalog price needs an approver.
BILLING_OVERRIDE_APPROVAL_LIMIT_PERCENT = env("BILLING_OVERRIDE_APPROVAL_LIMIT_PERCENT", "20")

# Installation work orders are due this many days after they are created.
WORK_ORDER_DUE_DAYS = int(env("WORK_ORDER_DUE_DAYS", "21"))

# ISP webhooks: plain http and private/loopback hosts are refused unless this is on (it is
# on for `make run` and the tests, whose receivers listen on 127.0.0.1).
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)
WEBHOOK_TIMEOUT_SECONDS = float(env("WEBHOOK_TIMEOUT_SECONDS", "10"))

# Provisioning of finished installations' ONTs (docs/provisioning.md): which vendor's API
# (simulator, calix, nokia, adtran), where it is, how to authenticate, how long to wait.
# The default is the simulator that `make run` starts on 127.0.0.1:8970.
PROVISIONING_VENDOR = env("PROVISIONING_VENDOR", "simulator").strip().lower()
PROVISIONING_BASE_URL = env("PROVISIONING_BASE_URL", "http://127.0.0.1:8970")
PROVISIONING_USERNAME = env("PROVISIONING_USERNAME", "")
PROVISIONING_PASSWORD = env("PROVISIONING_PASSWORD", "")
PROVISIONING_TOKEN = env("PROVISIONING_TOKEN", "")
PROVISIONING_TIMEOUT_SECONDS = float(env("PROVISIONING_TIMEOUT_SECONDS", "10"))
# Failed attempts in one round before a job is given up (dead, for the dispatcher); at most
# OUTBOX_MAX_ATTEMPTS, so the job is marked before the outbox itself stops trying.
PROVISIONING_MAX_ATTEMPTS = int(env("PROVISIONING_MAX_ATTEMPTS", "12"))

# The sync API's change feed keeps this many days of changes (a reader further behind gets 410).
SYNC_CHANGES_KEEP_DAYS = int(env("SYNC_CHANGES_KEEP_DAYS", "90"))

# IQGeo, the GIS of record for addresses (docs/iqgeo.md): off unless USE_IQGEO is on; the
# site, its login, the address feature type, and extra properties kept in the attributes.
USE_IQGEO = env_bool("USE_IQGEO", False)
IQGEO_BASE_URL = env("IQGEO_BASE_URL", "")
IQGEO_USER = env("IQGEO_USER", "")
IQGEO_PASSWORD = env("IQGEO_PASSWORD", "")
IQGEO_FEATURE_TYPE = env("IQGEO_FEATURE_TYPE", "address")
IQGEO_EXTRA_PROPERTIES = [
    name.strip() for name in env("IQGEO_EXTRA_PROPERTIES", "").split(",") if name.strip()
]
# Features per request: each page is one HTTP request and one upsert (~30 statements), so
# larger pages cost less per feature (bench row `iqgeo`, 100k features: pages of 500 took
# 170 s, of 2,000 22 s, of 5,000 19 s).
IQGEO_PAGE_SIZE = int(env("IQGEO_PAGE_SIZE", "5000"))
# Write-back of each address's commercial state to its IQGeo feature, through the outbox
# (docs/iqgeo.md "Write-back"; on whenever USE_IQGEO is). The IQGeo property each oanm field
# is written to, as "field=property,…" over the defaults of integrations.iqgeo.writeback
# (status, ordered_at, isp, service_name, connected_at, activated_at; "field=" leaves one out).
IQGEO_WRITEBACK = env_bool("IQGEO_WRITEBACK", True)
# After a write-back found IQGeo unavailable, the others fail at once (retried by the outbox)
# for this long, so an outage does not hold up the outbox drain.
IQGEO_OUTAGE_PAUSE_SECONDS = float(env("IQGEO_OUTAGE_PAUSE_SECONDS", "30"))
IQGEO_WRITEBACK_PROPERTIES = {
    field.strip(): name.strip()
    for field, _, name in (
        pair.partition("=") for pair in env("IQGEO_WRITEBACK_PROPERTIES", "").split(",")
    )
    if field.strip()
}
# The IQGeo address properties holding its circuit: a reference ("circuit/17") and a name.
IQGEO_CIRCUIT_PROPERTY = env("IQGEO_CIRCUIT_PROPERTY", "circuit")
IQGEO_CIRCUIT_NAME_PROPERTY = env("IQGEO_CIRCUIT_NAME_PROPERTY", "circuitName")
# Minutes between the beat's incremental IQGeo pulls (beat: "iqgeo-sync-incremental").
IQGEO_SYNC_MINUTES = int(env("IQGEO_SYNC_MINUTES", "15"))
# The local hour of the daily full IQGeo reconciliation (beat: "iqgeo-sync-full", at :10).
IQGEO_FULL_SYNC_HOUR = int(env("IQGEO_FULL_SYNC_HOUR", "4"))

# VETRO FiberMap (docs/vetro.md): off unless USE_VETRO is on; the API root (…/v2 is added),
# the API token (header `token`), the service-location layer (an id, or found by its label),
# the plans to read (empty: all), extra fields kept in the attributes, and the customer's
# field labels (a JSON object over the defaults of integrations/vetro/mapping.py).
USE_VETRO = env_bool("USE_VETRO", False)
VETRO_BASE_URL = env("VETRO_BASE_URL", "")
VETRO_TOKEN = env("VETRO_TOKEN", "")
VETRO_LAYER_ID = env("VETRO_LAYER_ID", "")
VETRO_LAYER_LABEL = env("VETRO_LAYER_LABEL", "Service Locations")
VETRO_PLAN_IDS = [int(p) for p in env("VETRO_PLAN_IDS", "").split(",") if p.strip()]
VETRO_PAGE_SIZE = int(env("VETRO_PAGE_SIZE", "500"))
VETRO_EXTRA_PROPERTIES = [
    name.strip() for name in env("VETRO_EXTRA_PROPERTIES", "").split(",") if name.strip()
]
VETRO_FIELDS = json.loads(env("VETRO_FIELDS", "{}") or "{}")
# The beat's VETRO pulls: incremental every VETRO_PULL_MINUTES ("vetro-sync-incremental"),
# full daily at VETRO_FULL_HOUR:40 local time ("vetro-sync-full").
VETRO_PULL_MINUTES = int(env("VETRO_PULL_MINUTES", "5"))
VETRO_FULL_HOUR = int(env("VETRO_FULL_HOUR", "4"))

# Address imports that add at least this many rows, and more than the table holds, set the
# address table's secondary indexes and the references' foreign key aside and build them
# again after inserting (much faster than keeping them row by row; both tables are locked
# exclusively until the import ends).
IMPORT_BULK_LOAD_MIN_ROWS = int(env("IMPORT_BULK_LOAD_MIN_ROWS", "100000"))

# Map pages: the base layer is optional (no internet needed) and configurable.
MAP_TILE_URL = env("MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = env("MAP_TILE_ATTRIBUTION", "© OpenStreetMap contributors")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
