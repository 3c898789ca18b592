"""A stand-in for an IQGeo Platform server on 127.0.0.1 (tests and demo), seeded from a file.

The IQGeo Platform REST shape (VENDOR_APIS.md): `POST /auth` (form `user`, `pass` → cookies
`myworldapp` and `csrf_token`; wrong credentials 401), `GET /feature/{type}?limit=&offset=`
(a GeoJSON FeatureCollection with `limit`, `offset`, `count`, `unlimited_count`,
`next_offset`, `previous_offset`; each feature carries `myw.feature_type`) and
`GET /feature/{type}/count`, and `PUT` (or `PATCH`) `/feature/{type}/{id}` with a GeoJSON
Feature whose `properties` are set on the stored feature (the others are kept; the change
time moves, so an incremental import sees it; writes need the session and its CSRF cookie;
404 for an unknown feature, 400 for a body that is not a JSON Feature). Every accepted
update is recorded: `GET /_sim/updates` lists them (`feature_id`, `properties`, `at`).
`changed_since=<ISO time>` keeps the features whose
`myw_change_time` property is at or after it (real IQGeo has no such endpoint: see
docs/iqgeo.md). Features are served in EPSG:4326, or in another CRS (`crs=25833`) with a
GeoJSON `crs` member.

It can be told to misbehave, in Python (`fail`) or over HTTP (`POST /_sim/fail` with JSON
`{"mode": …, "count": N, "after": K}`: after K more requests, the next N requests …):
`error` answer 500; `timeout` answer late (`delay` seconds); `malformed` send broken JSON;
`expire` forget every session (so the client gets a 401 and must log in again); `shift`
insert a new feature at the front before answering a page (a page that changes mid-paging).
A `timeout` on an update applies it and answers late (the client never hears of it), as a
real server whose answer is lost would; `error` refuses it before applying it.

The demo town's seed links every 25th address to a circuit: `circuit` (a reference URN,
`circuit/<n>`) and `circuitName` (`WED-FTTH-<nnnn>`).

`python -m integrations.iqgeo.simulator --port 8971 --seed data/berlin-wedding/addresses.geojson`
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from integrations.simulation import JSONSimulator, SimulatorHTTPServer, arguments, serve

FEATURE_PATH = re.compile(r"^/feature/([A-Za-z0-9_]+)(/count)?$")
FEATURE_ITEM_PATH = re.compile(r"^/feature/([A-Za-z0-9_]+)/([^/]+)$")
CIRCUIT_EVERY = 25  # the seed links every 25th address to a circuit
MODES = ("error", "timeout", "malformed", "expire", "shift")
HOUSE_NUMBER = re.compile(r"^(\d+)\s*([A-Za-z]?)(?:\s*-\s*(\d+)\s*([A-Za-z]?))?$")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def iqgeo_properties(osm: dict[str, Any]) -> dict[str, Any]:
    """The demo town's OSM address properties as IQGeo address fields."""
    number = str(osm.get("housenumber") or "").strip()
    match = HOUSE_NUMBER.match(number)
    nr, suffix, last, last_suffix = match.groups(default="") if match else (number, "", "", "")
    return {
        "streetName": osm.get("street") or "",
        "streetNr": nr,
        "streetNrSuffix": suffix,
        "streetNrLast": last,
        "streetNrLastSuffix": last_suffix,
        "postcode": osm.get("postcode") or "",
        "city": osm.get("city") or "",
        "locality": osm.get("suburb") or "",
        "country": osm.get("country") or "",
        "unit": osm.get("unit") or "",
        "osm_id": osm.get("id"),
    }


