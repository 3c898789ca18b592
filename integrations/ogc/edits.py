"""Part 4 writes of the `areas` collection: a GeoJSON feature in, the areas services do the work.

Optimistic locking: an area's ETag is its id and the instant of its last change; a write
with `If-Match` is refused (412) unless it names the current ETag, checked under the row
lock the write then holds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction

from areas.models import Area
from areas.services import area_create, area_delete, area_reshape, area_update
from integrations.ogc import collections as ogc
from integrations.ogc.errors import OgcError, bad_parameter, not_found

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WRITABLE = {"code", "name", "target_take_rate"}
# Read-only properties a client may send back as it read them (QGIS does): ignored.
READ_ONLY = {name for name, _ in ogc.AREAS.properties} - WRITABLE


def etag(feature_id: int, updated_at: datetime | str) -> str:
    if isinstance(updated_at, str):
        updated_at = datetime.fromisoformat(updated_at)
    return f'"{feature_id}-{(updated_at - EPOCH) // timedelta(microseconds=1)}"'


def _swap(coordinates):
    if coordinates and isinstance(coordinates[0], int | float):
        return [coordinates[1], coordinates[0], *coordinates[2:]]
    return [_swap(part) for part in coordinates]


def _feature(body: Any, *, crs: str) -> tuple[dict | None, dict]:
    """(geometry as GeoJSON in lon/lat order or None, writable properties) of a feature body."""
    if not isinstance(body, dict) or body.get("type") != "Feature":
        raise bad_parameter('the body must be a GeoJSON Feature ({"type": "Feature", …})')
    properties = body.get("properties") or {}
    if not isinstance(properties, dict):
        raise bad_parameter("the feature's properties must be an object")
    unknown = sorted(set(properties) - WRITABLE - READ_ONLY)
    if unknown:
        raise bad_parameter(
            f"unknown property {unknown[0]!r}; an area takes {', '.join(sorted(WRITABLE))}"
        )
    geometry = body.get("geometry")
    if geometry is not None:
        if not isinstance(geometry, dict) or "coordinates" not in geometry:
            raise bad_parameter("the feature's geometry must be a GeoJSON geometry")
        if crs == ogc.EPSG4326:  # lat/lon as EPSG defines it → lon/lat
            geometry = {**geometry, "coordinates": _swap(geometry["coordinates"])}
    return geometry, {k: v for k, v in properties.items() if k in WRITABLE}


def _srid(crs: str) -> int:
    return 3857 if crs == ogc.EPSG3857 else 4326


def _locked(feature_id: int, if_match: str | None) -> Area:
    area = Area.objects.select_for_update().filter(pk=feature_id, deleted_at__isnull=True).first()
    if area is None:
        raise not_found(f"no feature {feature_id} in areas")
    if if_match is not None and if_match.strip() != "*":
        current = etag(area.pk, area.updated_at)
        if current not in [tag.strip() for tag in if_match.split(",")]:
            raise OgcError(
                412,
                "PreconditionFailed",
                f"the area changed since it was read (If-Match {if_match}, now {current})",
            )
    return area


@transaction.atomic
def ogc_area_create(*, body: Any, crs: str) -> Area:
    """POST: a new area from a feature with a geometry and at least a code."""
    geometry, properties = _feature(body, crs=crs)
    if geometry is None:
        raise bad_parameter("a new area needs a geometry (a Polygon or MultiPolygon)")
    if not properties.get("code"):
        raise bad_parameter("a new area needs the property code")
    return area_create(
        code=str(properties["code"]),
        name=str(properties.get("name") or properties["code"]),
        boundary=geometry,
        crs=_srid(crs),
        **(
            {"target_take_rate": properties["target_take_rate"]}
            if properties.get("target_take_rate") is not None
            else {}
        ),
    )


@transaction.atomic
def ogc_area_change(
    *, feature_id: int, body: Any, crs: str, if_match: str | None, replace: bool, actor
) -> Area:
    """PUT (`replace`: geometry and name required) or PATCH (what is given) of an area."""
    area = _locked(feature_id, if_match)
    geometry, properties = _feature(body, crs=crs)
    if "code" in properties and properties["code"] != area.code:
        raise bad_parameter(f"the code of area {area.code} cannot change")
    if replace and (geometry is None or not properties.get("name")):
        raise bad_parameter("a replacement (PUT) needs the geometry and the name")
    if not area.is_active:
        raise OgcError(409, "Conflict", f"area {area.code} was split; edit its parts instead")
    if geometry is not None:
        area = area_reshape(area=area, boundary=geometry, crs=_srid(crs))
    if "name" in properties or properties.get("target_take_rate") is not None:
        area = area_update(
            area=area,
            name=None if properties.get("name") is None else str(properties["name"]),
            target_take_rate=properties.get("target_take_rate"),
            actor=actor,
        )
    return area


@transaction.atomic
def ogc_area_delete(*, feature_id: int, if_match: str | None, actor) -> Area:
    """DELETE: a planning area is retired (`areas.services.area_delete`); afterwards the
    collection no longer has it (404). An area past planning, split, or with standing
    signups is refused with 409 and the reason."""
    area = _locked(feature_id, if_match)
    return area_delete(area=area, actor=actor, reason="deleted through the OGC API")
