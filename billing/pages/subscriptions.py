"""Finance pages: subscriptions and billing runs."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
