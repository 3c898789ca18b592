from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Organisations, users with their role, API tokens."""

    name = "accounts"