def seed_from_file(path: str | Path) -> list[dict[str, Any]]:
    """Features from a GeoJSON file: the demo town's OSM addresses are turned into IQGeo
    address fields; a file that already has `streetName` properties is taken as is."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    features = []
    for number, feature in enumerate(data["features"], start=1):
        properties = dict(feature.get("properties") or {})
        if "streetName" not in properties:
            properties = iqgeo_properties(properties)
            if number % CIRCUIT_EVERY == 0:
                circuit = number // CIRCUIT_EVERY
                properties["circuit"] = f"circuit/{circuit}"
                properties["circuitName"] = f"WED-FTTH-{circuit:04d}"
        features.append({"geometry": feature.get("geometry"), "properties": properties})
    return features


class IQGeoSimulator(JSONSimulator):
    """An in-memory IQGeo feature store with a login and a failure switchboard."""

    MODES = MODES

    def __init__(
        self,
        features: list[dict[str, Any]] | None = None,
        *,
        user: str = "oanm",
        password: str = "secret",  # noqa: S107 — a test stand-in
        feature_type: str = "address",
        crs: int = 4326,
        delay: float = 1.0,
    ):
        super().__init__(delay=delay)
        self.user, self.password, self.feature_type = user, password, feature_type
        self.crs = crs
        self.features: list[dict[str, Any]] = []  # in paging order
        self.sessions: set[str] = set()
        self.updates: list[dict[str, Any]] = []  # every accepted update, in order
        self.csrf: dict[str, str] = {}  # session → its CSRF token
        self._next_id = 1
        for feature in features or []:
            self.add(feature["geometry"], feature["properties"])

    # --- the store (tests change it through these) ---------------------------------------
    def add(self, geometry: Any, properties: dict[str, Any], *, front: bool = False) -> int:
        feature = {
            "id": self._next_id,
            "geometry": geometry,
            "properties": {**properties, "myw_change_time": now_iso()},
        }
        self._next_id += 1
        if front:
            self.features.insert(0, feature)
        else:
            self.features.append(feature)
        return feature["id"]

    def update(self, feature_id: int, **changes: Any) -> None:
        """Change properties (and `geometry=`) of a feature; stamps its change time."""
        with self.lock:
            feature = next(f for f in self.features if f["id"] == feature_id)
            if "geometry" in changes:
                feature["geometry"] = changes.pop("geometry")
            feature["properties"].update(changes, myw_change_time=now_iso())

    # --- HTTP (see integrations.simulation.JSONSimulator) ---------------------------------
    def _misbehave(self, mode: str):
        if mode == "error":
            return self._reply(500, {"error": "simulated internal error"})
        if mode == "expire":
            with self.lock:
                self.sessions.clear()
                self.csrf.clear()
        if mode == "shift":
            with self.lock:
                self.add(
                    {"type": "Point", "coordinates": [13.35, 52.55]},
                    {
                        "streetName": "Neue Straße",
                        "streetNr": "1",
                        "postcode": "13353",
                        "city": "Berlin",
                        "country": "DE",
                    },
                    front=True,
                )
        return None

    def _route(self, method: str, url, headers: dict[str, str], body: bytes):
        if method == "POST" and url.path == "/auth":
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            if form.get("user") != self.user or form.get("pass") != self.password:
                return self._reply(401, {"error": "invalid user name or password"})
            token, csrf = secrets.token_hex(16), secrets.token_hex(8)
            with self.lock:
                self.sessions.add(token)
                self.csrf[token] = csrf
            cookies = [
                ("Set-Cookie", f"myworldapp={token}; Path=/; HttpOnly"),
                ("Set-Cookie", f"csrf_token={csrf}; Path=/"),
            ]
            return self._reply(200, {"ok": True}, cookies)
        item = FEATURE_ITEM_PATH.match(url.path)
        if method in ("PUT", "PATCH") and item and item.group(2) != "count":
            return self._update(item.group(1), item.group(2), headers, body)
        match = FEATURE_PATH.match(url.path)
        if method != "GET" or not match:
            return self._reply(404, {"error": f"no route {method} {url.path}"})
        if self._session(headers) is None:
            return self._reply(401, {"error": "not logged in"})
        if match.group(1) != self.feature_type:
            return self._reply(404, {"error": f"no feature type {match.group(1)}"})
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.lock:
            selected = list(self.features)
        since = query.get("changed_since")
        if since:
            selected = [f for f in selected if f["properties"]["myw_change_time"] >= since]
        if match.group(2):
            return self._reply(200, {"count": len(selected)})
        try:
            limit = int(query.get("limit", 1000))
            offset = int(query.get("offset", 0))
        except ValueError:
            return self._reply(400, {"error": "limit and offset must be integers"})
        page = selected[offset : offset + limit]
        more = offset + limit < len(selected)
        collection = {
            "type": "FeatureCollection",
            "features": [self._feature(f) for f in page],
            "limit": limit,
            "offset": offset,
            "count": len(page),
            "unlimited_count": len(selected),
            "next_offset": offset + limit if more else None,
            "previous_offset": max(0, offset - limit) if offset else None,
        }
        if self.crs != 4326:
            collection["crs"] = {
                "type": "name",
                "properties": {"name": f"urn:ogc:def:crs:EPSG::{self.crs}"},
            }
        return self._reply(200, collection)

    def _session(self, headers: dict[str, str]) -> str | None:
        """The logged-in session the request's cookie names, if any."""
        session = re.search(r"myworldapp=([0-9a-f]+)", headers.get("cookie", ""))
        return session.group(1) if session and session.group(1) in self.sessions else None

    def _update(self, feature_type: str, feature_id: str, headers: dict[str, str], body: bytes):
        """Set the given properties of one feature (a PUT or PATCH of a GeoJSON Feature)."""
        session = self._session(headers)
        if session is None:
            return self._reply(401, {"error": "not logged in"})
        cookie_csrf = re.search(r"csrf_token=([0-9a-f]+)", headers.get("cookie", ""))
        if not cookie_csrf or cookie_csrf.group(1) != self.csrf.get(session):
            return self._reply(403, {"error": "missing or wrong CSRF token"})
        if feature_type != self.feature_type:
            return self._reply(404, {"error": f"no feature type {feature_type}"})
        try:
            data = json.loads(body or b"")
        except ValueError as exc:
            return self._reply(400, {"error": f"the body is not JSON: {exc}"})
        properties = data.get("properties") if isinstance(data, dict) else None
        if not isinstance(properties, dict):
            return self._reply(400, {"error": "expected a GeoJSON Feature with properties"})
        with self.lock:
            feature = next((f for f in self.features if str(f["id"]) == feature_id), None)
            if feature is None:
                return self._reply(404, {"error": f"no {feature_type} {feature_id}"})
            at = now_iso()
            feature["properties"].update(properties, myw_change_time=at)
            self.updates.append(
                {"feature_id": feature["id"], "properties": dict(properties), "at": at}
            )
            answer = self._feature(feature)
        return self._reply(200, answer)

    def updates_of(self, feature_id: int) -> list[dict[str, Any]]:
        """The properties of every update a feature received, in order."""
        with self.lock:
            return [u["properties"] for u in self.updates if u["feature_id"] == feature_id]

    def _feature(self, feature: dict[str, Any]) -> dict[str, Any]:
        geometry = feature["geometry"]
        if self.crs != 4326 and geometry and geometry.get("type") == "Point":
            from pyproj import Transformer

            transformer = Transformer.from_crs(4326, self.crs, always_xy=True)
            x, y = transformer.transform(*geometry["coordinates"][:2])
            geometry = {"type": "Point", "coordinates": [round(x, 3), round(y, 3)]}
        return {
            "type": "Feature",
            "id": feature["id"],
            "geometry": geometry,
            "properties": feature["properties"],
            "myw": {"feature_type": self.feature_type},
        }

    def _control_extra(self, method: str, path: str, body: bytes):
        if method == "GET" and path == "/_sim/updates":
            with self.lock:
                return self._reply(200, {"updates": list(self.updates)})
        return None


class IQGeoSimulatorServer(SimulatorHTTPServer):
    """The simulator behind an HTTP server on 127.0.0.1 (port 0: any free port)."""

    methods = ("GET", "POST", "PUT", "PATCH")
    thread_name = "iqgeo-sim"
    simulator: IQGeoSimulator


def main(argv: list[str] | None = None) -> None:
    parser = arguments("Serve the IQGeo simulator until interrupted.", port=8971)
    parser.add_argument("--user", default="oanm")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--feature-type", default="address")
    parser.add_argument("--crs", type=int, default=4326, help="serve coordinates in this EPSG")
    args = parser.parse_args(argv)
    simulator = IQGeoSimulator(
        seed_from_file(args.seed) if args.seed else [],
        user=args.user,
        password=args.password,
        feature_type=args.feature_type,
        crs=args.crs,
    )
    server = IQGeoSimulatorServer(simulator, host=args.host, port=args.port, verbose=args.verbose)
    serve(server, f"IQGeo simulator on {server.url} with {len(simulator.features)} features")


if __name__ == "__main__":
    main()
