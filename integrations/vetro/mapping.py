"""VETRO service locations ⇄ oanm addresses (pure functions, no database).

VETRO's field names are the customer's own labels: `fields()` reads them from
`settings.VETRO_FIELDS` over these defaults (keys are oanm's names):

| oanm                | VETRO field label (default) |
|---------------------|-----------------------------|
| external_id         | `x-vetro.vetro_id` (not a field)                          |
| street              | Street (else parsed from Address "Street 10a, 13353 City") |
| house_number        | House Number                |
| unit                | Unit                        |
| postcode / city     | Postal Code / City          |
| country             | Country (upper-cased)       |
| location            | the Point geometry (VETRO serves WGS 84 / EPSG:4326)       |
| drop / ONT installed | Drop Installed / ONT Installed (read: the field's progress) |
| installation status | Installation Status (written by oanm)                    |
| service status      | Service Status (written by oanm)                         |
| service type        | Service Type (written by oanm)                           |

VETRO → oanm: `map_feature` gives a row for `gis_core.importing.import_addresses` plus the
field's progress (`FieldProgress`: drop/ONT installed), or the reason it is rejected.
oanm → VETRO: `commercial_properties(CommercialState)` gives the properties written back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from integrations.gis_sync import Rejected, feature_point, text

DEFAULT_FIELDS = {
    "street": "Street",
    "house_number": "House Number",
    "unit": "Unit",
    "postcode": "Postal Code",
    "city": "City",
    "country": "Country",
    "full_address": "Address",
    "drop_installed": "Drop Installed",
    "ont_installed": "ONT Installed",
    "installation_status": "Installation Status",
    "service_status": "Service Status",
    "service_type": "Service Type",
}
ADDRESS_COLUMNS = ("external_id", "street", "house_number", "unit", "postcode", "city", "country")
YES = {"yes", "y", "true", "1", "x", "installed", "done", "complete", "completed"}

# oanm's address status → VETRO's installation status.
INSTALLATION_STATUS = {
    "planned": "Not Installed",
    "awaiting_deployment": "Ordered",
    "in_deployment": "In Deployment",
    "connected": "Installed",
    "activated": "Installed",
}
SERVICE_ACTIVE, SERVICE_AWAITING, SERVICE_INACTIVE = "Active", "Awaiting activation", "Inactive"

_NUMBER = r"\d+\s*[A-Za-z]?(?:\s*-\s*\d+\s*[A-Za-z]?)?"
_STREET_AND_NUMBER = re.compile(rf"^(?P<street>.*?\D)\s+(?P<number>{_NUMBER})$")
_POSTCODE_AND_CITY = re.compile(r"^(?P<postcode>\d{4,5})\s+(?P<city>.+)$")


def fields() -> dict[str, str]:
    """The VETRO field labels in use: the defaults, overridden by `VETRO_FIELDS`."""
    return {**DEFAULT_FIELDS, **(getattr(settings, "VETRO_FIELDS", None) or {})}


@dataclass(frozen=True)
class FieldProgress:
    """What the field crew recorded in VETRO for a service location."""

    external_id: str
    drop_installed: bool
    ont_installed: bool

    @property
    def physically_connected(self) -> bool:
        """Drop in (an ONT cannot be in without one): the address can be connected."""
        return self.drop_installed or self.ont_installed


_text = text


def is_yes(value: Any) -> bool:
    """VETRO yes/no fields come as text ("Yes"), booleans or numbers."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in YES


def parse_full_address(text: str) -> dict[str, str]:
    """ "Föhrer Straße 10a, 13353 Berlin" → street, house_number, postcode, city (the parts
    that can be told apart; the rest stays in the street)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        return {}
    result: dict[str, str] = {"street": parts[0]}
    match = _STREET_AND_NUMBER.match(parts[0])
    if match:
        result["street"] = match.group("street").strip()
        result["house_number"] = re.sub(r"\s+", "", match.group("number"))
    for part in parts[1:]:
        match = _POSTCODE_AND_CITY.match(part)
        if match:
            result["postcode"], result["city"] = match.group("postcode"), match.group("city")
    return result


def map_feature(
    feature: dict[str, Any],
    *,
    labels: dict[str, str] | None = None,
    extra_properties: tuple[str, ...] = (),
) -> tuple[dict[str, Any], FieldProgress] | Rejected:
    """One VETRO service location → (a GeoJSON feature in EPSG:4326 with oanm's property
    names, its field progress), or the reason it is rejected."""
    labels = labels or fields()
    meta = feature.get("x-vetro") if isinstance(feature, dict) else None
    raw_id = meta.get("vetro_id") if isinstance(meta, dict) else None
    external_id = "" if raw_id is None else str(raw_id).strip()
    if not external_id:
        return Rejected("", "missing x-vetro.vetro_id")
    properties = feature.get("properties") or {}
    point = feature_point(external_id, feature.get("geometry"))
    if isinstance(point, Rejected):
        return point
    parsed = parse_full_address(_text(properties, labels["full_address"]))
    row = {"external_id": external_id}
    for name in ("street", "house_number", "unit", "postcode", "city", "country"):
        row[name] = _text(properties, labels[name]) or parsed.get(name, "")
    row["country"] = row["country"].upper()
    if not row["street"]:
        return Rejected(
            external_id, f"missing street ({labels['street']!r} or {labels['full_address']!r})"
        )
    for name in extra_properties:
        if name in ADDRESS_COLUMNS or name in ("premises_type", "units"):
            continue  # never let an extra property pose as an address field
        value = properties.get(name)
        row[name] = None if value in (None, "") else str(value)
    progress = FieldProgress(
        external_id,
        drop_installed=is_yes(properties.get(labels["drop_installed"])),
        ont_installed=is_yes(properties.get(labels["ont_installed"])),
    )
    mapped = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(point)},
        "properties": row,
    }
    return mapped, progress


def map_features(
    features: list[dict[str, Any]], *, extra_properties: tuple[str, ...] = ()
) -> tuple[list[dict[str, Any]], list[FieldProgress], list[Rejected]]:
    """A page of service locations → (rows to stage, their field progress, rejections)."""
    labels = fields()
    rows, progress, rejected = [], [], []
    for feature in features:
        mapped = map_feature(feature, labels=labels, extra_properties=extra_properties)
        if isinstance(mapped, Rejected):
            rejected.append(mapped)
        else:
            rows.append(mapped[0])
            progress.append(mapped[1])
    return rows, progress, rejected


# --- oanm → VETRO ------------------------------------------------------------------------


@dataclass(frozen=True)
class CommercialState:
    """What oanm knows commercially about an address, as it stands now."""

    address_status: str
    services: tuple[str, ...] = ()  # the live services' product names (one per unit)
    awaiting_activation: bool = False  # an order is ready for activation
    extra: dict[str, Any] = field(default_factory=dict)


def service_status(state: CommercialState) -> str:
    if state.services or state.address_status == "activated":
        return SERVICE_ACTIVE
    if state.awaiting_activation:
        return SERVICE_AWAITING
    return SERVICE_INACTIVE


def commercial_properties(
    state: CommercialState, *, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """oanm's commercial state → the VETRO properties oanm owns (installation status,
    service status, service type)."""
    labels = labels or fields()
    return {
        labels["installation_status"]: INSTALLATION_STATUS.get(state.address_status, ""),
        labels["service_status"]: service_status(state),
        labels["service_type"]: "; ".join(sorted(set(state.services))),
    }
