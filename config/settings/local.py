"""Settings for a developer's machine and for `make run` (DEBUG on unless told otherwise)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env, env_bool

DEBUG = env_bool("DEBUG", True)

# Emails are printed on the console (the worker's) unless an SMTP server is configured.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# ISP webhook receivers of the demo and the tests listen on 127.0.0.1.
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", True)
