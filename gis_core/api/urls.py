"""The address lookup API under /api/: /api/addresses/search and /api/addresses/nearest."""

from django.urls import path

from gis_core.api.views import AddressSearchView, NearestAddressesView

urlpatterns = [
    path("addresses/search", AddressSearchView.as_view(), name="address-search"),
    path("addresses/nearest", NearestAddressesView.as_view(), name="address-nearest"),
]
