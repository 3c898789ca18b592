"""Finance pages: the finance overview and the board KPIs."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
