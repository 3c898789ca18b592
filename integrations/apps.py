from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The external systems: provisioning adapters, IQGeo, VETRO (its push), OGC, sync."""

    name = "integrations"

    def ready(self) -> None:
        from integrations.iqgeo import writeback  # noqa: F401  (registers the write-back)
        from integrations.provisioning import handlers  # noqa: F401  (registers the handlers)
        from integrations.sync import tasks  # noqa: F401  (registers the change-log pruning)
        from integrations.vetro import writeback as vetro_writeback  # noqa: F401  (the push)
