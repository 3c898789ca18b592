"""The planners' pages: /map/, /areas/, /areas/<id>/ and the area vector tiles."""

from django.urls import path

app_name = "areas"

urlpatterns: list = []
