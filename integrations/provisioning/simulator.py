"""A stand-in for the access network's provisioning systems, on 127.0.0.1 (tests and demo).

One HTTP server speaks four shapes over one in-memory set of ONTs (keyed by serial): the
plain simulator API and the Calix-, Nokia- and Adtran-shaped APIs of vendors.py (each
shaped after the vendor's public northbound style, not a copy of it). It can be told to
misbehave, through Python (tests) or HTTP (`/_simulator/…`, for the demo):

- `fail_next(count, status)`: the next requests answer 5xx (or any status) and change nothing;
- `delay_next(count, seconds, method)`: the next requests (of that method) are carried out,
  but answered late (a client that gave up first must cope with a change it never heard of);
- `reject(serial, reason)`: provisioning that serial is refused with a 4xx until `accept`;
- `not_up(count)`: the next verifications report the ONT as not up yet.

`manage.py provisioning_simulator --port 8970` runs it in the foreground.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from integrations.simulation import Response, SimulatorHTTPServer

Reply = tuple[int, Any]

NOKIA_INTENT = re.compile(r"^/restconf/data/ibn:ibn/intent=([^/,]+),ont$")
ADTRAN_SERVICE = re.compile(r"^/api/v1/services/hsi-([^/]+)$")
PLAIN_ONT = re.compile(r"^/sim/v1/onts/([^/]+)$")


@dataclass
class SimulatedOnt:
    """One ONT as the simulated access network holds it."""

    serial: str
    ont_id: int
    address_ref: str = ""
    speed_profile: str = ""
    download_mbps: int = 0
    upload_mbps: int = 0
    created_at: str = ""
    updated_at: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _error(status: int, message: str) -> Reply:
    return status, {"message": message}


class ProvisioningSimulator:
    """The simulated access network: its ONTs, its failure modes and its request log."""

    def __init__(
        self,
        *,
        seed: dict[str, Any] | None = None,
        username: str = "",
        password: str = "",
        token: str = "",
    ):
        self.username, self.password, self.token = username, password, token
        self._lock = threading.Lock()
        self.reset()
        if seed:
            self.load(seed)

    # --- control -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every ONT, failure mode and logged request."""
        with self._lock:
            self.onts: dict[str, SimulatedOnt] = {}
            self.profiles: set[str] = set()
            self.rejected: dict[str, str] = {}
            self.log: list[dict[str, Any]] = []
            self.fail_remaining, self.fail_status = 0, 503
            self.delay_remaining, self.delay_seconds, self.delay_method = 0, 0.0, ""
            self.not_up_remaining = 0
            self.sessions: set[str] = set()
            self._next_id = 1001

    def load(self, seed: dict[str, Any]) -> None:
        """Add the ONTs, known profiles and rejected serials of a seed (the JSON file's shape:
        `{"onts": [{"serial": …, "speed_profile": …}], "profiles": […], "rejected": {…}}`)."""
        with self._lock:
            for item in seed.get("onts", []):
                ont = self._create(str(item["serial"]).upper())
                ont.address_ref = str(item.get("address_ref", ""))
                ont.speed_profile = str(item.get("speed_profile", ""))
                ont.download_mbps = int(item.get("download_mbps", 0))
                ont.upload_mbps = int(item.get("upload_mbps", 0))
            self.profiles.update(str(p) for p in seed.get("profiles", []))
            for serial, reason in dict(seed.get("rejected", {})).items():
                self.rejected[serial.upper()] = str(reason)

    def fail_next(self, count: int, *, status: int = 503) -> None:
        """The next `count` requests answer `status` and change nothing."""
        with self._lock:
            self.fail_remaining, self.fail_status = count, status

    def delay_next(self, count: int, *, seconds: float, method: str = "") -> None:
        """The next `count` requests (of `method`, if given) are carried out but answered
        only after `seconds`."""
        with self._lock:
            self.delay_remaining, self.delay_seconds = count, seconds
            self.delay_method = method.upper()

    def reject(self, serial: str, reason: str = "unknown ONT serial") -> None:
        """Refuse to provision this serial (a 4xx) until `accept`."""
        with self._lock:
            self.rejected[serial.upper()] = reason

    def accept(self, serial: str) -> None:
        """Stop refusing this serial."""
        with self._lock:
            self.rejected.pop(serial.upper(), None)

    def not_up(self, count: int) -> None:
        """The next `count` verifications report the ONT as not up yet."""
        with self._lock:
            self.not_up_remaining = count

    def snapshot(self) -> dict[str, Any]:
        """The simulator's state as JSON values."""
        with self._lock:
            return {
                "onts": {serial: asdict(ont) for serial, ont in self.onts.items()},
                "rejected": dict(self.rejected),
                "profiles": sorted(self.profiles),
                "log": list(self.log),
            }

    # --- requests --------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one request: (status, headers, content, how long to hold it back)."""
        (status, payload), delay = self._answer(method, target, headers, body)
        content = b"" if payload is None else json.dumps(payload).encode()
        return status, [], content, delay

    def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[Reply, float]:
        parts = urlsplit(target)
        path = unquote(parts.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if path.startswith("/_simulator/"):
            return self._control(method, path, body), 0.0
        with self._lock:
            delay = 0.0
            if self.fail_remaining > 0:
                self.fail_remaining -= 1
                reply = _error(self.fail_status, "simulated failure")
            else:
                try:
                    data = json.loads(body) if body else None
                except ValueError:
                    reply = _error(400, "the body is not JSON")
                else:
                    reply = self._route(method, path, query, headers, data)
                if self.delay_remaining > 0 and self.delay_method in ("", method):
                    self.delay_remaining -= 1
                    delay = self.delay_seconds
            self.log.append({"method": method, "path": path, "status": reply[0]})
            return reply, delay

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], data: Any
    ) -> Reply:
        if match := PLAIN_ONT.match(path):
            return self._plain(method, match.group(1).upper(), data)
        if path.startswith("/rest/v1/ems/"):
            if not self._basic_auth_ok(headers):
                return _error(401, "authentication failed")
            return self._calix(method, path, query, data)
        if match := NOKIA_INTENT.match(path):
            if self.token and headers.get("authorization") != f"Bearer {self.token}":
                return 401, _restconf_error("access-denied", "the bearer token is not valid")
            return self._nokia(method, match.group(1).upper(), data)
        if path == "/api/v1/sessions" and method == "POST":
            return self._adtran_login(data)
        if match := ADTRAN_SERVICE.match(path):
            if not self._adtran_auth_ok(headers):
                return _error(401, "no valid session token (X-Auth-Token)")
            return self._adtran(method, match.group(1).upper(), data)
        return _error(404, f"no such resource: {method} {path}")

    # --- the shared model ------------------------------------------------------------------

    def _create(self, serial: str) -> SimulatedOnt:
        ont = SimulatedOnt(serial=serial, ont_id=self._next_id, created_at=_now())
        ont.updated_at = ont.created_at
        self._next_id += 1
        self.onts[serial] = ont
        return ont

    def _refusal(self, serial: str, profile: str | None) -> str:
        """Why provisioning this serial (with this profile) is refused, or ''."""
        if not serial:
            return "an ONT serial is required"
        if serial in self.rejected:
            return f"ONT {serial}: {self.rejected[serial]}"
        if profile is not None and not profile:
            return "a speed profile is required"
        if profile and self.profiles and profile not in self.profiles:
            return f"unknown speed profile {profile!r}"
        return ""

    def _set_service(self, ont: SimulatedOnt, profile: str, down: Any, up: Any) -> None:
        ont.speed_profile = profile
        ont.download_mbps = int(down or 0)
        ont.upload_mbps = int(up or 0)
        ont.updated_at = _now()

    def _is_up(self, ont: SimulatedOnt) -> bool:
        """Whether a verification now sees the ONT up (spends one 'not up' if any are left)."""
        if self.not_up_remaining > 0:
            self.not_up_remaining -= 1
            return False
        return bool(ont.speed_profile)

    # --- plain shape -----------------------------------------------------------------------

    def _plain(self, method: str, serial: str, data: Any) -> Reply:
        ont = self.onts.get(serial)
        if method == "PUT":
            data = data or {}
            refusal = self._refusal(serial, str(data.get("speed_profile", "")))
            if refusal:
                return _error(422, refusal)
            status = 200 if ont else 201
            ont = ont or self._create(serial)
            ont.address_ref = str(data.get("address_ref", ""))
            self._set_service(
                ont, data["speed_profile"], data.get("download_mbps"), data.get("upload_mbps")
            )
            return status, self._plain_body(ont, up=None)
        if ont is None:
            return _error(404, f"no ONT {serial}")
        if method == "GET":
            return 200, self._plain_body(ont, up=self._is_up(ont))
        if method == "DELETE":
            del self.onts[serial]
            return 204, None
        return _error(405, f"{method} is not allowed here")

    @staticmethod
    def _plain_body(ont: SimulatedOnt, *, up: bool | None) -> dict[str, Any]:
        body = {
            "id": f"ont-{ont.ont_id}",
            "serial": ont.serial,
            "address_ref": ont.address_ref,
            "speed_profile": ont.speed_profile,
            "download_mbps": ont.download_mbps,
            "upload_mbps": ont.upload_mbps,
        }
        if up is not None:
            body["oper_state"] = "up" if up else "down"
        return body

    # --- Calix-shaped: ONT records and service records -------------------------------------

    def _basic_auth_ok(self, headers: dict[str, str]) -> bool:
        if not (self.username or self.password):
            return True
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return headers.get("authorization") == f"Basic {expected}"

    def _calix_by_id(self, query: dict[str, str]) -> SimulatedOnt | None:
        ont_id = query.get("ont-id", "")
        return next((o for o in self.onts.values() if str(o.ont_id) == ont_id), None)

    def _calix(self, method: str, path: str, query: dict[str, str], data: Any) -> Reply:
        if path == "/rest/v1/ems/ont" and method == "GET":
            serial = query.get("serial-number", "").upper()
            found = [self.onts[serial]] if serial in self.onts else []
            return 200, [self._calix_ont(ont) for ont in found]
        if path == "/rest/v1/ems/ont" and method == "POST":
            data = data or {}
            serial = str(data.get("serial-number", "")).upper()
            refusal = self._refusal(serial, None)
            if refusal:
                return _error(400, refusal)
            if serial in self.onts:
                return _error(409, f"an ONT with serial number {serial} exists already")
            ont = self._create(serial)
            ont.address_ref = str(data.get("subscriber-id", ""))
            return 201, self._calix_ont(ont)
        if path == "/rest/v1/ems/ont" and method == "DELETE":
            ont = self._calix_by_id(query)
            if ont is None:
                return _error(404, f"no ONT with ont-id {query.get('ont-id', '')}")
            del self.onts[ont.serial]
            return 204, None
        if path == "/rest/v1/ems/service" and method == "PUT":
            ont = self._calix_by_id(query)
            if ont is None:
                return _error(404, f"no ONT with ont-id {query.get('ont-id', '')}")
            data = data or {}
            refusal = self._refusal(ont.serial, str(data.get("bw-profile-id", "")))
            if refusal:
                return _error(400, refusal)
            self._set_service(
                ont, data["bw-profile-id"], data.get("downstream-mbps"), data.get("upstream-mbps")
            )
            return 200, self._calix_service(ont)
        if path == "/rest/v1/ems/ont/status" and method == "GET":
            ont = self._calix_by_id(query)
            if ont is None:
                return _error(404, f"no ONT with ont-id {query.get('ont-id', '')}")
            up = self._is_up(ont)
            services = [self._calix_service(ont)] if ont.speed_profile else []
            return 200, {
                **self._calix_ont(ont),
                "oper-state": "up" if up else "down",
                "services": services,
            }
        return _error(404, f"no such resource: {method} {path}")

    @staticmethod
    def _calix_ont(ont: SimulatedOnt) -> dict[str, Any]:
        return {
            "ont-id": str(ont.ont_id),
            "serial-number": ont.serial,
            "subscriber-id": ont.address_ref,
        }

    @staticmethod
    def _calix_service(ont: SimulatedOnt) -> dict[str, Any]:
        return {
            "ont-id": str(ont.ont_id),
            "service-name": "data",
            "bw-profile-id": ont.speed_profile,
            "downstream-mbps": ont.download_mbps,
            "upstream-mbps": ont.upload_mbps,
            "admin-state": "enabled",
        }

    # --- Nokia-shaped: RESTCONF intents -----------------------------------------------------

    def _nokia(self, method: str, serial: str, data: Any) -> Reply:
        ont = self.onts.get(serial)
        if method == "PUT":
            intent = (data or {}).get("ibn:intent") or {}
            if isinstance(intent, list):
                intent = intent[0] if intent else {}
            specific = (intent.get("intent-specific-data") or {}).get("ont:ont") or {}
            refusal = self._refusal(serial, str(specific.get("speed-profile", "")))
            if refusal:
                return 400, _restconf_error("invalid-value", refusal)
            status = 204 if ont else 201
            ont = ont or self._create(serial)
            ont.address_ref = str(specific.get("subscriber-ref", ""))
            self._set_service(
                ont,
                specific["speed-profile"],
                specific.get("downstream-mbps"),
                specific.get("upstream-mbps"),
            )
            return status, None
        if ont is None:
            return 404, _restconf_error("invalid-value", f"no intent {serial},ont")
        if method == "GET":
            aligned = self._is_up(ont)
            return 200, {
                "ibn:intent": [
                    {
                        "target": ont.serial,
                        "intent-type": "ont",
                        "intent-type-version": 1,
                        "required-network-state": "active",
                        "aligned": aligned,
                        "actual-network-state": "active" if aligned else "not-aligned",
                        "intent-specific-data": {
                            "ont:ont": {
                                "subscriber-ref": ont.address_ref,
                                "speed-profile": ont.speed_profile,
                                "downstream-mbps": ont.download_mbps,
                                "upstream-mbps": ont.upload_mbps,
                            }
                        },
                    }
                ]
            }
        if method == "DELETE":
            del self.onts[serial]
            return 204, None
        return 405, _restconf_error("operation-not-supported", f"{method} is not supported")

    # --- Adtran-shaped: sessions and services ----------------------------------------------

    def _adtran_login(self, data: Any) -> Reply:
        data = data or {}
        if (self.username or self.password) and (
            data.get("username") != self.username or data.get("password") != self.password
        ):
            return _error(401, "wrong user name or password")
        token = secrets.token_hex(16)
        self.sessions.add(token)
        return 201, {"token": token}

    def _adtran_auth_ok(self, headers: dict[str, str]) -> bool:
        if not (self.username or self.password or self.token):
            return True
        given = headers.get("x-auth-token", "")
        return given in self.sessions or (bool(self.token) and given == self.token)

    def _adtran(self, method: str, serial: str, data: Any) -> Reply:
        ont = self.onts.get(serial)
        if method == "PUT":
            data = data or {}
            profile = data.get("bandwidthProfile") or {}
            body_serial = str((data.get("ont") or {}).get("serialNumber", "")).upper()
            if body_serial != serial:
                return _error(422, "ont.serialNumber must match the service id")
            refusal = self._refusal(serial, str(profile.get("name", "")))
            if refusal:
                return _error(422, refusal)
            ont = ont or self._create(serial)
            ont.address_ref = str(data.get("subscriberRef", ""))
            self._set_service(
                ont, profile["name"], profile.get("downstreamMbps"), profile.get("upstreamMbps")
            )
            return 202, {"serviceId": f"hsi-{serial}", "state": "deploying"}
        if ont is None:
            return _error(404, f"no service hsi-{serial}")
        if method == "GET":
            up = self._is_up(ont)
            return 200, {
                "serviceId": f"hsi-{serial}",
                "serviceType": "hsi",
                "ont": {"serialNumber": ont.serial},
                "subscriberRef": ont.address_ref,
                "bandwidthProfile": {
                    "name": ont.speed_profile,
                    "downstreamMbps": ont.download_mbps,
                    "upstreamMbps": ont.upload_mbps,
                },
                "state": "deployed" if up else "deploying",
                "operationalStatus": "up" if up else "down",
            }
        if method == "DELETE":
            del self.onts[serial]
            return 204, None
        return _error(405, f"{method} is not allowed here")

    # --- control over HTTP -------------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _error(400, "the body is not JSON")
        action = path.removeprefix("/_simulator/")
        try:
            if method == "GET" and action == "state":
                return 200, self.snapshot()
            if method != "POST":
                return _error(405, "control actions are POSTed")
            if action == "reset":
                self.reset()
            elif action == "fail":
                self.fail_next(int(data.get("count", 1)), status=int(data.get("status", 503)))
            elif action == "delay":
                self.delay_next(
                    int(data.get("count", 1)),
                    seconds=float(data["seconds"]),
                    method=str(data.get("method", "")),
                )
            elif action == "reject":
                self.reject(str(data["serial"]), str(data.get("reason", "unknown ONT serial")))
            elif action == "accept":
                self.accept(str(data["serial"]))
            elif action == "not-up":
                self.not_up(int(data.get("count", 1)))
            elif action == "load":
                self.load(data)
            else:
                return _error(404, f"no control action {action!r}")
        except (KeyError, TypeError, ValueError) as exc:
            return _error(400, f"bad control request: {exc}")
        return 200, {"ok": True}


def _restconf_error(tag: str, message: str) -> dict[str, Any]:
    return {
        "ietf-restconf:errors": {
            "error": [{"error-type": "application", "error-tag": tag, "error-message": message}]
        }
    }


class SimulatorServer(SimulatorHTTPServer):
    """The simulator behind an HTTP server on 127.0.0.1 (port 0: any free port); its `url`
    is the base URL to configure as PROVISIONING_BASE_URL."""

    thread_name = "provisioning-simulator"
    simulator: ProvisioningSimulator

    def __init__(
        self,
        simulator: ProvisioningSimulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ):
        simulator = simulator or ProvisioningSimulator()
        super().__init__(simulator, host=host, port=port, verbose=verbose)


def seed_from_file(path: str | Path) -> dict[str, Any]:
    """Read a seed JSON file (see `ProvisioningSimulator.load`)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
