"""A stand-in for a VETRO FiberMap server (API v2) on 127.0.0.1 (tests and demo), seeded from
a file.

The VETRO shape (VENDOR_APIS.md): an API token in a request header named `token`; every
answer wrapped as `{"success": true, "result": …}` (a failure: a non-200 code and
`{"success": false, "message": …}`); required values in the path, optional ones in the
query string; POST/PATCH bodies are raw JSON. Routes:

- `GET /v2/plans`: the plans (neighbourhoods of the project) `[{"id", "label", …}]`;
- `GET /v2/layers`: the layers `[{"id", "label", "geometry_type", "fields"}]`;
- `GET /v2/features/{layer_id}?plan_ids=1,2&limit=&offset=&modified_since=`: a GeoJSON
  FeatureCollection of the layer's features with `total`, `limit`, `offset` and
  `next_offset` (VETRO's paging is not public: this limit/offset shape is assumed, see
  docs/vetro.md); each feature carries `"x-vetro": {"vetro_id", "layer_id", "plan_id",
  "modified"}`; `modified_since` keeps those modified at or after it;
- `GET /v2/export/plan/{plan_id}/geojson`: every feature of a plan (unpaged);
- `POST /v2/features`: create features (an array of GeoJSON Features with `x-vetro`
  `layer_id` and `plan_id`); `PATCH /v2/features`: update properties of features named by
  `x-vetro.vetro_id` (the given properties are merged; `modified` is stamped).

It can be told to misbehave, in Python (`fail`) or over HTTP (`POST /_sim/fail` with JSON
`{"mode": …, "count": N, "after": K}`: after K more requests, the next N requests …):
`error` answer 500; `throttle` answer 429 (too many requests); `timeout` answer late
(`delay` seconds); `malformed` send broken JSON; `unsuccessful` answer 200 with
`{"success": false}`; `expire` expire the token (every later request gets 401 until
`renew_token()` or `POST /_sim/renew` issues a new one); `shift` insert a new service
location at the front before answering (a page that changes mid-paging).

`python -m integrations.vetro.simulator --port 8972 --seed data/berlin-wedding/addresses.geojson`
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from integrations.simulation import JSONSimulator, SimulatorHTTPServer, arguments, serve

FEATURES_PATH = re.compile(r"^/v2/features/(\d+)$")
EXPORT_PATH = re.compile(r"^/v2/export/plan/(\d+)/geojson$")
MODES = ("error", "throttle", "timeout", "malformed", "unsuccessful", "expire", "shift")
LAYER_ID = 7
PLANS = ({"id": 1, "label": "Wedding West"}, {"id": 2, "label": "Wedding Ost"})
WEST_OF = 13.343  # the demo town's plans: west and east of this longitude (about half each)
SEED_NAMESPACE = uuid.UUID("5b0f3c1e-7a52-4d2e-9c41-0e5f3a7d2b10")
FIELDS = (
    "ID",
    "Address",
    "Street",
    "House Number",
    "Unit",
    "Postal Code",
    "City",
    "Country",
    "House ID",
    "Building Type",
    "Drop Type",
    "Build",
    "Drop Installed",
    "ONT Installed",
    "Installation Status",
    "Service Status",
    "Service Type",
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def vetro_properties(osm: dict[str, Any], number: int) -> dict[str, Any]:
    """The demo town's OSM address properties as a VETRO service location's fields."""
    street = osm.get("street") or ""
    house = str(osm.get("housenumber") or "").strip()
    postcode, city = osm.get("postcode") or "", osm.get("city") or ""
    return {
        "ID": f"SL-{number:06d}",
        "Address": f"{street} {house}, {postcode} {city}".strip(" ,"),
        "Street": street,
        "House Number": house,
        "Unit": osm.get("unit") or "",
        "Postal Code": postcode,
        "City": city,
        "Country": osm.get("country") or "",
        "House ID": osm.get("id") or "",
        "Building Type": "MDU" if osm.get("building") in ("apartments", "residential") else "SFU",
        "Drop Type": "Underground",
        "Build": "Yes",
        "Drop Installed": "No",
        "ONT Installed": "No",
    }


def seed_from_file(path: str | Path) -> list[dict[str, Any]]:
    """Service locations from a GeoJSON file: the demo town's OSM addresses become VETRO
    fields; a file whose features already have a `Street` or `Address` field is taken as is.
    A plan is chosen by longitude (west / east) unless the feature's `x-vetro` names one."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    features = []
    for number, feature in enumerate(data["features"], start=1):
        properties = dict(feature.get("properties") or {})
        if "Street" not in properties and "Address" not in properties:
            properties = vetro_properties(properties, number)
        geometry = feature.get("geometry")
        plan_id = (feature.get("x-vetro") or {}).get("plan_id")
        if plan_id is None:
            lon = (geometry or {}).get("coordinates", [0])[0] if geometry else 0
            west = isinstance(lon, int | float) and lon < WEST_OF
            plan_id = PLANS[0]["id"] if west else PLANS[1]["id"]
        # The same seed gives the same ids on every start (a demo restarted stays linked).
        key = (feature.get("x-vetro") or {}).get("vetro_id") or str(
            uuid.uuid5(SEED_NAMESPACE, f"{number}:{properties.get('House ID', '')}")
        )
        features.append(
            {"geometry": geometry, "properties": properties, "plan_id": plan_id, "vetro_id": key}
        )
    return features


