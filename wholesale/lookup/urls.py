"""The customers' door: /lookup/ and its pages (mounted by config/urls.py)."""

from django.urls import path

from wholesale.lookup import views

app_name = "lookup"

urlpatterns = [
    path("", views.lookup_home, name="search"),
    path("address/<int:pk>/", views.address_answer, name="address"),
    path("address/<int:pk>/signup/", views.signup, name="signup"),
    path("address/<int:pk>/interest/", views.interest, name="interest"),
    path("orders/<str:token>/", views.order_manage, name="order"),
]
