"""Throttling of the public lookup API: per client, by scope, counted in the cache (Redis)."""

from __future__ import annotations

import math

from rest_framework import status
from rest_framework.exceptions import ErrorDetail, Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

LOOKUP_SCOPE = "lookup"


class LookupRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, reading the rate from the settings at each request (DRF binds
    them once at import), so a deployment or a test can change it."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class TooManyRequests(Throttled):
    """429 with `{"code": "throttled", "detail": "… try again in N seconds."}` and Retry-After."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "throttled"

    def __init__(self, wait: float | None):
        seconds = max(1, math.ceil(wait or 1))
        super().__init__(wait=None, code="throttled")
        self.wait = seconds
        self.detail = ErrorDetail(
            f"Too many requests from your connection; please try again in {seconds} second"
            f"{'s' if seconds != 1 else ''}.",
            code="throttled",
        )


class LookupThrottled:
    """Mixin for the lookup views: the scope, the throttle and the 429 they answer with."""

    throttle_scope = LOOKUP_SCOPE
    throttle_classes = [LookupRateThrottle]

    def throttled(self, request, wait):
        raise TooManyRequests(wait)
