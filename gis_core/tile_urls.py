"""Vector tiles under /tiles/ (Mapbox Vector Tiles made by PostGIS)."""

urlpatterns: list = []
