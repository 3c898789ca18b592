"""The saved-queries API under /api/."""

urlpatterns: list = []
