"""The sync API (`/api/sync/`): thin views over `integrations.sync.feed` (reads) and
`integrations.sync.services` (writes).

Who: API tokens with the `sync` scope of the network owner's users (read and write); the
owner's staff signed in may read the feed. Every other token (another scope, an ISP's or a
contractor's) and every other user gets 403; no credentials 401.
"""

from __future__ import annotations

from django.contrib.gis.db.models.functions import AsGeoJSON
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiTokenAuthentication
from accounts.models import ApiToken
from accounts.permissions import is_owner_staff
from accounts.roles import TokenScope
from common.api import ErrorSerializer, validated
from gis_core.models import Address
from integrations.sync import feed
from integrations.sync.serializers import (
    SyncAddressResultSerializer,
    SyncAddressUpsertSerializer,
    SyncChangesPageSerializer,
)
from integrations.sync.services import address_upsert_by_reference

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input; `field` names the input."),
    401: OpenApiResponse(ErrorSerializer, description="No (valid) token and no session."),
    403: OpenApiResponse(
        ErrorSerializer,
        description="Not an owner's token with the `sync` scope (or, to read, owner staff).",
    ),
}


class SyncAccess(BasePermission):
    """An owner's API token with the `sync` scope; to read, also the owner's staff signed in."""

    message = "the sync API takes an owner's API token with the sync scope"

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken):
            if not request.auth.has_scope(TokenScope.SYNC):
                self.message = "this API token lacks the scope sync"
                return False
            return is_owner_staff(request.user)
        if request.method in SAFE_METHODS:
            self.message = "only the network owner's staff may read the sync feed"
            return is_owner_staff(request.user)
        self.message = "changes through the sync API take an API token with the sync scope"
        return False


class SyncApiView(APIView):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, SyncAccess]


@extend_schema(tags=["sync"])
class ChangesView(SyncApiView):
    @extend_schema(
        operation_id="sync_changes",
        summary="Address and area changes after a cursor, oldest first",
        description=(
            "Every insert, update, delete (and area retirement) of an address or area, each"
            " with the entity's current state. Resume with `since=next_cursor`: a change is"
            " served only once every transaction that could precede it has ended, so a"
            " change committed late is never skipped. Poll again when `has_more` is false."
        ),
        parameters=[
            OpenApiParameter(
                "since",
                OpenApiTypes.STR,
                description="A `next_cursor` from this feed; 0 or absent: from the start.",
            ),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=f"Changes per page, 1–{feed.MAX_LIMIT} (default {feed.DEFAULT_LIMIT}).",
            ),
        ],
        responses={200: SyncChangesPageSerializer, **ERRORS},
    )
    def get(self, request):
        since = feed.parse_cursor(request.query_params.get("since"))
        limit = feed.parse_limit(request.query_params.get("limit"))
        page = feed.changes_page(since=since, limit=limit)
        data = {
            "changes": page.changes,
            "next_cursor": str(page.next_cursor),
            "has_more": page.has_more,
        }
        return Response(SyncChangesPageSerializer(data).data)


@extend_schema(tags=["sync"])
class AddressUpsertView(SyncApiView):
    @extend_schema(
        operation_id="sync_address_upsert",
        summary="Create or update the address a GIS knows by (system, external id)",
        description=(
            "Idempotent: the same body again changes nothing (200, `changed` false)."
            " 201 when the address was created."
        ),
        request=SyncAddressUpsertSerializer,
        responses={
            200: SyncAddressResultSerializer,
            201: SyncAddressResultSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description="The reference names another address than `address_id`,"
                " or that address already has another id in this system.",
            ),
            **ERRORS,
        },
    )
    def put(self, request, system: str, external_id: str):
        data = dict(validated(SyncAddressUpsertSerializer, request.data))
        result = address_upsert_by_reference(system=system, external_id=external_id, **data)
        address = (
            Address.objects.filter(pk=result.address.pk)
            .annotate(geojson=AsGeoJSON("location", precision=8))
            .prefetch_related("external_refs")
            .get()
        )
        body = {
            "created": result.created,
            "changed": result.changed,
            "feature": feed.address_feature(address),
        }
        return Response(
            SyncAddressResultSerializer(body).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
