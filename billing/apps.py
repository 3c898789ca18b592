from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Billing that follows the network: connection cost, subscriptions, invoices,
    settlement, revenue assurance and the finance KPIs."""

    name = "billing"

    def ready(self) -> None:
        from billing import handlers  # noqa: F401  (registers this app's event handlers)
