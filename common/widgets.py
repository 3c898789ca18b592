"""Map widgets for the admin that work with no internet.

Django's GIS widgets load OpenLayers from a CDN and draw on OpenStreetMap tiles; ours load
OpenLayers from `static/vendor/ol/` and draw on the configured base layer (`MAP_TILE_URL`),
or on a blank canvas when none is configured.
"""

from django.conf import settings
from django.contrib.gis.forms.widgets import OSMWidget


class OfflineMapWidget(OSMWidget):
    """An OpenLayers editing map served entirely from our own static files."""

    template_name = "gis/oanm-map.html"
    default_lon = 13.335
    default_lat = 52.55
    default_zoom = 14

    class Media:
        extend = False  # drop the parent's CDN links
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js")

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["map_tile_url"] = settings.MAP_TILE_URL
        context["map_tile_attribution"] = settings.MAP_TILE_ATTRIBUTION
        return context
