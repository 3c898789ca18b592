"""A VETRO FiberMap (API v2) client: token header, the `{"success", "result"}` wrapper,
layer/plan paging, feature updates, bounded retries.

Retries with exponential back-off on 5xx, 429, timeouts, connection errors and malformed JSON
(at most `retries` more attempts per request, then `VetroUnavailable`). A 401 is
`VetroAuthError` at once (a static API token cannot log in again: renew `VETRO_TOKEN`);
another 4xx is `VetroRefused`, an answer whose `success` is false `VetroError`, both with
VETRO's message.

Paging is by limit/offset over one layer (and the configured plans), which shifts when the
set changes mid-run; the rule is IQGeo's (docs/iqgeo.md, docs/vetro.md): features are
de-duplicated by `x-vetro.vetro_id`, and when `total` changes between pages the pager scans
again from offset 0 once it reaches the end (at most `gis_sync.MAX_RESCANS` times; features already
seen are skipped). If the set still moves after that, `Page.unstable` tells the caller.
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


class VetroError(Exception):
    """VETRO refused or failed a request for good (4xx, success false, retries spent)."""


class VetroAuthError(VetroError):
    """VETRO refused the token (401): it is wrong, revoked or expired."""


class VetroRefused(VetroError):
    """VETRO refused the request itself (a 4xx other than 401 and 429): asking again as is
    cannot succeed."""

    def __init__(self, message: str, *, status: int):
        super().__init__(message)
        self.status = status


class VetroUnavailable(VetroError):
    """VETRO kept failing (5xx, timeouts, malformed JSON) after every retry."""


def vetro_id(feature: dict[str, Any]) -> str:
    """A feature's VETRO id (`x-vetro.vetro_id`), '' when it has none."""
    meta = feature.get("x-vetro") if isinstance(feature, dict) else None
    value = meta.get("vetro_id") if isinstance(meta, dict) else None
    return "" if value is None else str(value).strip()


@dataclass
class Page:
    """One page of features as fetched, already de-duplicated."""

    offset: int  # the offset this page was asked for
    next_offset: int | None
    features: list[dict[str, Any]]
    total: int  # `total` as this page reported it
    unstable: bool = False  # set on the last page when the set kept changing


@dataclass
class VetroClient:
    base_url: str
    token: str
    layer_id: int | None = None  # None: the layer labelled `layer_label`
    layer_label: str = "Service Locations"
    plan_ids: tuple[int, ...] = ()  # (): every plan
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 0.5
    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def from_settings(cls) -> VetroClient:
        layer = str(getattr(settings, "VETRO_LAYER_ID", "") or "").strip()
        return cls(
            base_url=getattr(settings, "VETRO_BASE_URL", "").rstrip("/"),
            token=getattr(settings, "VETRO_TOKEN", ""),
            layer_id=int(layer) if layer else None,
            layer_label=getattr(settings, "VETRO_LAYER_LABEL", "Service Locations"),
            plan_ids=tuple(int(p) for p in getattr(settings, "VETRO_PLAN_IDS", ()) or ()),
            timeout=float(getattr(settings, "VETRO_TIMEOUT_SECONDS", 10.0)),
            retries=int(getattr(settings, "VETRO_RETRIES", 4)),
            backoff=float(getattr(settings, "VETRO_BACKOFF_SECONDS", 0.5)),
        )

    # --- requests --------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """One request's unwrapped `result`, with retries (malformed JSON included)."""
        failures = 0
        while True:
            response = self._send(method, path, params=params, json=json)
            try:
                body = response.json()
            except ValueError:
                if response.status_code == 200:
                    failures += 1
                    self._wait(path, "malformed JSON", failures)
                    continue
                body = None
            message = body.get("message") if isinstance(body, dict) else None
            message = message or (response.text[:200] if body is None else "")
            if response.status_code == 401:
                raise VetroAuthError(
                    f"VETRO refused the token (401: {message or 'unauthorized'}) for {path}: "
                    "set a valid VETRO_TOKEN"
                )
            if response.status_code != 200:
                raise VetroRefused(
                    f"VETRO answered HTTP {response.status_code} to {path}: {message}",
                    status=response.status_code,
                )
            if not isinstance(body, dict) or "success" not in body:
                raise VetroError(f"VETRO answered {path} without the success/result wrapper")
            if body["success"] is not True:
                raise VetroError(
                    f"VETRO answered success=false to {method} {path}: "
                    f"{message or 'no message given'}"
                )
            return body.get("result")

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request, retried with back-off on 5xx, 429 (too many requests), timeouts and
        connection errors."""
        return send_with_retries(
            self.session,
            method,
            f"{self.base_url}{path}",
            headers={"token": self.token, "Content-Type": "application/json"},
            timeout=self.timeout,
            retry_status=lambda status: status >= 500 or status == 429,
            wait=lambda problem, failures: self._wait(path, problem, failures),
            **kwargs,
        )

    def _wait(self, path: str, problem: str, failures: int) -> None:
        """Back off before the next attempt, or give up once the retries are spent."""
        retry_wait(
            label="VETRO",
            path=path,
            problem=problem,
            failures=failures,
            retries=self.retries,
            backoff=self.backoff,
            unavailable=VetroUnavailable,
            logger=logger,
        )

    # --- the API -----------------------------------------------------------------------------
    def plans(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/v2/plans") or [])

    def layers(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/v2/layers") or [])

    def resolve_layer(self) -> int:
        """The service-location layer id: configured, or found by its label."""
        if self.layer_id is None:
            labels = {str(layer.get("label")): layer.get("id") for layer in self.layers()}
            if self.layer_label not in labels:
                raise VetroError(
                    f"VETRO has no layer labelled {self.layer_label!r} (layers: "
                    f"{', '.join(sorted(labels)) or 'none'}): set VETRO_LAYER_ID"
                )
            self.layer_id = int(labels[self.layer_label])
        return self.layer_id

    def pages(
        self, *, start: int = 0, limit: int = 500, modified_since: str | None = None
    ) -> Iterator[Page]:
        """Every page from `start` to the end (see the module doc for the shifting rule)."""
        layer = self.resolve_layer()

        def fetch(offset: int):
            params: dict[str, Any] = {"limit": limit, "offset": offset}
            if self.plan_ids:
                params["plan_ids"] = ",".join(str(p) for p in self.plan_ids)
            if modified_since:
                params["modified_since"] = modified_since
            data = self.call("GET", f"/v2/features/{layer}", params=params)
            if not isinstance(data, dict) or not isinstance(data.get("features"), list):
                raise VetroError(f"VETRO's layer {layer} page is not a FeatureCollection")
            return data, data["features"], int(data.get("total") or 0), data.get("next_offset")

        # A feature without a VETRO id is never taken for another one (a key of its own).
        for part in shifting_pages(fetch, start=start, key=lambda f: vetro_id(f) or object()):
            yield Page(
                part.offset, part.next_offset, part.features, part.total, unstable=part.unstable
            )

    def update_features(self, updates: list[tuple[str, dict[str, Any]]]) -> Any:
        """PATCH the given properties of features named by VETRO id: [(vetro_id, props)]."""
        body = [{"x-vetro": {"vetro_id": key}, "properties": props} for key, props in updates]
        return self.call("PATCH", "/v2/features", json=body)
