"""Saved-query pages under /queries/."""

app_name = "queries"

urlpatterns: list = []
