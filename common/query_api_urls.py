"""The saved-queries API under /api/: /api/queries/… (common.query_api)."""

from rest_framework.routers import SimpleRouter

from common.query_api import SavedQueryViewSet

router = SimpleRouter()
router.register("queries", SavedQueryViewSet, basename="saved-query")

urlpatterns = router.urls
