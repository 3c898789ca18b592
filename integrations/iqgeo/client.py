"""An IQGeo Platform client: session login, `/feature/{type}` paging, bounded retries.

Retries with exponential back-off on 5xx, timeouts, connection errors and malformed JSON
(at most `retries` more attempts per request, then `IQGeoUnavailable`); one relogin on a
401. `patch_feature` updates some properties of one feature (`PUT /feature/{type}/{id}`,
docs/iqgeo.md "Write-back"), with the same retries and relogin; a refusal (another 4xx)
raises `IQGeoRefused` at once, since sending it again cannot help.

Paging is by limit/offset, which shifts when the server's set changes mid-run; the
rule (docs/iqgeo.md): features are de-duplicated by id, and when `unlimited_count` changes
between pages the pager scans again from offset 0 once it reaches the end (at most
`MAX_RESCANS` times; the features already seen are skipped), so an inserted feature is not
missed. If the set still moves after that, `Page.unstable` tells the caller. The paging and
the retries are `integrations.gis_sync`'s, shared with VETRO.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from integrations.gis_sync import retry_wait, send_with_retries, shifting_pages

logger = logging.getLogger(__name__)


class IQGeoError(Exception):
    """IQGeo refused or failed a request for good (bad credentials, 4xx, retries spent)."""


class IQGeoUnavailable(IQGeoError):
    """IQGeo kept failing (5xx, timeouts, malformed JSON) after every retry."""


class IQGeoRefused(IQGeoError):
    """IQGeo answered a request with a 4xx (other than an expired session): it will not
    change its mind on a retry (unknown feature, a property it rejects, no permission)."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


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
    write_method: str = "PUT"  # the Platform's feature update; "PATCH" for a PATCH-only proxy
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

    def patch_feature(self, feature_id: str | int, properties: dict[str, Any]) -> dict[str, Any]:
        """Set these properties of one feature (the others are left as they are).

        IQGeo Platform's update route is `PUT /feature/{type}/{id}` with a GeoJSON Feature;
        only the properties given are sent, so only they change. Writes send the session's
        CSRF token (cookie, and `X-CSRF-Token` header). Sending the same properties twice
        leaves the same feature, so a request whose answer was lost is simply sent again.
        Returns the feature IQGeo answers with ({} when its body is not JSON: the update
        was accepted all the same).
        """
        path = f"/feature/{self.feature_type}/{feature_id}"
        body = {"type": "Feature", "properties": properties}
        relogged = "myworldapp" not in self.session.cookies
        if relogged:
            self.login()
        while True:
            csrf = self.session.cookies.get("csrf_token") or ""
            response = self._send(
                self.write_method, path, json=body, headers={"X-CSRF-Token": csrf}
            )
            if response.status_code == 401 and not relogged:
                relogged = True
                self.login()
                continue
            if 400 <= response.status_code < 500:
                raise IQGeoRefused(
                    f"IQGeo refused the update of {self.feature_type} {feature_id}: HTTP"
                    f" {response.status_code} {response.text[:200]}",
                    status=response.status_code,
                )
            if not 200 <= response.status_code < 300:
                raise IQGeoError(
                    f"IQGeo answered HTTP {response.status_code} to {path}: {response.text[:200]}"
                )
            try:
                answer = response.json()
            except ValueError:
                return {}
            return answer if isinstance(answer, dict) else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request, retried with back-off on 5xx, timeouts and connection errors."""
        return send_with_retries(
            self.session,
            method,
            f"{self.base_url}{path}",
            timeout=self.timeout,
            retry_status=lambda status: status >= 500,
            wait=lambda problem, failures: self._wait(path, problem, failures),
            **kwargs,
        )

    def _wait(self, path: str, problem: str, failures: int) -> None:
        """Back off before the next attempt, or give up once the retries are spent."""
        retry_wait(
            label="IQGeo",
            path=path,
            problem=problem,
            failures=failures,
            retries=self.retries,
            backoff=self.backoff,
            unavailable=IQGeoUnavailable,
            logger=logger,
        )

    def count(self, *, changed_since: str | None = None) -> int:
        params = {"changed_since": changed_since} if changed_since else None
        return int(self.get_json(f"/feature/{self.feature_type}/count", params)["count"])

    def pages(
        self, *, start: int = 0, limit: int = 500, changed_since: str | None = None
    ) -> Iterator[Page]:
        """Every page from `start` to the end (see the module doc for the shifting rule)."""

        def fetch(offset: int):
            params: dict[str, Any] = {"limit": limit, "offset": offset}
            if changed_since:
                params["changed_since"] = changed_since
            data = self.get_json(f"/feature/{self.feature_type}", params)
            total = int(data.get("unlimited_count") or 0)
            return data, data.get("features") or [], total, data.get("next_offset")

        for part in shifting_pages(fetch, start=start, key=lambda feature: feature.get("id")):
            yield Page(
                part.offset,
                part.next_offset,
                part.features,
                part.data.get("crs"),
                part.total,
                unstable=part.unstable,
            )
