"""The address tile endpoint: /tiles/addresses/{z}/{x}/{y}.pbf (owner staff only)."""

from accounts.permissions import IsOwnerStaff
from common.tiles import TileView, tile_schema
from gis_core.tiles import address_tile


class AddressTileView(TileView):
    """Addresses as Mapbox Vector Tiles: points from zoom 14, status-counted cells below."""

    permission_classes = [IsOwnerStaff]

    @tile_schema(
        "tile_addresses",
        summary="Address vector tile",
        description=(
            "Layer `addresses`. From zoom 14 one point per address (id, status, premises_type,"
            " units, area_id, label); below, one point per grid cell of 1/16 tile with count,"
            " homes, a count per status and the dominant status."
        ),
    )
    def get(self, request, z: int, x: int, y: int):
        return super().get(request, z, x, y)

    def make_tile(self, request, z: int, x: int, y: int) -> bytes:
        return address_tile(z, x, y)
