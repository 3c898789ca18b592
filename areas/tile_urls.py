"""Area and demand vector tiles under /tiles/ (Mapbox Vector Tiles made by PostGIS)."""

urlpatterns: list = []
