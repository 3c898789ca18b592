"""The vendor adapters, chosen by PROVISIONING_VENDOR (docs/provisioning.md).

Each is *shaped after* the style of a vendor's public northbound API — resource names,
verbs, JSON field spelling, how auth is sent — small enough to read in one sitting. None is
a certified integration: pointing one at a real system means checking its paths and fields
against that system's API guide first. The simulator (simulator.py) speaks all of them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings

from integrations.provisioning.adapters import (
    ProvisioningAdapter,
    RejectedError,
    TransientError,
    Verification,
    profile_check,
)
from integrations.provisioning.client import HttpClient


def _expect_dict(body: Any, what: str) -> dict[str, Any]:
    """The vendor's JSON object, or a transient error (a garbled answer is worth a retry)."""
    if not isinstance(body, dict):
        raise TransientError(f"{what}: expected a JSON object, got {type(body).__name__}")
    return body


class SimulatorAdapter(ProvisioningAdapter):
    """The plain simulator API: one resource per ONT, `PUT` to create or update it.

    `PUT /sim/v1/onts/{serial}` {address_ref, speed_profile, download_mbps, upload_mbps}
    → `{id, …}`; `GET` → `{…, oper_state: up|down}`; `DELETE` → 204.
    """

    vendor = "simulator"

    def __init__(self, *, base_url: str | None = None, timeout: float | None = None):
        self.http = HttpClient(base_url=base_url, timeout=timeout)

    def provision(self, *, ont_serial, address_ref, speed_profile, download_mbps, upload_mbps):
        answer = self.http.request(
            "PUT",
            f"/sim/v1/onts/{quote(ont_serial)}",
            json={
                "address_ref": address_ref,
                "speed_profile": speed_profile,
                "download_mbps": download_mbps,
                "upload_mbps": upload_mbps,
            },
        )
        return str(_expect_dict(answer.body, "provision")["id"])

    def verify(self, *, ont_serial, external_id="", speed_profile=""):
        answer = self.http.request("GET", f"/sim/v1/onts/{quote(ont_serial)}", accept=(404,))
        if answer.status_code == 404:
            return Verification(is_verified=False, detail=f"the ONT {ont_serial} is not known")
        body = _expect_dict(answer.body, "verify")
        state = body.get("oper_state", "")
        return profile_check(
            Verification(
                is_verified=state == "up",
                detail=f"operational state {state or 'unknown'}",
                speed_profile=str(body.get("speed_profile", "")),
                state=body,
            ),
            speed_profile,
        )

    def deprovision(self, *, ont_serial, external_id=""):
        answer = self.http.request("DELETE", f"/sim/v1/onts/{quote(ont_serial)}", accept=(404,))
        return answer.status_code != 404

    def close(self):
        self.http.close()


