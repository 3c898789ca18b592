"""The areas API under /api/."""

urlpatterns: list = []
