"""The address tile endpoint: /tiles/addresses/{z}/{x}/{y}.pbf (owner staff only)."""

from django.db.models import Prefetch, prefetch_related_objects

from accounts.models import Membership
from accounts.permissions import IsOwnerStaff
from common.tiles import TileView, tile_schema
from gis_core.tiles import address_tile


class IsOwnerStaffForTiles(IsOwnerStaff):
    """`IsOwnerStaff`, reading the membership and its organisation in one query.

    A map view asks for dozens of tiles at once; each saves a query this way.
    """

    def has_permission(self, request, view) -> bool:
        user = request.user
        if getattr(user, "is_authenticated", False) and not user.is_superuser:
            prefetch_related_objects(
                [user],
                Prefetch("membership", queryset=Membership.objects.select_related("organisation")),
            )
        return super().has_permission(request, view)


class AddressTileView(TileView):
    """Addresses as Mapbox Vector Tiles: points from zoom 14, status-counted cells below."""

    permission_classes = [IsOwnerStaffForTiles]

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
