"""The sync API, mounted at /api/sync/ (names in the `sync-api` namespace)."""

from django.urls import path

from integrations.sync import views

app_name = "sync-api"

urlpatterns = [
    path("changes", views.ChangesView.as_view(), name="changes"),
    path(
        "addresses/<slug:system>/<path:external_id>",
        views.AddressUpsertView.as_view(),
        name="address-upsert",
    ),
]
