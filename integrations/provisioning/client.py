"""HTTP to the vendors' systems: one session factory, explicit timeouts, typed errors.

No ORM here. Requests are not retried by the session: a failed provisioning is retried by
the outbox with back-off (and recorded each time), so retrying here as well would only
hide failures and multiply the waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from integrations.provisioning.adapters import RejectedError, TransientError

USER_AGENT = "oanm-provisioning/1"
CONNECT_TIMEOUT_SECONDS = 3.05


def http_session() -> requests.Session:
    """The one way this package makes a requests session: our user agent, JSON, no proxies
    from the environment (the access network's API is reached directly)."""
    session = requests.Session()
    session.trust_env = False
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    return session


@dataclass(frozen=True)
class Answer:
    """A response we accept: its status code and its JSON body (None when empty)."""

    status_code: int
    body: Any


class HttpClient:
    """Requests against one base URL with a (connect, read) timeout; answers are JSON.

    Network errors, timeouts, 5xx and 429 raise `TransientError`; other 4xx raise
    `RejectedError` with the vendor's message, unless the caller lists the status in
    `accept` (a 404 that means "not there", a 409 that means "exists already").
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        auth: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.base_url = (base_url or settings.PROVISIONING_BASE_URL).rstrip("/")
        read_timeout = float(timeout or settings.PROVISIONING_TIMEOUT_SECONDS)
        self.timeout = (min(CONNECT_TIMEOUT_SECONDS, read_timeout), read_timeout)
        self.session = http_session()
        if auth:
            self.session.auth = auth
        if headers:
            self.session.headers.update(headers)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        accept: tuple[int, ...] = (),
    ) -> Answer:
        """Send one request; return the answer or raise a typed error."""
        url = f"{self.base_url}{path}"
        try:
            response = self.session.request(
                method,
                url,
                json=json,
                params=params,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise TransientError(f"{method} {path}: no answer within {self.timeout[1]:g}s") from exc
        except requests.RequestException as exc:
            raise TransientError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        body = _json_of(response)
        if 200 <= status < 300 or status in accept:
            return Answer(status_code=status, body=body)
        message = _message_of(body) or response.reason or "no reason given"
        if status >= 500 or status == 429:
            raise TransientError(f"{method} {path}: HTTP {status}: {message}")
        raise RejectedError(f"HTTP {status}: {message}", status_code=status)

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()


def _json_of(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return {"message": response.text[:500]}


def _message_of(body: Any) -> str:
    """The human message in an error body, whichever shape the vendor uses."""
    if not isinstance(body, dict):
        return ""
    restconf = body.get("ietf-restconf:errors")
    if isinstance(restconf, dict):
        errors = restconf.get("error") or []
        return "; ".join(str(e.get("error-message") or e.get("error-tag")) for e in errors)
    for key in ("message", "error", "detail", "errorMessage"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ""
