"""IQGeo address features → oanm address rows (pure functions, no database).

| oanm            | IQGeo address property                                             |
|-----------------|--------------------------------------------------------------------|
| external_id     | the feature `id`                                                   |
| street          | streetName (+ " " + streetSuffix when there is one)                |
| house_number    | streetNr + streetNrSuffix, "-" streetNrLast + streetNrLastSuffix   |
| unit            | unit                                                               |
| postcode / city | postcode / city                                                    |
| country         | country (upper-cased; a two-letter code)                           |
| location        | the Point geometry, transformed from the collection's CRS to 4326 |

A feature is rejected (with its reason) when it has no id, no Point geometry, a geometry
that is invalid or out of range after the transform, or no street name. The properties
named in `extra_properties` are copied into the address's `attributes` (an absent or empty
one removes the stored key). Everything else an address has (status, premises type, units,
commercial state) is oanm's and is never in a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.errors import DomainError
from gis_core.geometry import point_lon_lat, srid_from_crs

ADDRESS_COLUMNS = ("external_id", "street", "house_number", "unit", "postcode", "city", "country")


@dataclass(frozen=True)
class Rejected:
    external_id: str
    reason: str


def _text(properties: dict[str, Any], name: str) -> str:
    value = properties.get(name)
    return "" if value is None else str(value).strip()


def house_number(properties: dict[str, Any]) -> str:
    first = _text(properties, "streetNr") + _text(properties, "streetNrSuffix")
    last = _text(properties, "streetNrLast") + _text(properties, "streetNrLastSuffix")
    return f"{first}-{last}" if first and last else first


def map_feature(
    feature: dict[str, Any], *, crs: Any = None, extra_properties: tuple[str, ...] = ()
) -> dict[str, Any] | Rejected:
    """One IQGeo feature → a GeoJSON feature in EPSG:4326 with oanm's property names, or
    the reason it is rejected. `crs` is the collection's `crs` member (None: EPSG:4326)."""
    external_id = "" if feature.get("id") is None else str(feature["id"]).strip()
    if not external_id:
        return Rejected("", "missing feature id")
    properties = feature.get("properties") or {}
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or not geometry.get("coordinates"):
        return Rejected(external_id, "no geometry")
    if geometry.get("type") != "Point":
        return Rejected(external_id, f"not a point: expected a Point, got a {geometry.get('type')}")
    try:
        lon, lat = point_lon_lat(geometry, crs=srid_from_crs(crs))
    except DomainError as exc:
        return Rejected(external_id, str(exc))
    street = " ".join(
        part
        for part in (_text(properties, "streetName"), _text(properties, "streetSuffix"))
        if part
    )
    if not street:
        return Rejected(external_id, "missing street (streetName)")
    row = {
        "external_id": external_id,
        "street": street,
        "house_number": house_number(properties),
        "unit": _text(properties, "unit"),
        "postcode": _text(properties, "postcode"),
        "city": _text(properties, "city"),
        "country": _text(properties, "country").upper(),
    }
    for name in extra_properties:
        if name in ADDRESS_COLUMNS or name in ("premises_type", "units"):
            continue  # never let an extra property pose as an address field
        value = properties.get(name)
        row[name] = None if value in (None, "") else str(value)
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": row,
    }


def map_features(
    features: list[dict[str, Any]], *, crs: Any = None, extra_properties: tuple[str, ...] = ()
) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """A page of features → (rows to stage, rejections)."""
    rows, rejected = [], []
    for feature in features:
        mapped = map_feature(feature, crs=crs, extra_properties=extra_properties)
        (rejected if isinstance(mapped, Rejected) else rows).append(mapped)
    return rows, rejected