class VetroSimulator(JSONSimulator):
    """An in-memory VETRO feature store with a token and a failure switchboard."""

    MODES = MODES

    def __init__(
        self,
        features: list[dict[str, Any]] | None = None,
        *,
        token: str = "vetro-test-token",  # noqa: S107 — a test stand-in
        layer_id: int = LAYER_ID,
        delay: float = 1.0,
    ):
        super().__init__(delay=delay)
        self.token, self.layer_id = token, layer_id
        self.expired: set[str] = set()
        self.features: list[dict[str, Any]] = []  # in paging order
        self.patches: list[dict[str, Any]] = []  # every feature update received, in order
        for feature in features or []:
            self.add(
                feature["geometry"],
                feature["properties"],
                plan_id=feature.get("plan_id", 1),
                vetro_id=feature.get("vetro_id"),
            )

    # --- the store (tests change it through these) ---------------------------------------
    def add(
        self,
        geometry: Any,
        properties: dict[str, Any],
        *,
        plan_id: int = 1,
        front: bool = False,
        vetro_id: str | None = None,
    ) -> str:
        feature = {
            "vetro_id": vetro_id or str(uuid.uuid4()),
            "plan_id": plan_id,
            "layer_id": self.layer_id,
            "geometry": geometry,
            "properties": dict(properties),
            "modified": now_iso(),
        }
        if front:
            self.features.insert(0, feature)
        else:
            self.features.append(feature)
        return feature["vetro_id"]

    def get(self, vetro_id: str) -> dict[str, Any]:
        return next(f for f in self.features if f["vetro_id"] == vetro_id)

    def update(self, vetro_id: str, **changes: Any) -> None:
        """Change fields (keyword names with `_` for spaces, or a `fields=` dict, and
        `geometry=`) of a feature, as a user in VETRO would; stamps its modified time."""
        with self.lock:
            feature = self.get(vetro_id)
            if "geometry" in changes:
                feature["geometry"] = changes.pop("geometry")
            fields = changes.pop("fields", {})
            fields.update({name.replace("_", " "): value for name, value in changes.items()})
            feature["properties"].update(fields)
            feature["modified"] = now_iso()

    def renew_token(self) -> str:
        """Issue a new token (the old one stays expired)."""
        with self.lock:
            self.token = f"vetro-{secrets.token_hex(8)}"
            return self.token

    # --- HTTP (see integrations.simulation.JSONSimulator) ---------------------------------
    def _misbehave(self, mode: str):
        if mode == "error":
            return self._refuse(500, "simulated internal error")
        if mode == "throttle":
            return self._refuse(429, "rate limit exceeded")
        if mode == "unsuccessful":
            return self._refuse(200, "simulated refusal")
        if mode == "expire":
            with self.lock:
                self.expired.add(self.token)
                self.token = ""
        if mode == "shift":
            with self.lock:
                self.add(
                    {"type": "Point", "coordinates": [13.35, 52.55]},
                    {"ID": "SL-NEW", "Street": "Neue Straße", "House Number": "1",
                     "Postal Code": "13353", "City": "Berlin", "Country": "DE"},
                    front=True,
                )  # fmt: skip
        return None

    @classmethod
    def _ok(cls, result: Any):
        return cls._reply(200, {"success": True, "result": result})

    @classmethod
    def _refuse(cls, status: int, message: str):
        return cls._reply(status, {"success": False, "message": message})

    def _route(self, method: str, url, headers: dict[str, str], body: bytes):
        token = headers.get("token", "")
        if token and token in self.expired:
            return self._refuse(401, "token expired")
        if not token or token != self.token:
            return self._refuse(401, "invalid or missing token")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if method == "GET" and url.path == "/v2/plans":
            return self._ok([{**plan, "project_id": 1} for plan in PLANS])
        if method == "GET" and url.path == "/v2/layers":
            layer = {"id": self.layer_id, "label": "Service Locations", "geometry_type": "Point"}
            return self._ok([{**layer, "fields": list(FIELDS)}])
        match = FEATURES_PATH.match(url.path)
        if method == "GET" and match:
            return self._features(int(match.group(1)), query)
        match = EXPORT_PATH.match(url.path)
        if method == "GET" and match:
            with self.lock:
                selected = [f for f in self.features if f["plan_id"] == int(match.group(1))]
            features = [self._feature(f) for f in selected]
            return self._ok({"type": "FeatureCollection", "features": features})
        if url.path == "/v2/features" and method in ("POST", "PATCH"):
            try:
                features = json.loads(body or b"null")
            except ValueError:
                return self._refuse(400, "the body is not JSON")
            if not isinstance(features, list):
                return self._refuse(400, "the body must be an array of GeoJSON features")
            return self._create(features) if method == "POST" else self._patch(features)
        return self._refuse(404, f"no route {method} {url.path}")

    def _features(self, layer_id: int, query: dict[str, str]):
        if layer_id != self.layer_id:
            return self._refuse(404, f"no layer {layer_id}")
        try:
            limit = int(query.get("limit", 1000))
            offset = int(query.get("offset", 0))
            plans = {int(p) for p in query.get("plan_ids", "").split(",") if p.strip()}
        except ValueError:
            return self._refuse(400, "limit, offset and plan_ids must be integers")
        with self.lock:
            selected = list(self.features)
        if plans:
            selected = [f for f in selected if f["plan_id"] in plans]
        since = query.get("modified_since")
        if since:
            selected = [f for f in selected if f["modified"] >= since]
        page = selected[offset : offset + limit]
        more = offset + limit < len(selected)
        return self._ok(
            {
                "type": "FeatureCollection",
                "features": [self._feature(f) for f in page],
                "total": len(selected),
                "limit": limit,
                "offset": offset,
                "next_offset": offset + limit if more else None,
            }
        )

    def _create(self, features: list[Any]):
        created = []
        with self.lock:
            for feature in features:
                meta = (feature or {}).get("x-vetro") or {}
                if meta.get("layer_id") != self.layer_id or "plan_id" not in meta:
                    return self._refuse(400, "each feature needs x-vetro layer_id and plan_id")
                created.append(
                    self.add(
                        feature.get("geometry"),
                        feature.get("properties") or {},
                        plan_id=meta["plan_id"],
                    )
                )
        return self._ok({"created": created})

    def _patch(self, features: list[Any]):
        with self.lock:
            known = {f["vetro_id"]: f for f in self.features}
            ids = [((f or {}).get("x-vetro") or {}).get("vetro_id") for f in features]
            unknown = [i for i in ids if i not in known]
            if unknown:
                return self._refuse(404, f"no feature with vetro_id {unknown[0]}")
            for vetro_id, feature in zip(ids, features, strict=True):
                properties = feature.get("properties") or {}
                if not isinstance(properties, dict):
                    return self._refuse(400, "properties must be an object")
                known[vetro_id]["properties"].update(properties)
                known[vetro_id]["modified"] = now_iso()
                self.patches.append({"vetro_id": vetro_id, "properties": properties})
        return self._ok({"updated": ids})

    @staticmethod
    def _feature(feature: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "Feature",
            "geometry": feature["geometry"],
            "properties": feature["properties"],
            "x-vetro": {
                "vetro_id": feature["vetro_id"],
                "layer_id": feature["layer_id"],
                "plan_id": feature["plan_id"],
                "modified": feature["modified"],
            },
        }

    def _control_extra(self, method: str, path: str, body: bytes):
        if method == "POST" and path == "/_sim/renew":
            return self._reply(200, {"token": self.renew_token()})
        return None


class VetroSimulatorServer(SimulatorHTTPServer):
    """The simulator behind an HTTP server on 127.0.0.1 (port 0: any free port)."""

    methods = ("GET", "POST", "PATCH")
    thread_name = "vetro-sim"
    simulator: VetroSimulator


def main(argv: list[str] | None = None) -> None:
    parser = arguments("Serve the VETRO simulator until interrupted.", port=8972)
    parser.add_argument("--token", default="vetro-test-token")
    parser.add_argument("--layer-id", type=int, default=LAYER_ID)
    args = parser.parse_args(argv)
    simulator = VetroSimulator(
        seed_from_file(args.seed) if args.seed else [], token=args.token, layer_id=args.layer_id
    )
    server = VetroSimulatorServer(simulator, host=args.host, port=args.port, verbose=args.verbose)
    serve(
        server,
        f"VETRO simulator on {server.url} with {len(simulator.features)} service locations "
        f"(layer {simulator.layer_id}, token {simulator.token!r})",
    )


if __name__ == "__main__":
    main()
