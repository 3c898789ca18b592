"""Geometry at the edge: parse input, honour its CRS, transform to 4326, validate with a reason."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.gis.gdal import CoordTransform, GDALException, SpatialReference
from django.contrib.gis.geos import GEOSException, GEOSGeometry, MultiPolygon, Point, Polygon

from common.errors import InvalidGeometry

WGS84 = 4326
# GeoJSON's default CRS, with lon/lat order; the same as EPSG:4326 as PostGIS stores it.
CRS84_NAMES = {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "CRS84", "OGC:CRS84"}


def srid_from_crs(crs: Any) -> int:
    """An SRID from an EPSG code, an 'EPSG:25833' string, an OGC URN or a GeoJSON `crs` member."""
    if crs is None or crs == "":
        return WGS84
    if isinstance(crs, int):
        return crs
    if isinstance(crs, dict):
        crs = (crs.get("properties") or {}).get("name", "")
    text = str(crs).strip()
    if text in CRS84_NAMES or text.upper().endswith("CRS84"):
        return WGS84
    if text.isdigit():
        return int(text)
    tail = text.replace("::", ":").rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    if tail.isdigit() and "EPSG" in text.upper():
        return int(tail)
    raise InvalidGeometry(f"unknown coordinate reference system {text!r}", field="crs")


def check_lon_lat(geometry: GEOSGeometry) -> None:
    """Refuse coordinates outside lon −180..180, lat −90..90 (a swapped or projected input)."""
    xmin, ymin, xmax, ymax = geometry.extent
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise InvalidGeometry(
            f"coordinates out of range for EPSG:4326"
            f" (lon {xmin:g}..{xmax:g}, lat {ymin:g}..{ymax:g}):"
            " lon must be within -180..180 and lat within -90..90; give the CRS if it is projected",
            field="geometry",
        )


def to_wgs84(geometry: GEOSGeometry, source_srid: int) -> GEOSGeometry:
    """Transform a geometry from `source_srid` to EPSG:4326 (lon/lat order) with PROJ."""
    if source_srid == WGS84:
        geometry.srid = WGS84
        return geometry
    try:
        source = SpatialReference(source_srid)
        target = SpatialReference(WGS84)
        # Traditional GIS order (x = lon) whatever the CRS definition says.
        source.axis_order = target.axis_order = _traditional_axis_order()
        geometry = geometry.clone()
        geometry.srid = source_srid
        geometry.transform(CoordTransform(source, target))
    except (GDALException, GEOSException) as exc:
        raise InvalidGeometry(
            f"cannot transform from EPSG:{source_srid}: {exc}", field="crs"
        ) from exc
    geometry.srid = WGS84
    return geometry


def _traditional_axis_order():
    from django.contrib.gis.gdal.srs import AxisOrder

    return AxisOrder.TRADITIONAL


def parse_geometry(value: Any, *, crs: Any = None) -> GEOSGeometry:
    """Any geometry input (GeoJSON dict/text, WKT, EWKT, GEOS) → a GEOS geometry in 4326.

    The CRS comes from `crs`, else a GeoJSON `crs` member or an EWKT SRID, else 4326.
    """
    srid = None if crs is None else srid_from_crs(crs)
    try:
        if isinstance(value, GEOSGeometry):
            geometry = value.clone()
        elif isinstance(value, dict):
            if value.get("type") == "Feature":
                value = value.get("geometry")
                if value is None:
                    raise InvalidGeometry("the feature has no geometry", field="geometry")
            if srid is None and "crs" in value:
                srid = srid_from_crs(value["crs"])
            geometry = GEOSGeometry(json.dumps({k: v for k, v in value.items() if k != "crs"}))
        elif isinstance(value, str | bytes):
            text = value.decode() if isinstance(value, bytes) else value
            if text.lstrip().startswith("{"):
                return parse_geometry(json.loads(text), crs=crs)
            geometry = GEOSGeometry(text)
        else:
            raise InvalidGeometry(f"unsupported geometry input of type {type(value).__name__}")
    except InvalidGeometry:
        raise
    except (ValueError, TypeError, GEOSException, GDALException) as exc:
        raise InvalidGeometry(f"unreadable geometry: {exc}", field="geometry") from exc
    if geometry.empty:
        raise InvalidGeometry("the geometry is empty", field="geometry")
    if srid is None:
        srid = geometry.srid or WGS84
    geometry = to_wgs84(geometry, srid)
    check_lon_lat(geometry)
    if not geometry.valid:
        raise InvalidGeometry(f"invalid geometry: {geometry.valid_reason}", field="geometry")
    return geometry


def parse_point(value: Any, *, crs: Any = None) -> Point:
    """A valid address location in 4326."""
    geometry = parse_geometry(value, crs=crs)
    if not isinstance(geometry, Point):
        raise InvalidGeometry(f"expected a Point, got a {geometry.geom_type}", field="geometry")
    return geometry


def point_lon_lat(value: Any, *, crs: Any = None) -> tuple[float, float]:
    """The (lon, lat) of a valid address location in 4326, as `parse_point` gives it.

    A GeoJSON Point already in EPSG:4326 with two (or three) finite numbers in range (what a
    sync reads by the hundred thousand) is checked in Python without building a GEOS
    geometry; anything else goes through `parse_point`, with its errors.
    """
    if isinstance(value, dict) and value.get("type") == "Point" and "crs" not in value:
        coordinates = value.get("coordinates")
        if (
            isinstance(coordinates, list | tuple)
            and len(coordinates) in (2, 3)
            and all(type(number) in (int, float) for number in coordinates)
            and (crs is None or srid_from_crs(crs) == WGS84)
        ):
            lon, lat = float(coordinates[0]), float(coordinates[1])
            if -180 <= lon <= 180 and -90 <= lat <= 90:  # False for NaN: parse_point says why
                return lon, lat
    point = parse_point(value, crs=crs)
    return point.x, point.y


def parse_multipolygon(value: Any, *, crs: Any = None) -> MultiPolygon:
    """A valid area boundary in 4326; a Polygon is promoted to a MultiPolygon."""
    geometry = parse_geometry(value, crs=crs)
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon(geometry, srid=geometry.srid)
    if not isinstance(geometry, MultiPolygon):
        raise InvalidGeometry(
            f"expected a Polygon or MultiPolygon, got a {geometry.geom_type}", field="geometry"
        )
    return geometry
