"""Vector tiles under /tiles/ (Mapbox Vector Tiles made by PostGIS)."""

from django.urls import path

from gis_core.tile_views import AddressTileView

urlpatterns = [
    path(
        "addresses/<int:z>/<int:x>/<int:y>.pbf",
        AddressTileView.as_view(),
        name="address-tile",
    ),
]
