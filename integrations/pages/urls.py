"""The operators' integrations pages, mounted at /integrations/ (namespace "integrations")."""

from django.urls import path

from integrations.pages import views

app_name = "integrations"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_view, name="run"),
    path("conflicts/", views.conflict_list, name="conflicts"),
    path("conflicts/<int:pk>/resolve/", views.conflict_resolve_view, name="conflict-resolve"),
    path("<slug:system>/sync/", views.sync_start, name="sync"),
    path("<slug:system>/status/", views.sync_status, name="status"),
]
