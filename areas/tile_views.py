"""Area and demand tile endpoints under /tiles/ (owner staff only: they show commercial state)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from areas.models import Area
from areas.tiles import area_tile, demand_tile
from common.errors import DomainError, NotFound
from common.tiles import TileView, tile_schema
from gis_core.tile_views import IsOwnerStaffForTiles

AREA_PARAMETER = OpenApiParameter(
    "area",
    OpenApiTypes.INT,
    description="Only the demand at this area's addresses.",
    required=False,
)


class AreaTileView(TileView):
    """Active areas with their phase and demand figures as Mapbox Vector Tiles."""

    permission_classes = [IsOwnerStaffForTiles]

    @tile_schema(
        "tile_areas",
        summary="Area vector tile",
        description=(
            "Layer `areas`: active areas (id, code, name, phase, homes, interests, orders,"
            " take_rate, interest_rate, target_take_rate, progress, ready_to_build)."
        ),
    )
    def get(self, request, z: int, x: int, y: int):
        return super().get(request, z, x, y)

    def make_tile(self, request, z: int, x: int, y: int) -> bytes:
        return area_tile(z, x, y)


class DemandTileView(TileView):
    """Live interests and orders as points (zoom 13 and up) or grid cells."""

    permission_classes = [IsOwnerStaffForTiles]

    @tile_schema(
        "tile_demand",
        summary="Demand vector tile",
        description=(
            "Layer `demand`: from zoom 13 one point per live interest or order (kind,"
            " address_id, area_id, at); below, grid cells with count, interests and orders."
        ),
        parameters=[AREA_PARAMETER],
    )
    def get(self, request, z: int, x: int, y: int):
        return super().get(request, z, x, y)

    def make_tile(self, request, z: int, x: int, y: int) -> bytes:
        return demand_tile(z, x, y, area_id=_area_id(request.query_params.get("area")))


def _area_id(value: str | None) -> int | None:
    """The `?area=` filter: an existing area's id, or None when absent."""
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise DomainError(f"area must be an area id (a number), not {value!r}", field="area")
    area_id = int(value)
    if not Area.objects.filter(pk=area_id).exists():
        raise NotFound(f"there is no area {area_id}", field="area")
    return area_id
