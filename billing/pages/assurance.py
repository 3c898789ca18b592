"""Finance pages: revenue-assurance exceptions, price overrides and settlement statements."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
