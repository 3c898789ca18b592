from django.apps import AppConfig


class AreasConfig(AppConfig):
    """Planning areas (object groups), their phases and the address→area link."""

    name = "areas"

    def ready(self) -> None:
        from areas import handlers  # noqa: F401  (registers this app's event handlers)
