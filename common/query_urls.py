"""Saved-query pages under /queries/ (common.query_views)."""

from django.urls import path

from common import query_views

app_name = "queries"

urlpatterns = [
    path("", query_views.query_list, name="list"),
    path("new/", query_views.query_new, name="new"),
    path("<int:pk>/", query_views.query_detail, name="detail"),
    path("<int:pk>/favourite/", query_views.query_favourite, name="favourite"),
    path("<int:pk>/delete/", query_views.query_delete, name="delete"),
    path("shared/<uuid:token>/", query_views.query_shared, name="shared"),
]
