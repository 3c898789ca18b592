"""The ISP systems' API, mounted at /api/isp/ (names in the `isp_api` namespace)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from wholesale.isp_api import views

app_name = "isp_api"

router = SimpleRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("ready", views.ReadyOrderViewSet, basename="ready")
router.register("services", views.ServiceViewSet, basename="service")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("webhooks", views.DeliveryViewSet, basename="delivery")
router.register("catalog/offerings", views.OfferingViewSet, basename="offering")
router.register("catalog/products", views.ProductViewSet, basename="product")
router.register("network/areas", views.NetworkAreaViewSet, basename="network-area")
router.register("network/maintenance", views.MaintenanceViewSet, basename="maintenance")

urlpatterns = [
    path("webhook/", views.WebhookEndpointView.as_view(), name="webhook"),
    path(
        "webhook/rotate-secret/",
        views.WebhookSecretRotateView.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhook/test/", views.WebhookTestView.as_view(), name="webhook-test"),
    path(
        "network/addresses/<int:pk>/",
        views.NetworkAddressView.as_view(),
        name="network-address",
    ),
    *router.urls,
]
