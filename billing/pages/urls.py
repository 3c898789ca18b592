"""The finance door, mounted at /billing/ (namespace "billing"): each part's pages."""

from billing.pages import assurance, invoices, kpis, subscriptions

app_name = "billing"

urlpatterns = kpis.urlpatterns + invoices.urlpatterns + subscriptions.urlpatterns
urlpatterns += assurance.urlpatterns
