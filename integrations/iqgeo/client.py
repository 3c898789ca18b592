"""An IQGeo Platform client: session login, `/feature/{type}` paging, bounded retries.

Retries with exponential back-off on 5xx, timeouts, connection errors and malformed JSON
(at most `retries` more attempts per request, then `IQGeoUnavailable`); one relogin on a
401. Paging is by limit/offset, which shifts when the server's set changes mid-run; the
rule (docs/iqgeo.md): features are de-duplicated by id, and when `unlimited_count` changes
between pages the pager scans again from offset 0 once it reaches the end (at most
`MAX_RESCANS` times; the features already seen are skipped), so an inserted feature is
not missed. If the set still moves after that, `Page.unstable` tells the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

MAX_RESCANS = 2


class IQGeoError(Exception):
    """IQGeo refused or failed a request for good (bad credentials, 4xx, retries spent)."""


class IQGeoUnavailable(IQGeoError):
    """IQGeo kept failing (5xx, timeouts, malformed JSON) after every retry."""


@dataclass
class Page:
    """One page of features as fetched, already de-duplicated."""

    offset: int  # the offset this page was asked for
    next_offset: int | None
    features: list[dict[str, Any]]
    crs: Any
    total: int  # unlimited_count as this page reported it
    unstable: bool = False  # set on the last page when the set kept changing


@dataclass
class IQGeoClient:
    base_url: str
    user: str
    password: str
    feature_type: str = "address"
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 0.5
    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def from_settings(cls) -> IQGeoClient:
        return cls(
            base_url=getattr(settings, "IQGEO_BASE_URL", "").rstrip("/"),
            user=getattr(settings, "IQGEO_USER", ""),
            password=getattr(settings, "IQGEO_PASSWORD", ""),
            feature_type=getattr(settings, "IQGEO_FEATURE_TYPE", "address"),
            timeout=float(getattr(settings, "IQGEO_TIMEOUT_SECONDS", 10.0)),
            retries=int(getattr(settings, "IQGEO_RETRIES", 4)),
            backoff=float(getattr(settings, "IQGEO_BACKOFF_SECONDS", 0.5)),
        )

    def login(self) -> None:
        response = self._send("POST", "/auth", data={"user": self.user, "pass": self.password})
        if response.status_code == 401:
            raise IQGeoError(f"IQGeo refused the login of user {self.user!r} (401)")
        if response.status_code != 200 or "myworldapp" not in self.session.cookies:
            raise IQGeoError(f"IQGeo login failed: HTTP {response.status_code}")

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON body, with retries (malformed JSON included); one relogin on a 401."""
        relogged = "myworldapp" not in self.session.cookies
        if relogged:
            self.login()
        failures = 0
        while True:
            response = self._send("GET", path, params=params)
            if response.status_code == 401 and not relogged:
                relogged = True
                self.login()
                continue
            if response.status_code != 200:
                raise IQGeoError(
                    f"IQGeo answered HTTP {response.status_code} to {path}: {response.text[:200]}"
                )
            try:
                return response.json()
            except ValueError:
                failures += 1
                self._wait(path, "malformed JSON", failures)

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request, retried with back-off on 5xx, timeouts and connection errors."""
        failures = 0
        while True:
            try:
                response = self.session.request(
                    method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs
                )
                if response.status_code < 500:
                    return response
                problem = f"HTTP {response.status_code}"
            except requests.Timeout:
                problem = f"no answer within {self.timeout:g} s"
            except requests.ConnectionError as exc:
                problem = f"connection failed ({exc.__class__.__name__})"
            failures += 1
            self._wait(path, problem, failures)

    def _wait(self, path: str, problem: str, failures: int) -> None:
        """Back off before the next attempt, or give up once the retries are spent."""
        if failures > self.retries:
            raise IQGeoUnavailable(f"IQGeo {path} failed {failures} times, last: {problem}")
        logger.info("IQGeo %s: %s; retry %d", path, problem, failures)
        time.sleep(self.backoff * 2 ** (failures - 1))

    def count(self, *, changed_since: str | None = None) -> int:
        params = {"changed_since": changed_since} if changed_since else None
        return int(self.get_json(f"/feature/{self.feature_type}/count", params)["count"])

    def pages(
        self, *, start: int = 0, limit: int = 500, changed_since: str | None = None
    ) -> Iterator[Page]:
        """Every page from `start` to the end (see the module doc for the shifting rule)."""
        seen: set[Any] = set()
        offset: int | None = start
        first_total: int | None = None
        moved, rescans = False, 0
        while offset is not None:
            params: dict[str, Any] = {"limit": limit, "offset": offset}
            if changed_since:
                params["changed_since"] = changed_since
            data = self.get_json(f"/feature/{self.feature_type}", params)
            total = int(data.get("unlimited_count") or 0)
            if first_total is None:
                first_total = total
            elif total != first_total:
                moved = True
            features = []
            for feature in data.get("features") or []:
                if feature.get("id") not in seen:
                    seen.add(feature.get("id"))
                    features.append(feature)
            next_offset = data.get("next_offset")
            page = Page(offset, next_offset, features, data.get("crs"), total)
            if next_offset is None and moved:
                if rescans < MAX_RESCANS:  # the set moved under us: scan it again
                    rescans += 1
                    moved, first_total, next_offset = False, None, 0
                    page.next_offset = 0  # a caller resuming scans again from 0
                else:
                    page.unstable = True
            yield page
            offset = next_offset
