"""The finance API, mounted at /api/billing/ (namespace "billing-api")."""

from billing.api import assurance, invoices, kpis, subscriptions

app_name = "billing-api"

urlpatterns = kpis.urlpatterns + invoices.urlpatterns + subscriptions.urlpatterns
urlpatterns += assurance.urlpatterns
