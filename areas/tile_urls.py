"""Area and demand vector tiles under /tiles/ (Mapbox Vector Tiles made by PostGIS)."""

from django.urls import path

from areas.tile_views import AreaTileView, DemandTileView

urlpatterns = [
    path("areas/<int:z>/<int:x>/<int:y>.pbf", AreaTileView.as_view(), name="area-tile"),
    path("demand/<int:z>/<int:x>/<int:y>.pbf", DemandTileView.as_view(), name="demand-tile"),
]