class CalixAdapter(ProvisioningAdapter):
    """Shaped after Calix SMx's northbound REST: an ONT record under `/rest/v1/ems/ont`,
    then a data-service record carrying the bandwidth profile; HTTP basic auth.

    Provisioning looks the serial up first and treats a 409 on create as "it is there"
    (a create whose answer was lost to a timeout), so a retry never makes a second ONT.
    """

    vendor = "calix"
    SERVICE_NAME = "data"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        username: str | None = None,
        password: str | None = None,
    ):
        username = settings.PROVISIONING_USERNAME if username is None else username
        password = settings.PROVISIONING_PASSWORD if password is None else password
        auth = (username, password) if username else None
        self.http = HttpClient(base_url=base_url, timeout=timeout, auth=auth)

    def _find(self, ont_serial: str) -> dict[str, Any] | None:
        answer = self.http.request("GET", "/rest/v1/ems/ont", params={"serial-number": ont_serial})
        found = answer.body if isinstance(answer.body, list) else []
        return found[0] if found else None

    def provision(self, *, ont_serial, address_ref, speed_profile, download_mbps, upload_mbps):
        ont = self._find(ont_serial)
        if ont is None:
            answer = self.http.request(
                "POST",
                "/rest/v1/ems/ont",
                json={"serial-number": ont_serial, "subscriber-id": address_ref},
                accept=(409,),
            )
            ont = self._find(ont_serial) if answer.status_code == 409 else answer.body
            if not isinstance(ont, dict):
                raise TransientError(f"the ONT {ont_serial} was created but cannot be found")
        ont_id = str(ont["ont-id"])
        self.http.request(
            "PUT",
            "/rest/v1/ems/service",
            params={"ont-id": ont_id, "service-name": self.SERVICE_NAME},
            json={
                "bw-profile-id": speed_profile,
                "downstream-mbps": download_mbps,
                "upstream-mbps": upload_mbps,
                "admin-state": "enabled",
            },
        )
        return ont_id

    def verify(self, *, ont_serial, external_id="", speed_profile=""):
        ont_id = external_id
        if not ont_id:
            ont = self._find(ont_serial)
            if ont is None:
                return Verification(is_verified=False, detail=f"the ONT {ont_serial} is not known")
            ont_id = str(ont["ont-id"])
        answer = self.http.request(
            "GET", "/rest/v1/ems/ont/status", params={"ont-id": ont_id}, accept=(404,)
        )
        if answer.status_code == 404:
            return Verification(is_verified=False, detail=f"no ONT with ont-id {ont_id}")
        body = _expect_dict(answer.body, "verify")
        service = next(
            (s for s in body.get("services", []) if s.get("service-name") == self.SERVICE_NAME),
            None,
        )
        state = body.get("oper-state", "")
        if service is None:
            return Verification(is_verified=False, detail="the ONT has no data service", state=body)
        return profile_check(
            Verification(
                is_verified=state == "up",
                detail=f"oper-state {state or 'unknown'}",
                speed_profile=str(service.get("bw-profile-id", "")),
                state=body,
            ),
            speed_profile,
        )

    def deprovision(self, *, ont_serial, external_id=""):
        ont = self._find(ont_serial)
        if ont is None:
            return False
        answer = self.http.request(
            "DELETE", "/rest/v1/ems/ont", params={"ont-id": str(ont["ont-id"])}, accept=(404,)
        )
        return answer.status_code != 404

    def close(self):
        self.http.close()


class NokiaAdapter(ProvisioningAdapter):
    """Shaped after Nokia Altiplano's intent-based RESTCONF: one `ont` intent per serial at
    `/restconf/data/ibn:ibn/intent={serial},ont`, written with an idempotent `PUT`
    (`application/yang-data+json`); verified when the intent is aligned with the network.
    Bearer-token auth (PROVISIONING_TOKEN)."""

    vendor = "nokia"
    MEDIA_TYPE = "application/yang-data+json"

    def __init__(
        self, *, base_url: str | None = None, timeout: float | None = None, token: str | None = None
    ):
        token = settings.PROVISIONING_TOKEN if token is None else token
        headers = {"Accept": self.MEDIA_TYPE}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = HttpClient(base_url=base_url, timeout=timeout, headers=headers)

    @staticmethod
    def _path(ont_serial: str) -> str:
        return f"/restconf/data/ibn:ibn/intent={quote(ont_serial, safe='')},ont"

    def provision(self, *, ont_serial, address_ref, speed_profile, download_mbps, upload_mbps):
        self.http.request(
            "PUT",
            self._path(ont_serial),
            headers={"Content-Type": self.MEDIA_TYPE},
            json={
                "ibn:intent": [
                    {
                        "target": ont_serial,
                        "intent-type": "ont",
                        "intent-type-version": 1,
                        "required-network-state": "active",
                        "intent-specific-data": {
                            "ont:ont": {
                                "subscriber-ref": address_ref,
                                "speed-profile": speed_profile,
                                "downstream-mbps": download_mbps,
                                "upstream-mbps": upload_mbps,
                            }
                        },
                    }
                ]
            },
        )
        return f"{ont_serial},ont"

    def verify(self, *, ont_serial, external_id="", speed_profile=""):
        answer = self.http.request("GET", self._path(ont_serial), accept=(404,))
        if answer.status_code == 404:
            return Verification(is_verified=False, detail=f"no intent for the ONT {ont_serial}")
        intents = _expect_dict(answer.body, "verify").get("ibn:intent") or [{}]
        intent = intents[0] if isinstance(intents, list) else intents
        specific = (intent.get("intent-specific-data") or {}).get("ont:ont") or {}
        aligned = intent.get("aligned") is True
        return profile_check(
            Verification(
                is_verified=aligned,
                detail=f"intent {'aligned' if aligned else 'not aligned'} "
                f"({intent.get('actual-network-state', 'unknown')})",
                speed_profile=str(specific.get("speed-profile", "")),
                state=intent,
            ),
            speed_profile,
        )

    def deprovision(self, *, ont_serial, external_id=""):
        answer = self.http.request("DELETE", self._path(ont_serial), accept=(404,))
        return answer.status_code != 404

    def close(self):
        self.http.close()


