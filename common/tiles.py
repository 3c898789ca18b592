"""Plumbing every Mapbox Vector Tile endpoint shares (ARCHITECTURE.md: tiles made by PostGIS).

The apps write the SQL (`ST_AsMVT` over `ST_TileEnvelope`, in EPSG:3857); this module checks
the tile address, runs the query the same way everywhere, and answers over HTTP:

- `200` with `Content-Type: application/vnd.mapbox-vector-tile` and the tile's bytes;
- `204 No Content` for a tile with no features (MapLibre, OpenLayers, Leaflet.VectorGrid
  and QGIS all treat it as an empty tile), with the same caching headers;
- `Cache-Control: private, max-age=60` (the state behind a tile changes), a strong ETag
  (a hash of the bytes) and `304 Not Modified` when `If-None-Match` names it;
- `404` with a JSON message for a tile address outside the pyramid (z 0–22, x/y < 2^z).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from common.errors import DomainError

CONTENT_TYPE = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "private, max-age=60"
MAX_ZOOM = 22
EXTENT = 4096  # tile coordinate units per tile side (ST_AsMVT's default)
BUFFER = 64  # units kept beyond the tile's edge, so symbols are not cut at tile borders
MARGIN = BUFFER / EXTENT  # the same buffer as a share of the tile, for ST_TileEnvelope
NO_PARALLEL_QUERY = "SET LOCAL max_parallel_workers_per_gather = 0"
# Half the width of the Web Mercator square (EPSG:3857), in metres.
WORLD_HALF_WIDTH = 20037508.342789244


class TileOutOfRange(DomainError):
    """A tile address outside the pyramid: z beyond 0–22, or x/y beyond 0 … 2^z − 1."""

    code = "tile_out_of_range"
    status_code = 404


def check_tile(z: int, x: int, y: int) -> None:
    """Raise `TileOutOfRange`, saying what is wrong, unless z/x/y names a tile."""
    if not 0 <= z <= MAX_ZOOM:
        raise TileOutOfRange(f"zoom {z} is outside 0–{MAX_ZOOM}")
    size = 1 << z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < size:
            raise TileOutOfRange(f"{name} {value} is outside 0–{size - 1} at zoom {z}")


def tile_size(z: int) -> float:
    """Width of a tile at zoom z, in EPSG:3857 metres."""
    return 2 * WORLD_HALF_WIDTH / (1 << z)


def tile_query(sql: str, params: Mapping[str, Any], *, model: type | None = None) -> bytes:
    """Run one `SELECT ST_AsMVT(…)` and return the tile's bytes (b"" when it has no features).

    `model` names the main table read, so a database router can send tiles to a read
    replica (docs/scaling.md). Parallel query made tiles erratic (25–65 ms spikes instead
    of a steady ~5 ms), so it is switched off for the tile's transaction (inside an outer
    transaction, until that one ends). With client-side binding (Django's default for
    psycopg 3) the setting and the query go as one simple-protocol message, which
    PostgreSQL runs as one implicit transaction: one round trip instead of four (BEGIN,
    SET LOCAL, SELECT, COMMIT).
    """
    alias = router.db_for_read(model) if model is not None else DEFAULT_DB_ALIAS
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
            with transaction.atomic(using=alias):
                cursor.execute(NO_PARALLEL_QUERY)
                cursor.execute(sql, params)
                row = cursor.fetchone()
        else:
            cursor.execute(f"{NO_PARALLEL_QUERY}; {sql}", params)
            cursor.nextset()
            row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""


def tile_etag(data: bytes) -> str:
    """A strong ETag for the tile's bytes."""
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


def tile_response(request, data: bytes) -> HttpResponse:
    """The tile over HTTP: 200 with the bytes, 204 when empty, 304 when the client has it."""
    etag = tile_etag(data)
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match:
        wanted = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
        if "*" in wanted or etag in wanted:
            # no Content-Type: a cache updates its stored tile's headers from a 304's
            return _with_cache_headers(HttpResponseNotModified(), etag)
    if data:
        response = HttpResponse(data, content_type=CONTENT_TYPE)
    else:
        response = HttpResponse(status=204)
        del response["Content-Type"]
    return _with_cache_headers(response, etag)


def _with_cache_headers(response: HttpResponse, etag: str) -> HttpResponse:
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    # what a tile shows depends on who asks
    patch_vary_headers(response, ("Authorization", "Cookie"))
    return response


class AnyAcceptNegotiation(BaseContentNegotiation):
    """Tiles are bytes whatever the client accepts; errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def tile_schema(operation_id: str, summary: str, description: str, parameters: list | None = None):
    """The OpenAPI description every tile endpoint shares."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        parameters=parameters or [],
        responses={
            (200, CONTENT_TYPE): OpenApiTypes.BINARY,
            204: OpenApiResponse(description="The tile has no features."),
            304: OpenApiResponse(description="Not modified (If-None-Match)."),
            401: OpenApiResponse(description="Not signed in and no API token."),
            403: OpenApiResponse(description="Not the network owner's staff."),
            404: OpenApiResponse(description="z/x/y outside the tile pyramid."),
        },
        tags=["tiles"],
    )


class TileView(APIView):
    """A GET-only Mapbox Vector Tile endpoint at …/{z}/{x}/{y}.pbf.

    Subclasses set `permission_classes` and implement `make_tile`, which returns the bytes
    of `ST_AsMVT` (usually through `tile_query`). Authentication is the API's (session or
    API token), so anonymous callers get 401 and others the permission's 403, never a
    redirect to a login page.
    """

    http_method_names = ["get", "head", "options"]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AnyAcceptNegotiation

    def make_tile(self, request, z: int, x: int, y: int) -> bytes:
        raise NotImplementedError

    def get(self, request, z: int, x: int, y: int):
        check_tile(z, x, y)
        return tile_response(request, self.make_tile(request, z, x, y))
