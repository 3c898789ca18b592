from django.apps import AppConfig


class CommonConfig(AppConfig):
    """Infrastructure every layer stands on: errors, domain events, the outbox, money."""

    name = "common"
    verbose_name = "Infrastructure"
