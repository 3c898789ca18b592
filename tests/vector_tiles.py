"""Web Mercator tile arithmetic and MVT decoding for the tile tests (independent of oanm's code)."""

import math

import mapbox_vector_tile

EXTENT = 4096


def mercator_fraction(lon: float, lat: float) -> tuple[float, float]:
    """(x, y) of a point as a fraction of the world square, y growing southwards."""
    x = (lon + 180) / 360
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
    return x, y


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The z/x/y of the tile that holds the point."""
    fx, fy = mercator_fraction(lon, lat)
    n = 2**z
    return z, int(fx * n), int(fy * n)


def position_in_tile(lon: float, lat: float, z: int, x: int, y: int) -> tuple[float, float]:
    """Where the point falls inside tile z/x/y, in tile units (0–4096, y down)."""
    fx, fy = mercator_fraction(lon, lat)
    n = 2**z
    return (fx * n - x) * EXTENT, (fy * n - y) * EXTENT


def decode(content: bytes) -> dict:
    """The tile's layers, with coordinates as stored (y down)."""
    return mapbox_vector_tile.decode(content, default_options={"y_coord_down": True})


def features(content: bytes, layer: str) -> list[dict]:
    return decode(content).get(layer, {}).get("features", [])


def tile_url(kind: str, z: int, x: int, y: int) -> str:
    return f"/tiles/{kind}/{z}/{x}/{y}.pbf"
