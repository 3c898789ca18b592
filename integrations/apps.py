from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """The external systems: provisioning adapters, IQGeo, VETRO (its push), OGC, sync."""

    name = "integrations"

    def ready(self) -> None:
        from integrations.provisioning import handlers  # noqa: F401  (registers the handlers)
        from integrations.sync import tasks  # noqa: F401  (registers the change-log pruning)

        # the VETRO push's handlers, and its Celery task (named by the beat schedule: Celery's
        # autodiscovery only imports integrations.tasks)
        from integrations.vetro import tasks as vetro_tasks  # noqa: F401
        from integrations.vetro import writeback  # noqa: F401
