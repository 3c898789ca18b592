"""Finance pages: invoices, payments, credit notes, reminders and connection charges."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
