"""The lookup API under /api/: serviceability, signups, interests, an order's booking."""

from django.urls import path

from wholesale.api.views import (
    InterestView,
    OrderBookingView,
    OrderSlotsView,
    ServiceabilityView,
    SignupView,
)

urlpatterns = [
    path("serviceability/", ServiceabilityView.as_view(), name="serviceability"),
    path("signups/", SignupView.as_view(), name="signup-list"),
    path("interests/", InterestView.as_view(), name="interest-list"),
    path("orders/<str:token>/slots/", OrderSlotsView.as_view(), name="order-slots"),
    path("orders/<str:token>/booking/", OrderBookingView.as_view(), name="order-booking"),
]
