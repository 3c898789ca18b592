from django.apps import AppConfig


class WholesaleConfig(AppConfig):
    """ISPs, catalog, customers, orders and services: the open-access wholesale layer."""

    name = "wholesale"

    def ready(self) -> None:
        from wholesale import handlers  # noqa: F401  (registers this app's event handlers)