class AdtranAdapter(ProvisioningAdapter):
    """Shaped after Adtran Mosaic's REST services: a session token from `POST
    /api/v1/sessions` (user name and password; or PROVISIONING_TOKEN as is), sent as
    `X-Auth-Token`; one high-speed-internet service per ONT, `PUT
    /api/v1/services/hsi-{serial}` (idempotent, 202 while it deploys); verified once the
    service is `deployed` and operationally up."""

    vendor = "adtran"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
    ):
        self.username = settings.PROVISIONING_USERNAME if username is None else username
        self.password = settings.PROVISIONING_PASSWORD if password is None else password
        self.token = settings.PROVISIONING_TOKEN if token is None else token
        self.http = HttpClient(base_url=base_url, timeout=timeout)
        self._has_session = False

    def _request(self, method: str, path: str, **kwargs: Any):
        if not self._has_session:
            token = self.token
            if not token and self.username:
                answer = self.http.request(
                    "POST",
                    "/api/v1/sessions",
                    json={"username": self.username, "password": self.password},
                )
                token = str(_expect_dict(answer.body, "login").get("token", ""))
            if token:
                self.http.session.headers["X-Auth-Token"] = token
            self._has_session = True
        return self.http.request(method, path, **kwargs)

    @staticmethod
    def _service_id(ont_serial: str) -> str:
        return f"hsi-{ont_serial}"

    def provision(self, *, ont_serial, address_ref, speed_profile, download_mbps, upload_mbps):
        service_id = self._service_id(ont_serial)
        self._request(
            "PUT",
            f"/api/v1/services/{quote(service_id)}",
            json={
                "serviceId": service_id,
                "serviceType": "hsi",
                "ont": {"serialNumber": ont_serial},
                "subscriberRef": address_ref,
                "bandwidthProfile": {
                    "name": speed_profile,
                    "downstreamMbps": download_mbps,
                    "upstreamMbps": upload_mbps,
                },
            },
        )
        return service_id

    def verify(self, *, ont_serial, external_id="", speed_profile=""):
        service_id = external_id or self._service_id(ont_serial)
        answer = self._request("GET", f"/api/v1/services/{quote(service_id)}", accept=(404,))
        if answer.status_code == 404:
            return Verification(is_verified=False, detail=f"no service {service_id}")
        body = _expect_dict(answer.body, "verify")
        state, operational = body.get("state", ""), body.get("operationalStatus", "")
        return profile_check(
            Verification(
                is_verified=state == "deployed" and operational == "up",
                detail=f"service {state or 'unknown'}, operationally {operational or 'unknown'}",
                speed_profile=str((body.get("bandwidthProfile") or {}).get("name", "")),
                state=body,
            ),
            speed_profile,
        )

    def deprovision(self, *, ont_serial, external_id=""):
        service_id = external_id or self._service_id(ont_serial)
        answer = self._request("DELETE", f"/api/v1/services/{quote(service_id)}", accept=(404,))
        return answer.status_code != 404

    def close(self):
        self.http.close()


ADAPTERS: dict[str, type[ProvisioningAdapter]] = {
    adapter.vendor: adapter
    for adapter in (SimulatorAdapter, CalixAdapter, NokiaAdapter, AdtranAdapter)
}


def provisioning_adapter(vendor: str | None = None, **options: Any) -> ProvisioningAdapter:
    """The adapter of `vendor` (default: PROVISIONING_VENDOR), configured from settings;
    `options` (base_url, timeout, credentials) override them."""
    name = (vendor or settings.PROVISIONING_VENDOR).strip().lower()
    adapter = ADAPTERS.get(name)
    if adapter is None:
        raise RejectedError(
            f"PROVISIONING_VENDOR={name!r} is not a known vendor "
            f"(one of {', '.join(sorted(ADAPTERS))})"
        )
    return adapter(**options)
