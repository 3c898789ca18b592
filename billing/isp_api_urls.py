"""The ISPs' settlement statements through the ISP API (token scope `read`)."""

from rest_framework.routers import SimpleRouter

from billing.isp_api import StatementViewSet

app_name = "isp-billing-api"

router = SimpleRouter()
router.register("", StatementViewSet, basename="statement")

urlpatterns = router.urls
