"""The public address lookup API: search as typed, and the addresses nearest a point.

Anyone may call it (the customers' lookup, no sign-in), throttled per client under the
"lookup" scope. Answers hold address fields only, never who lives or ordered there.
"""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from common.api import ErrorSerializer
from common.errors import DomainError
from gis_core.api.serializers import (
    NearestQuerySerializer,
    NearestResponseSerializer,
    SearchQuerySerializer,
    SearchResponseSerializer,
)
from gis_core.search import AddressMatch, nearest_addresses, search_addresses

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad parameters; `detail` says which."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests; try again later."),
}


def match_as_dict(match: AddressMatch) -> dict:
    """An address found, as the API gives it: its fields, `location` {lon, lat}, score and
    distance."""
    data = asdict(match)
    data["location"] = {"lon": data.pop("lon"), "lat": data.pop("lat")}
    return data


def _validated(serializer_class, data) -> dict:
    """The query parameters, checked; the first problem as a DomainError (400) naming it."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        field, messages = next(iter(serializer.errors.items()))
        raise DomainError(f"{field}: {messages[0]}", code="invalid", field=field)
    return serializer.validated_data


class PublicLookupView(APIView):
    """A public, throttled read of the lookup: no authentication, no session needed."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "lookup"


@extend_schema(tags=["lookup"])
class AddressSearchView(PublicLookupView):
    @extend_schema(
        summary="Search addresses as typed",
        description="Type-ahead over every address: street, house number (letters such as"
        " `12a`, ranges such as `1-15`), unit and postcode in any order, case and accents"
        " ignored, best match first. When nothing matches as typed, similar streets are"
        " tried and offered in `did_you_mean`.",
        parameters=[SearchQuerySerializer],
        responses={200: SearchResponseSerializer, **ERRORS},
    )
    def get(self, request):
        params = _validated(SearchQuerySerializer, request.query_params)
        result = search_addresses(params["q"], limit=params["limit"])
        return Response(
            {
                "query": result.query,
                "results": [match_as_dict(match) for match in result.matches],
                "did_you_mean": result.did_you_mean,
            }
        )


@extend_schema(tags=["lookup"])
class NearestAddressesView(PublicLookupView):
    @extend_schema(
        summary="The addresses nearest a point",
        description="The addresses nearest to lon/lat (EPSG:4326), nearest first, each with"
        " its distance in metres: a tap on the map, or the browser's location.",
        parameters=[NearestQuerySerializer],
        responses={200: NearestResponseSerializer, **ERRORS},
    )
    def get(self, request):
        params = _validated(NearestQuerySerializer, request.query_params)
        matches = nearest_addresses(lon=params["lon"], lat=params["lat"], limit=params["limit"])
        return Response({"results": [match_as_dict(match) for match in matches]})
