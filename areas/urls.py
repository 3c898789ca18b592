"""The planners' pages: /map/, /areas/, /areas/<id>/ and the area vector tiles."""

from django.urls import path, re_path

from areas import map_views, views

app_name = "areas"

urlpatterns: list = [
    path("map/", map_views.area_map, name="map"),
    path("areas/", views.area_list, name="list"),
    re_path(r"^areas/export\.(?P<fmt>csv|xlsx)$", views.area_export, name="export"),
    path("areas/<int:pk>/", views.area_detail, name="detail"),
    path("areas/<int:pk>/phase/", views.area_phase, name="phase"),
    path("areas/<int:pk>/settings/", views.area_settings, name="settings"),
    path("areas/<int:pk>/delete/", views.area_delete, name="delete"),
]
