from django.apps import AppConfig


class GisCoreConfig(AppConfig):
    """The address (the spine) and its lifecycle, geometry input, vector tiles."""

    name = "gis_core"
    verbose_name = "Addresses"
