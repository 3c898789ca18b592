"""oanm's URL map: each door of ARCHITECTURE.md mounts here."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from common.views import health
from config.views import home

admin.site.site_header = "oanm administration"
admin.site.site_title = "oanm"
admin.site.index_title = "Open-access network manager"

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    # planners' door: the map, the area list and pages, saved queries
    path("", include("areas.urls")),
    path("queries/", include("common.query_urls")),
    # customers' door: find an address, its answer and offers, sign up, book
    path("lookup/", include("wholesale.lookup.urls")),
    # dispatchers' door (stays before the technicians' "field/" door)
    path("field/ops/", include("workorders.ops.urls")),
    # technicians' door
    path("field/", include("workorders.portal.urls", namespace="field")),
    # finance's door: invoices, connection charges, subscriptions, settlement, KPIs
    path("billing/", include("billing.pages.urls")),
    # ISPs' settlement statements (billing's, inside the ISPs' door)
    path("isp/statements/", include("billing.isp_urls")),
    # ISPs' door: their own orders, services, customers, webhooks; the shared network data
    path("isp/", include("wholesale.portal.urls", namespace="isp")),
    # operators' door to the GIS systems: sync runs, progress, write-back backlog
    path("integrations/", include("integrations.pages.urls")),
    # machine doors
    path("tiles/", include("gis_core.tile_urls")),
    path("tiles/", include("areas.tile_urls")),
    path("ogc/", include("integrations.ogc.urls")),
    path("api/", include("areas.api.urls")),
    path("api/", include("gis_core.api.urls")),
    path("api/", include("common.query_api_urls")),
    path("api/", include("wholesale.api.urls")),
    path("api/isp/statements/", include("billing.isp_api_urls")),
    path("api/isp/", include("wholesale.isp_api.urls")),
    path("api/billing/", include("billing.api.urls")),
    path("api/sync/", include("integrations.sync.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
