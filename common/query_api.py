"""The saved-queries API: sources, running definitions, saved queries, sharing, stars, exports.

    GET/POST          /api/queries/                 the caller's queries / save one
    GET/PATCH/DELETE  /api/queries/{id}/
    POST              /api/queries/{id}/share/      {"user": 5} | {"user": 5, "remove": true}
                                                    | {"link": true|false}
    POST              /api/queries/{id}/favourite/  {"is_favourite": true|false}
    POST              /api/queries/{id}/copy/       {"name": "…"} (optional)
    GET               /api/queries/{id}/results/    rows; ?format=geojson; ?export=csv|xlsx
    POST              /api/queries/run/             {"definition": {…}} with the same parameters
    GET               /api/queries/sources/         what can be queried: fields, operators, columns

Whoever holds a query's link passes `?share=<token>`. Thin views: every write is a service
of `common.queries.services`; every refusal a `DomainError` (JSON with code and detail).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from common.errors import DomainError
from common.models import SavedQuery
from common.queries import services
from common.queries.access import may_use
from common.queries.compiler import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    result_geojson,
    result_page,
)
from common.queries.definition import QueryDefinition, parse_definition
from common.queries.exports import EXPORT_FORMATS, export_response
from common.queries.registry import OPERATORS, Source, operator_label
from common.queries.registry import sources as registered_sources
from common.queries.selectors import (
    USE_REFUSED,
    may_edit,
    saved_queries_listed,
    saved_query_get,
)

# --- plumbing ---------------------------------------------------------------------------


class MayUseQueries(BasePermission):
    """Only the network owner's staff may use saved queries (accounts registers the rule);
    an API token needs its "read" scope to read and run, "write" to change."""

    message = USE_REFUSED

    def has_permission(self, request, view) -> bool:
        if not may_use(request.user):
            return False
        token = request.auth
        if token is not None and hasattr(token, "has_scope"):
            reads = request.method in SAFE_METHODS or getattr(view, "action", "") == "run"
            needed = "read" if reads else "write"
            if not token.has_scope(needed):
                self.message = f"this API token lacks the {needed!r} scope"
                return False
        return True


class GeoJSONRenderer(JSONRenderer):
    """`?format=geojson`: the result as a FeatureCollection for the map."""

    media_type = "application/geo+json"
    format = "geojson"


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None and isinstance(request.data, dict):
        raw = request.data.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise DomainError(f"{name} must be a whole number, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise DomainError(f"{name} must be from {low} to {high}", field=name)
    return value


def _results(request: Request, definition: QueryDefinition, *, name: str):
    """Rows (paginated), GeoJSON for the map, or a CSV/XLSX download, as the request asks."""
    export_format = request.query_params.get("export")
    if export_format:
        if export_format not in EXPORT_FORMATS:
            raise DomainError(
                f"unknown export format {export_format!r}; use csv or xlsx", field="export"
            )
        return export_response(
            definition, user=request.user, name=name, export_format=export_format
        )
    if request.accepted_renderer.format == "geojson":
        return Response(result_geojson(definition, user=request.user))
    limit = _int_param(request, "limit", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    offset = _int_param(request, "offset", 0, 0, 10**9)
    page = result_page(definition, user=request.user, limit=limit, offset=offset)
    url = request.build_absolute_uri()
    page["next"] = (
        replace_query_param(replace_query_param(url, "offset", offset + limit), "limit", limit)
        if offset + limit < page["count"]
        else None
    )
    if offset <= 0:
        page["previous"] = None
    elif offset - limit <= 0:
        page["previous"] = replace_query_param(remove_query_param(url, "offset"), "limit", limit)
    else:
        page["previous"] = replace_query_param(
            replace_query_param(url, "offset", offset - limit), "limit", limit
        )
    page["definition"] = definition.as_json()
    return Response(page)


def source_json(source: Source) -> dict[str, Any]:
    """A source as the builder needs it: fields with their operators and choices, columns."""
    fields = []
    for field in source.fields.values():
        item = {
            "name": field.name,
            "label": field.label,
            "kind": field.kind,
            "percent": field.percent,
            "operators": [
                {
                    "key": key,
                    "label": operator_label(field.kind, key),
                    "value": OPERATORS[key].value,
                }
                for key in field.operators
            ],
        }
        if field.kind in ("choice", "fk") and field.choices is not None:
            item["choices"] = [{"value": v, "label": label} for v, label in field.choice_list()]
        if field.help:
            item["help"] = field.help
        fields.append(item)
    return {
        "key": source.key,
        "label": source.label,
        "description": source.description,
        "geometry": bool(source.geometry),
        "fields": fields,
        "columns": [
            {
                "name": column.name,
                "label": column.label,
                "kind": column.kind,
                "percent": column.percent,
                "default": column.default,
                "sortable": column.sortable,
            }
            for column in source.columns.values()
        ],
        "default_order": list(source.default_order),
        "context_where": source.context_where,
    }


# --- serializers --------------------------------------------------------------------------


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.SerializerMethodField()

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username


class SavedQuerySerializer(serializers.ModelSerializer):
    """A saved query as its reader sees it; sharing details only for whoever may change it."""

    owner = UserBriefSerializer(read_only=True)
    is_favourite = serializers.SerializerMethodField()
    is_mine = serializers.SerializerMethodField()
    can_edit = serializers.SerializerMethodField()
    shared_with = serializers.SerializerMethodField()
    share_link = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    results_url = serializers.SerializerMethodField()

    class Meta:
        model = SavedQuery
        fields = [
            "id",
            "name",
            "description",
            "source",
            "definition",
            "owner",
            "is_favourite",
            "is_mine",
            "can_edit",
            "shared_with",
            "share_link",
            "url",
            "results_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _user(self):
        return self.context["request"].user

    def get_is_favourite(self, obj) -> bool:
        if hasattr(obj, "is_favourite"):
            return bool(obj.is_favourite)
        return obj.favourites.filter(user=self._user()).exists()

    def get_is_mine(self, obj) -> bool:
        return obj.owner_id == self._user().pk

    def get_can_edit(self, obj) -> bool:
        return may_edit(self._user(), obj)

    @extend_schema_field(UserBriefSerializer(many=True))
    def get_shared_with(self, obj) -> list[dict]:
        if not may_edit(self._user(), obj):
            return []
        return UserBriefSerializer([share.user for share in obj.shares.all()], many=True).data

    def get_share_link(self, obj) -> str | None:
        if obj.share_token is None or not may_edit(self._user(), obj):
            return None
        return self.context["request"].build_absolute_uri(
            reverse("queries:shared", args=[obj.share_token])
        )

    def get_url(self, obj) -> str:
        return reverse("queries:detail", args=[obj.pk])

    def get_results_url(self, obj) -> str:
        return reverse("saved-query-results", args=[obj.pk])


class SavedQueryCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    definition = serializers.JSONField(help_text="A query definition (version 1).")


class SavedQueryUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    definition = serializers.JSONField(required=False)


class RunSerializer(serializers.Serializer):
    definition = serializers.JSONField(help_text="A query definition (version 1).")


class ShareSerializer(serializers.Serializer):
    user = serializers.CharField(
        required=False, help_text="A colleague's id or username (the owner's staff only)."
    )
    remove = serializers.BooleanField(default=False, help_text="Stop sharing with `user`.")
    link = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Turn the link on or off."
    )

    def validate(self, data):
        if not data.get("user") and data.get("link") is None:
            raise serializers.ValidationError("give a user to share with, or link: true/false")
        return data


class SharingSerializer(serializers.Serializer):
    shared_with = UserBriefSerializer(many=True)
    share_link = serializers.CharField(allow_null=True)


class FavouriteSerializer(serializers.Serializer):
    is_favourite = serializers.BooleanField(default=True)


class CopySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)


ColumnSerializer = inline_serializer(
    "QueryColumn",
    {
        "name": serializers.CharField(),
        "label": serializers.CharField(),
        "kind": serializers.CharField(),
        "percent": serializers.BooleanField(),
        "sortable": serializers.BooleanField(),
        "choices": serializers.DictField(child=serializers.CharField(), required=False),
    },
)

ResultPageSerializer = inline_serializer(
    "QueryResultPage",
    {
        "count": serializers.IntegerField(),
        "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "columns": ColumnSerializer,
        "results": serializers.ListField(
            child=serializers.DictField(), help_text='{"id": …, column name: value, …}'
        ),
        "definition": serializers.JSONField(),
    },
)

RESULT_PARAMETERS = [
    OpenApiParameter("limit", int, description=f"rows per page (1–{MAX_PAGE_SIZE})"),
    OpenApiParameter("offset", int, description="rows to skip"),
    OpenApiParameter(
        "format",
        str,
        enum=["json", "geojson"],
        description="geojson: a FeatureCollection of the rows' geometries for the map"
        " (capped; `count` and `capped` say when there were more)",
    ),
    OpenApiParameter("export", str, enum=list(EXPORT_FORMATS), description="a download"),
]
SHARE_PARAMETER = OpenApiParameter(
    "share", OpenApiTypes.UUID, description="the share token of a query's link"
)
RESULT_RESPONSES = {
    (200, "application/json"): ResultPageSerializer,
    (200, "application/geo+json"): OpenApiTypes.OBJECT,
    (200, "text/csv"): OpenApiTypes.BINARY,
    (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): (
        OpenApiTypes.BINARY
    ),
}


# --- the viewset ---------------------------------------------------------------------------


class SavedQueryViewSet(viewsets.GenericViewSet):
    """Saved queries of the network owner's staff, and running definitions."""

    permission_classes = [MayUseQueries]
    renderer_classes = [JSONRenderer, GeoJSONRenderer]
    serializer_class = SavedQuerySerializer
    lookup_value_regex = r"\d+"
    queryset = SavedQuery.objects.none()  # for the schema; reads go through the selectors

    def _get(self, pk) -> SavedQuery:
        return saved_query_get(
            user=self.request.user, pk=pk, share_token=self.request.query_params.get("share")
        )

    def _out(self, saved_query: SavedQuery, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(saved_query).data, status=code)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "scope",
                str,
                enum=["mine", "shared", "favourites", "all"],
                description="default: yours, shared with you and starred; all: everyone's"
                " (operator admins)",
            )
        ]
    )
    def list(self, request):
        queryset = saved_queries_listed(request.user, scope=request.query_params.get("scope", ""))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=[SHARE_PARAMETER])
    def retrieve(self, request, pk=None):
        return self._out(self._get(pk))

    @extend_schema(request=SavedQueryCreateSerializer, responses={201: SavedQuerySerializer})
    def create(self, request):
        data = SavedQueryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        saved_query = services.saved_query_create(owner=request.user, **data.validated_data)
        return self._out(saved_query, status.HTTP_201_CREATED)

    @extend_schema(request=SavedQueryUpdateSerializer)
    def partial_update(self, request, pk=None):
        saved_query = self._get(pk)
        data = SavedQueryUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        saved_query = services.saved_query_update(
            saved_query=saved_query, actor=request.user, **data.validated_data
        )
        return self._out(saved_query)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.saved_query_delete(saved_query=self._get(pk), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ShareSerializer, responses=SharingSerializer)
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Share with a colleague (or stop), or turn the query's link on or off."""
        saved_query = self._get(pk)
        data = ShareSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = data.validated_data.get("user")
        if user and data.validated_data["remove"]:
            services.saved_query_unshare(saved_query=saved_query, actor=request.user, user=user)
        elif user:
            services.saved_query_share(saved_query=saved_query, actor=request.user, user=user)
        if data.validated_data.get("link") is not None:
            services.saved_query_share_link(
                saved_query=saved_query, actor=request.user, enabled=data.validated_data["link"]
            )
        saved_query = saved_query_get(user=request.user, pk=saved_query.pk)
        out = self.get_serializer(saved_query).data
        return Response({"shared_with": out["shared_with"], "share_link": out["share_link"]})

    @extend_schema(
        request=FavouriteSerializer,
        responses=FavouriteSerializer,
        parameters=[SHARE_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    def favourite(self, request, pk=None):
        """Star or unstar a query you may open."""
        saved_query = self._get(pk)
        data = FavouriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        starred = services.saved_query_favourite(
            saved_query=saved_query,
            actor=request.user,
            is_favourite=data.validated_data["is_favourite"],
            share_token=request.query_params.get("share"),
        )
        return Response({"is_favourite": starred})

    @extend_schema(
        request=CopySerializer,
        responses={201: SavedQuerySerializer},
        parameters=[SHARE_PARAMETER],
    )
    @action(detail=True, methods=["post"])
    def copy(self, request, pk=None):
        """Save a copy of a query you may open, as your own."""
        saved_query = self._get(pk)
        data = CopySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        copy = services.saved_query_copy(
            saved_query=saved_query,
            actor=request.user,
            name=data.validated_data.get("name"),
            share_token=request.query_params.get("share"),
        )
        return self._out(copy, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[*RESULT_PARAMETERS, SHARE_PARAMETER],
        responses=RESULT_RESPONSES,
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        """The saved query's result: rows, GeoJSON for the map, or a CSV/XLSX download."""
        saved_query = self._get(pk)
        definition = parse_definition(saved_query.definition)
        return _results(request, definition, name=saved_query.name)

    @extend_schema(request=RunSerializer, parameters=RESULT_PARAMETERS, responses=RESULT_RESPONSES)
    @action(detail=False, methods=["post"])
    def run(self, request):
        """Run a definition without saving it: rows, GeoJSON or a download, as `results`."""
        data = RunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        definition = parse_definition(data.validated_data["definition"])
        return _results(request, definition, name=f"{definition.source.label} query")

    @extend_schema(
        responses=inline_serializer(
            "QuerySource",
            {
                "key": serializers.CharField(),
                "label": serializers.CharField(),
                "description": serializers.CharField(),
                "geometry": serializers.BooleanField(),
                "fields": serializers.ListField(child=serializers.DictField()),
                "columns": serializers.ListField(child=serializers.DictField()),
                "default_order": serializers.ListField(child=serializers.CharField()),
                "context_where": serializers.JSONField(allow_null=True),
            },
            many=True,
        )
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def sources(self, request):
        """What can be queried: each source's fields (kind, operators, choices) and columns."""
        return Response([source_json(source) for source in registered_sources()])
