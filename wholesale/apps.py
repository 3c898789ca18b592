from django.apps import AppConfig


class WholesaleConfig(AppConfig):
    """ISPs, catalog, customers, orders and services: the open-access wholesale layer."""

    name = "wholesale"
