"""Settings for a developer's machine and for `make run` (DEBUG on unless told otherwise)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env_bool

DEBUG = env_bool("DEBUG", True)
