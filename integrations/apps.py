from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The external systems: provisioning adapters (and later IQGeo, VETRO, OGC, sync)."""

    name = "integrations"

    def ready(self) -> None:
        from integrations.provisioning import handlers  # noqa: F401  (registers the handlers)
        from integrations.sync import tasks  # noqa: F401  (registers the change-log pruning)
