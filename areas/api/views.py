"""The areas API: the map's GeoJSON of areas with their figures, one area's story, and the
planner's actions on an area (split, phase, settings), each calling one service."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from accounts.models import ApiToken
from accounts.permissions import IsOwnerStaffReadOperatorWrite
from accounts.roles import TokenScope
from areas import selectors, services
from areas.api.filters import AreaFilter
from areas.api.serializers import (
    AreaDetailSerializer,
    AreaFeatureSerializer,
    AreaPhaseSerializer,
    AreaSplitSerializer,
    AreaUpdateSerializer,
    HistoryEntrySerializer,
    SeriesPointSerializer,
    SplitPreviewSerializer,
    SplitResultSerializer,
)
from areas.lifecycle import AreaPhase
from areas.models import Area
from common.api import ErrorSerializer, first_error, validated
from common.errors import DomainError, NotFound

# Without ?limit the whole (filtered) set comes in one response, up to this many areas.
MAX_AREAS = 10_000
MAX_SIMPLIFY_METRES = 10_000
GEOJSON = "application/geo+json"

PHASE_SERVICES = {
    AreaPhase.PLANNING: services.area_return_to_planning,
    AreaPhase.DEMAND_AGGREGATION: services.area_start_demand_aggregation,
    AreaPhase.IN_DEPLOYMENT: services.area_deploy,
    AreaPhase.LIVE: services.area_go_live,
}

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input; `detail` says what is wrong."),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in / no token."),
    403: OpenApiResponse(ErrorSerializer, description="Not an operator (or a read-only token)."),
    404: OpenApiResponse(ErrorSerializer, description="No such area."),
}
CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Not possible in the area's state (e.g. already split)."
)


class TokenScopeAllowsWrite(BasePermission):
    """A request authenticated by an API token may write only if the token has `write`."""

    message = "this API token may only read: changes need a token with the write scope"

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not isinstance(request.auth, ApiToken):
            return True
        return request.auth.has_scope(TokenScope.WRITE)


class AreaPagination(LimitOffsetPagination):
    """Opt-in pages: `?limit=&offset=`; without `limit`, every area at once (the map's case)."""

    default_limit = None
    max_limit = MAX_AREAS


def _rounded(value):
    if isinstance(value, float):
        return round(value, selectors.GEOJSON_PRECISION)
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def _geojson(geometry) -> dict:
    data = json.loads(geometry.json)
    return {"type": data["type"], "coordinates": _rounded(data["coordinates"])}


SIMPLIFY = OpenApiParameter(
    "simplify",
    OpenApiTypes.FLOAT,
    description="Simplify boundaries to this tolerance in metres (for small-scale maps).",
)
PAGES = [
    OpenApiParameter(
        "limit",
        OpenApiTypes.INT,
        description=f"Opt-in paging: at most this many areas (up to {MAX_AREAS}); the"
        " collection then carries count, next and previous.",
    ),
    OpenApiParameter("offset", OpenApiTypes.INT, description="With limit: areas to skip."),
]


@extend_schema(tags=["areas"])
class AreaViewSet(viewsets.GenericViewSet):
    """Planning areas with their demand figures: the map's and the planners' API."""

    permission_classes = [IsOwnerStaffReadOperatorWrite, TokenScopeAllowsWrite]
    filter_backends = [DjangoFilterBackend]
    filterset_class = AreaFilter
    pagination_class = None  # opt-in pages are handled in `list` (see AreaPagination)
    serializer_class = AreaFeatureSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.areas_with_figures()

    def filter_queryset(self, queryset):
        try:
            return super().filter_queryset(queryset)
        except ValidationError as exc:
            message, field = first_error(exc.detail)
            raise DomainError(message, code="invalid", field=field) from exc

    def _simplify(self) -> float | None:
        value = self.request.query_params.get("simplify")
        if value in (None, ""):
            return None
        try:
            metres = float(value)
        except ValueError:
            metres = math.nan
        if not 0 <= metres <= MAX_SIMPLIFY_METRES:
            raise DomainError(
                f"simplify is a tolerance in metres from 0 to {MAX_SIMPLIFY_METRES}, not {value!r}",
                code="invalid",
                field="simplify",
            )
        return metres or None

    def _area(self, pk) -> Area:
        area = Area.objects.filter(pk=pk).first()
        if area is None:
            raise NotFound(f"there is no area with id {pk}")
        return area

    def _feature(self, area_id: int) -> dict:
        features = selectors.area_features(selectors.areas_with_figures().filter(pk=area_id))
        return json.loads(features[0])

    def _features(self, area_ids) -> list[dict]:
        queryset = selectors.areas_with_figures().filter(pk__in=area_ids).order_by("pk")
        return [json.loads(feature) for feature in selectors.area_features(queryset)]

    @extend_schema(
        summary="Areas as a GeoJSON FeatureCollection with their figures",
        description="Active areas (add `include_retired=1` for split ones) with their kept"
        " demand figures as properties. Every area in one response unless `limit` is given"
        f" (at most {MAX_AREAS}). The response's media type is application/geo+json.",
        parameters=[SIMPLIFY, *PAGES],
        responses={(200, GEOJSON): AreaFeatureSerializer(many=True), **ERRORS},
    )
    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        queryset = queryset.order_by(*queryset.query.order_by, "code")
        simplify = self._simplify()
        paginator = AreaPagination()
        limit = paginator.get_limit(request)
        if limit is None:
            features = list(selectors.area_features(queryset[: MAX_AREAS + 1], simplify=simplify))
            members = {"truncated": True} if len(features) > MAX_AREAS else {}
            body = selectors.feature_collection(features[:MAX_AREAS], **members)
            return HttpResponse(body, content_type=GEOJSON)
        paginator.request = request
        paginator.limit = limit
        paginator.offset = paginator.get_offset(request)
        paginator.count = queryset.count()
        window = queryset[paginator.offset : paginator.offset + limit]
        body = selectors.feature_collection(
            list(selectors.area_features(window, simplify=simplify)),
            count=paginator.count,
            next=paginator.get_next_link(),
            previous=paginator.get_previous_link(),
        )
        return HttpResponse(body, content_type=GEOJSON)

    @extend_schema(
        summary="One area with its history and daily demand series",
        filters=False,
        responses={200: AreaDetailSerializer, **ERRORS},
    )
    def retrieve(self, request, pk=None):
        area = self._area(pk)
        feature = self._feature(area.pk)
        feature["properties"]["history"] = HistoryEntrySerializer(
            selectors.area_history(area), many=True
        ).data
        feature["properties"]["series"] = SeriesPointSerializer(
            selectors.area_series(area), many=True
        ).data
        return Response(feature)

    @extend_schema(
        summary="Rename an area, change its target or its opt-in to deploy at the target",
        filters=False,
        request=AreaUpdateSerializer,
        responses={200: AreaFeatureSerializer, **ERRORS},
    )
    def partial_update(self, request, pk=None):
        area = self._area(pk)
        data = validated(AreaUpdateSerializer, request.data)
        services.area_update(area=area, actor=request.user, **data)
        return Response(self._feature(area.pk))

    @extend_schema(
        summary="Delete an area drawn by mistake",
        description="Only an area still in planning with no standing signup (else 409). It is"
        " retired, not erased: gone from the map and the lists, kept in history, its addresses"
        " go to the area around them. Operators only.",
        filters=False,
        responses={204: None, 409: CONFLICT, **ERRORS},
    )
    def destroy(self, request, pk=None):
        services.area_delete(area=self._area(pk), actor=request.user, reason="deleted in oanm")
        return Response(status=204)

    @extend_schema(
        summary="Move an area to another phase",
        description="planning → demand_aggregation → in_deployment → live (and back from"
        " demand_aggregation to planning). A move the lifecycle does not allow is a 409.",
        filters=False,
        request=AreaPhaseSerializer,
        responses={200: AreaFeatureSerializer, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def phase(self, request, pk=None):
        area = self._area(pk)
        data = validated(AreaPhaseSerializer, request.data)
        PHASE_SERVICES[data["phase"]](area=area, actor=request.user, reason=data["reason"])
        return Response(self._feature(area.pk))

    @extend_schema(
        summary="Split an area in two (or preview the split)",
        description="By a drawn `line` (a LineString crossing the area once), in `half` along"
        " an `axis` (through the centroid), or by `share` (the line that puts that share of"
        " the live orders on the north/west side; homes when there are no orders)."
        " With `preview: true` both parts come back with their figures and nothing is"
        " written (200); otherwise the two new areas are created (201).",
        filters=False,
        request=AreaSplitSerializer,
        responses={
            200: SplitPreviewSerializer,
            201: SplitResultSerializer,
            409: CONFLICT,
            **ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def split(self, request, pk=None):
        area = self._area(pk)
        data = dict(validated(AreaSplitSerializer, request.data))
        preview, reason = data.pop("preview"), data.pop("reason")
        if preview:
            return Response(self._preview(services.area_split_preview(area=area, **data)))
        result = services.area_split(area=area, actor=request.user, reason=reason, **data)
        body = {
            "type": "FeatureCollection",
            "split": {
                "id": result.split.pk,
                "parent": result.parent.pk,
                "children": [child.pk for child in result.children],
                "mode": result.split.mode,
                "note": result.note,
            },
            "features": self._features([child.pk for child in result.children]),
        }
        return Response(body, status=status.HTTP_201_CREATED)

    def _preview(self, preview: services.SplitPreview) -> dict:
        plan = preview.plan
        parts = [
            {
                "type": "Feature",
                "geometry": _geojson(part.boundary),
                "properties": {
                    "side": part.side,
                    "code": part.code,
                    "name": part.name,
                    "share_of_surface": round(part.share_of_surface, 4),
                    **asdict(figures),
                    "ready_to_build": figures.homes > 0 and figures.progress >= 1,
                },
            }
            for part, figures in zip(plan.parts, preview.figures, strict=True)
        ]
        return SplitPreviewSerializer(
            {
                "type": "FeatureCollection",
                "area": {"id": plan.area.pk, "code": plan.area.code},
                "mode": plan.mode,
                "axis": plan.axis,
                "share": float(plan.share) if plan.share is not None else None,
                "basis": plan.basis,
                "note": plan.note,
                "line": _geojson(plan.line),
                "features": parts,
            }
        ).data
