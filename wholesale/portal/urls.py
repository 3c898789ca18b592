"""The ISPs' door: /isp/ and its pages (mounted by config/urls.py with the namespace "isp")."""

from django.urls import path

from wholesale.portal import views

app_name = "isp"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orders/", views.order_list, name="orders"),
    path("orders/<int:pk>/", views.order_detail, name="order"),
    path("orders/<int:pk>/activate/", views.order_activate, name="order-activate"),
    path("services/", views.service_list, name="services"),
    path("services/<int:pk>/", views.service_detail, name="service"),
    path("services/<int:pk>/profile/", views.service_change, name="service-change"),
    path("services/<int:pk>/deactivate/", views.service_end, name="service-deactivate"),
    path("customers/", views.customer_list, name="customers"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications-read"),
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", views.webhook_detail, name="webhook"),
    path("webhooks/<int:pk>/replay/", views.webhook_replay_view, name="webhook-replay"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/webhook/", views.settings_webhook, name="settings-webhook"),
    path("settings/secret/", views.settings_secret, name="settings-secret"),
    path("settings/test/", views.settings_test, name="settings-test"),
    path("settings/tokens/", views.token_create, name="token-create"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("catalog/", views.catalog, name="catalog"),
    path("network/", views.network, name="network"),
]
