from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The external systems: provisioning adapters, IQGeo, VETRO (its push), OGC, sync."""

    name = "integrations"

    def ready(self) -> None:
        from integrations.provisioning import handlers  # noqa: F401  (registers the handlers)
        from integrations.vetro import writeback  # noqa: F401  (registers the VETRO push)
