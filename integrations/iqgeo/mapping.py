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
| circuit_ref     | circuit (a reference: the URN `circuit/17` as given, or a bare id) |
| circuit_name    | circuitName                                                        |

The two circuit property names are settings (`IQGEO_CIRCUIT_PROPERTY`,
`IQGEO_CIRCUIT_NAME_PROPERTY`). A reference set (a list of URNs) gives its first one. An
address with no circuit property gets empty circuit fields: IQGeo owns the link.

A feature is rejected (with its reason) when it has no id, no Point geometry, a geometry
that is invalid or out of range after the transform, or no street name. The properties
named in `extra_properties` are copied into the address's `attributes` (an absent or empty
one removes the stored key). Everything else an address has (status, premises type, units,
commercial state) is oanm's and is never in a row.
"""

from __future__ import annotations

from typing import Any

from integrations.gis_sync import Rejected, feature_point, text

ADDRESS_COLUMNS = (
    "external_id",
    "street",
    "house_number",
    "unit",
    "postcode",
    "city",
    "country",
    "circuit_ref",
    "circuit_name",
)
CIRCUIT_PROPERTIES = ("circuit", "circuitName")  # IQGeo's (reference, name) by default


def circuit_properties() -> tuple[str, str]:
    """The IQGeo properties holding an address's circuit reference and name (settings)."""
    from django.conf import settings

    return (
        getattr(settings, "IQGEO_CIRCUIT_PROPERTY", "") or CIRCUIT_PROPERTIES[0],
        getattr(settings, "IQGEO_CIRCUIT_NAME_PROPERTY", "") or CIRCUIT_PROPERTIES[1],
    )


_text = text


def house_number(properties: dict[str, Any]) -> str:
    first = _text(properties, "streetNr") + _text(properties, "streetNrSuffix")
    last = _text(properties, "streetNrLast") + _text(properties, "streetNrLastSuffix")
    return f"{first}-{last}" if first and last else first


def circuit(properties: dict[str, Any], names: tuple[str, str]) -> tuple[str, str]:
    """(reference, name) of the circuit an address feature links, ("", "") for none."""
    reference = properties.get(names[0])
    if isinstance(reference, list | tuple):
        reference = next((item for item in reference if item not in (None, "")), None)
    if isinstance(reference, dict):  # an expanded reference: {"id": …, "name": …}
        name = reference.get("name")
        reference = reference.get("urn") or reference.get("id")
    else:
        name = None
    reference = "" if reference is None else str(reference).strip()
    name = _text(properties, names[1]) or ("" if name is None else str(name).strip())
    return (reference, name) if reference or name else ("", "")


def map_feature(
    feature: dict[str, Any],
    *,
    crs: Any = None,
    extra_properties: tuple[str, ...] = (),
    circuit_names: tuple[str, str] | None = None,
) -> dict[str, Any] | Rejected:
    """One IQGeo feature → a GeoJSON feature in EPSG:4326 with oanm's property names, or
    the reason it is rejected. `crs` is the collection's `crs` member (None: EPSG:4326);
    `circuit_names` the circuit's (reference, name) properties (None: the settings)."""
    external_id = "" if feature.get("id") is None else str(feature["id"]).strip()
    if not external_id:
        return Rejected("", "missing feature id")
    properties = feature.get("properties") or {}
    point = feature_point(external_id, feature.get("geometry"), crs=crs)
    if isinstance(point, Rejected):
        return point
    lon, lat = point
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
    row["circuit_ref"], row["circuit_name"] = circuit(
        properties, circuit_names or circuit_properties()
    )
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
    features: list[dict[str, Any]],
    *,
    crs: Any = None,
    extra_properties: tuple[str, ...] = (),
    circuit_names: tuple[str, str] | None = None,
) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """A page of features → (rows to stage, rejections)."""
    rows, rejected = [], []
    circuit_names = circuit_names or circuit_properties()
    for feature in features:
        mapped = map_feature(
            feature, crs=crs, extra_properties=extra_properties, circuit_names=circuit_names
        )
        (rejected if isinstance(mapped, Rejected) else rows).append(mapped)
    return rows, rejected
