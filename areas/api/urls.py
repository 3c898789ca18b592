"""The areas API under /api/: /api/areas/, /api/areas/{id}/, …/split/, …/phase/."""

from rest_framework.routers import SimpleRouter

from areas.api.views import AreaViewSet

router = SimpleRouter()
router.register("areas", AreaViewSet, basename="area")

urlpatterns = router.urls
