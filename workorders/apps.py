from django.apps import AppConfig


class WorkordersConfig(AppConfig):
    """Work orders and field operations: templates, tasks, crews, routes, the field portal."""

    name = "workorders"

    def ready(self) -> None:
        from workorders import handlers  # noqa: F401  (registers this app's event handlers)
