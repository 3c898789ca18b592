"""The ISP systems' API: thin views over `wholesale.selectors` (reads) and one service
function per action (writes).

Who: users of an active ISP (their own business) and the owner's staff (every ISP's), by
API token or session. What a token may do follows its scopes: reads need `read`, placing and
cancelling orders `orders`, activating and changing services `services`; a session user may
do all of it. A row of another ISP is never found: a 404, as for an id that does not exist.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Prefetch
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiTokenAuthentication
from accounts.models import ApiToken, Organisation
from accounts.permissions import IsIspUserOrOwnerStaff, is_isp_user
from accounts.roles import TokenScope
from areas.models import Area
from common.api import ErrorSerializer, first_error, validated
from common.errors import DomainError, PermissionDenied
from gis_core.models import Address
from wholesale import activation, notifications, onboarding, selectors, services
from wholesale.isp_api.filters import (
    DeliveryFilter,
    NetworkAreaFilter,
    NotificationFilter,
    OrderFilter,
    ServiceFilter,
)
from wholesale.isp_api.serializers import (
    IspActivationSerializer,
    IspCustomerDetailSerializer,
    IspCustomerSerializer,
    IspDeactivationSerializer,
    IspDeliveryDetailSerializer,
    IspDeliverySerializer,
    IspMaintenanceSerializer,
    IspNetworkAddressSerializer,
    IspNetworkAreaSerializer,
    IspNotificationSerializer,
    IspNotificationsReadResultSerializer,
    IspNotificationsReadSerializer,
    IspOfferingSerializer,
    IspOrderCancelSerializer,
    IspOrderDetailSerializer,
    IspOrderPlaceSerializer,
    IspOrderSerializer,
    IspProductSerializer,
    IspProfileChangeSerializer,
    IspServiceDetailSerializer,
    IspServiceSerializer,
    IspWebhookEndpointInputSerializer,
    IspWebhookEndpointSerializer,
)
from wholesale.lifecycle import LIVE_ORDER_STATUSES
from wholesale.models import (
    Customer,
    IspNotification,
    IspServiceArea,
    MaintenanceWindow,
    Offering,
    Order,
    Product,
    Service,
    ServiceChange,
    WebhookDelivery,
)
from wholesale.serviceability import OUTSIDE, PLANNED, serviceability_for_address

READ = (TokenScope.READ,)
ORDERS = (TokenScope.ORDERS,)
SERVICES = (TokenScope.SERVICES,)
# Redirecting the webhook endpoint diverts notices of orders and services alike.
WEBHOOK_SETTINGS = (TokenScope.ORDERS, TokenScope.SERVICES)

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input; `field` names the input."),
    401: OpenApiResponse(ErrorSerializer, description="No (valid) token and no session."),
    403: OpenApiResponse(
        ErrorSerializer,
        description="Not an active ISP's user nor owner staff, or the token lacks the scope.",
    ),
}
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No such object among yours (another ISP's is not found)."
)
CONFLICT = OpenApiResponse(
    ErrorSerializer, description="Not possible in the object's state (or a duplicate)."
)
ISP_ONLY = OpenApiResponse(
    ErrorSerializer, description="Only an ISP's users may do this (not the owner's staff)."
)


class TokenScopeRequired(BasePermission):
    """A request with an API token needs the scopes the view names for its action
    (`view.scopes_needed`); session users have them all."""

    message = "this API token lacks the scope this endpoint needs"

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiToken):
            return True
        missing = [
            scope for scope in view.scopes_needed(request) if not request.auth.has_scope(scope)
        ]
        if missing:
            self.message = f"this API token lacks the scope {', '.join(missing)}"
            return False
        return True


class IspPagination(LimitOffsetPagination):
    """Pages of `?limit=` (default 50, at most 500) from `?offset=`.

    A page's ids are found first, in a subquery over the bare ordered rows, and only those
    rows are joined with what a list shows: a deep page (offset 10,000 of an ISP's orders)
    then costs about what the first does, not a join of every row before it
    (docs/benchmarks.md, row isp-orders). Still one statement.
    """

    default_limit = 50
    max_limit = 500

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.count = self.get_count(queryset)
        self.offset = self.get_offset(request)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if self.count == 0 or self.offset > self.count:
            return []
        page_ids = queryset.values("pk")[self.offset : self.offset + self.limit]
        return list(queryset.filter(pk__in=page_ids))


def own_isp(request) -> Organisation:
    """The caller's ISP; the owner's staff act for no ISP, so they are refused (403)."""
    if not is_isp_user(request.user):
        raise PermissionDenied(
            "only an ISP's users may do this (the owner's staff act for no ISP)", code="isp_only"
        )
    return request.user.organisation


class IspApiView:
    """What every ISP API view shares: authentication, permissions, scopes, pages, filters."""

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [IsIspUserOrOwnerStaff, TokenScopeRequired]
    pagination_class = IspPagination
    filter_backends = [DjangoFilterBackend]
    lookup_value_regex = r"\d+"
    # action (viewsets) or HTTP method (plain views) → the token scopes it needs; else `read`
    scopes: dict[str, tuple[str, ...]] = {}

    def scopes_needed(self, request) -> tuple[str, ...]:
        key = getattr(self, "action", None) or request.method
        return self.scopes.get(key, READ)

    def filter_queryset(self, queryset):
        try:
            return super().filter_queryset(queryset)
        except ValidationError as exc:
            message, field = first_error(exc.detail)
            raise DomainError(message, code="invalid", field=field) from exc


# --- orders ----------------------------------------------------------------------------------


@extend_schema(tags=["isp"])
class OrderViewSet(
    IspApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The ISP's orders: list, one with its history, place, cancel, activate."""

    queryset = Order.objects.none()  # the schema's model; rows come from get_queryset

    filterset_class = OrderFilter
    scopes = {"create": ORDERS, "cancel": ORDERS, "activate": SERVICES}

    def get_queryset(self):
        orders = selectors.orders_for(self.request.user).order_by("-placed_at", "-id")
        if self.action != "list":
            orders = orders.prefetch_related("status_history")
        return orders

    def get_serializer_class(self):
        return IspOrderSerializer if self.action == "list" else IspOrderDetailSerializer

    def _detail(self, order_id: int) -> dict:
        return IspOrderDetailSerializer(self.get_queryset().get(pk=order_id)).data

    @extend_schema(
        summary="Your orders, newest first", responses={200: IspOrderSerializer, **ERRORS}
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One order with its status history",
        responses={200: IspOrderDetailSerializer, 404: NOT_FOUND, **ERRORS},
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Place an order at an address for one of your offerings",
        description="The address must lie in an area you serve, with orders open (not an"
        " area still being planned), and the offering must be on sale there today. A live"
        " order of yours at the same address and unit is a 409. Needs the `orders` scope;"
        " the owner's staff cannot place orders here (403).",
        request=IspOrderPlaceSerializer,
        responses={201: IspOrderDetailSerializer, 409: CONFLICT, **ERRORS},
    )
    def create(self, request):
        isp = own_isp(request)
        data = validated(IspOrderPlaceSerializer, request.data)
        address = Address.objects.filter(pk=data["address"]).first()
        if address is None:
            raise DomainError(f"no address with id {data['address']}", field="address")
        offering = selectors.offerings_for(request.user).filter(pk=data["offering"]).first()
        if offering is None:
            raise DomainError(f"you have no offering with id {data['offering']}", field="offering")
        customer = data["customer"]
        order = services.isp_order_place(
            isp=isp,
            address=address,
            offering=offering,
            customer_name=customer["name"],
            customer_email=customer["email"],
            customer_phone=customer["phone"],
            unit=data["unit"],
            isp_reference=data["isp_reference"],
            actor=request.user,
        )
        return Response(self._detail(order.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel an order (before its service is active)",
        request=IspOrderCancelSerializer,
        responses={200: IspOrderDetailSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.get_object()
        data = validated(IspOrderCancelSerializer, request.data)
        services.order_cancel(order=order, actor=request.user, reason=data["reason"])
        return Response(self._detail(order.pk))

    @extend_schema(
        summary="Activate the order's service on its connected address",
        description="Binds the ONT serial, VLANs and parameters to the line; the address"
        " becomes activated and billing starts at this instant. Where another ISP's service"
        " is live on the line, this is a switch: it ends at the same instant. Needs the"
        " `services` scope.",
        request=IspActivationSerializer,
        responses={201: IspServiceDetailSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        order = self.get_object()
        data = validated(IspActivationSerializer, request.data)
        product = _product(data["product"]) if data["product"] else None
        service = activation.service_activate(
            order=order,
            ont_serial=data["ont_serial"],
            product=product,
            c_vlan=data["c_vlan"],
            s_vlan=data["s_vlan"],
            parameters=data["parameters"],
            actor=request.user,
            reason=data["reason"],
        )
        body = IspServiceDetailSerializer(_services(request.user).get(pk=service.pk)).data
        return Response(body, status=status.HTTP_201_CREATED)


def _product(code: str) -> Product:
    product = selectors.products_current().filter(code=code).first()
    if product is None:
        raise DomainError(f"no wholesale product {code!r} is on sale today", field="product")
    return product


@extend_schema(tags=["isp"])
class ReadyOrderViewSet(IspApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The ISP's orders at connected addresses, waiting for it to activate them."""

    queryset = Order.objects.none()  # the schema's model; rows come from get_queryset

    filterset_class = OrderFilter
    serializer_class = IspOrderSerializer

    def get_queryset(self):
        return selectors.ready_orders_for(self.request.user).order_by("-status_changed_at", "-pk")

    @extend_schema(
        summary="Orders ready for activation, newest first",
        responses={200: IspOrderSerializer, **ERRORS},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


# --- services --------------------------------------------------------------------------------


def _services(user):
    history = ServiceChange.objects.select_related("from_product", "to_product")
    return selectors.services_for(user).prefetch_related(Prefetch("history", queryset=history))


@extend_schema(tags=["isp"])
class ServiceViewSet(
    IspApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The ISP's services: list, one with its history, deactivate, change profile."""

    queryset = Service.objects.none()  # the schema's model; rows come from get_queryset

    filterset_class = ServiceFilter
    scopes = {"deactivate": SERVICES, "change_profile": SERVICES}

    def get_queryset(self):
        if self.action == "list":
            services_ = selectors.services_for(self.request.user)
        else:
            services_ = _services(self.request.user)
        return services_.order_by("-activated_at", "-id")

    def get_serializer_class(self):
        return IspServiceSerializer if self.action == "list" else IspServiceDetailSerializer

    def _detail(self, service_id: int) -> dict:
        return IspServiceDetailSerializer(self.get_queryset().get(pk=service_id)).data

    @extend_schema(
        summary="Your services, newest first", responses={200: IspServiceSerializer, **ERRORS}
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One service with its history",
        responses={200: IspServiceDetailSerializer, 404: NOT_FOUND, **ERRORS},
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="End a service",
        description="Billing stops at this instant; the order terminates, and the address goes"
        " back to connected when this was its last live service. Needs the `services` scope.",
        request=IspDeactivationSerializer,
        responses={200: IspServiceDetailSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        service = self.get_object()
        data = validated(IspDeactivationSerializer, request.data)
        activation.service_deactivate(service=service, actor=request.user, reason=data["reason"])
        return Response(self._detail(service.pk))

    @extend_schema(
        summary="Move a live service to another wholesale product (upgrade or downgrade)",
        description="Needs the `services` scope.",
        request=IspProfileChangeSerializer,
        responses={200: IspServiceDetailSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="change-profile")
    def change_profile(self, request, pk=None):
        service = self.get_object()
        data = validated(IspProfileChangeSerializer, request.data)
        activation.service_change_profile(
            service=service,
            product=_product(data["product"]),
            actor=request.user,
            reason=data["reason"],
        )
        return Response(self._detail(service.pk))


# --- customers -------------------------------------------------------------------------------


@extend_schema(tags=["isp"])
class CustomerViewSet(
    IspApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The customers with an order of the ISP, each with only the ISP's orders."""

    queryset = Customer.objects.none()  # the schema's model; rows come from get_queryset

    def get_queryset(self):
        return selectors.customers_for(self.request.user).order_by("-created_at", "-pk")

    def get_serializer_class(self):
        return IspCustomerSerializer if self.action == "list" else IspCustomerDetailSerializer

    @extend_schema(
        summary="Your customers, newest first", responses={200: IspCustomerSerializer, **ERRORS}
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One customer with your orders of theirs",
        responses={200: IspCustomerDetailSerializer, 404: NOT_FOUND, **ERRORS},
    )
    def retrieve(self, request, pk=None):
        customer = self.get_object()
        orders = selectors.customer_orders_for(request.user, customer).order_by("-placed_at", "-id")
        customer.orders_seen = list(orders)
        return Response(IspCustomerDetailSerializer(customer).data)


# --- notifications and webhooks --------------------------------------------------------------


@extend_schema(tags=["isp"])
class NotificationViewSet(IspApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """What the ISP was told, newest first; mark them read."""

    queryset = IspNotification.objects.none()  # the schema's model; rows come from get_queryset

    filterset_class = NotificationFilter
    serializer_class = IspNotificationSerializer

    def get_queryset(self):
        return selectors.notifications_for(self.request.user).order_by("-created_at", "-id")

    @extend_schema(
        summary="Your notifications, newest first",
        responses={200: IspNotificationSerializer, **ERRORS},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Mark notifications read (the given ids, or all)",
        description="Ids that are not your notifications are ignored. ISP users only.",
        filters=False,
        request=IspNotificationsReadSerializer,
        responses={200: IspNotificationsReadResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], pagination_class=None)
    def read(self, request):
        isp = own_isp(request)
        data = validated(IspNotificationsReadSerializer, request.data)
        marked = notifications.notifications_mark_read(isp=isp, ids=data["ids"])
        return Response({"marked": marked})


@extend_schema(tags=["isp"])
class DeliveryViewSet(
    IspApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The ISP's webhook deliveries, with their attempt logs; replay one."""

    queryset = WebhookDelivery.objects.none()  # the schema's model; rows come from get_queryset

    filterset_class = DeliveryFilter

    def get_queryset(self):
        deliveries = selectors.deliveries_for(self.request.user).order_by("-created_at", "-id")
        if self.action != "list":
            deliveries = deliveries.prefetch_related("log")
        return deliveries

    def get_serializer_class(self):
        return IspDeliverySerializer if self.action == "list" else IspDeliveryDetailSerializer

    @extend_schema(
        summary="Your webhook deliveries, newest first",
        responses={200: IspDeliverySerializer, **ERRORS},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One delivery with its attempt log",
        responses={200: IspDeliveryDetailSerializer, 404: NOT_FOUND, **ERRORS},
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Send a delivery again",
        description="Queued at once (202); it keeps its delivery id (X-Oanm-Delivery), so a"
        " receiver that has it already can drop it.",
        request=None,
        responses={202: IspDeliveryDetailSerializer, 404: NOT_FOUND, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        delivery = self.get_object()
        notifications.webhook_replay(delivery=delivery, actor=request.user)
        body = IspDeliveryDetailSerializer(self.get_queryset().get(pk=delivery.pk)).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


def _endpoint(isp: Organisation, *, secret: str | None = None) -> dict:
    profile = getattr(isp, "isp_profile", None)
    body = {
        "url": profile.webhook_url if profile else "",
        "has_secret": bool(profile and profile.webhook_secret),
    }
    if secret:
        body["secret"] = secret
    return body


@extend_schema(tags=["isp"])
class WebhookEndpointView(IspApiView, APIView):
    """The ISP's webhook endpoint (ISP users only)."""

    scopes = {"PUT": WEBHOOK_SETTINGS}

    @extend_schema(
        summary="Your webhook endpoint",
        responses={200: IspWebhookEndpointSerializer, **ERRORS, 403: ISP_ONLY},
    )
    def get(self, request):
        return Response(_endpoint(own_isp(request)))

    @extend_schema(
        summary="Set (or with an empty url, remove) your webhook endpoint",
        description="Needs a token with both the `orders` and `services` scopes (it redirects"
        " notices of both). When this first makes a signing secret, the answer shows it.",
        request=IspWebhookEndpointInputSerializer,
        responses={200: IspWebhookEndpointSerializer, **ERRORS, 403: ISP_ONLY},
    )
    def put(self, request):
        isp = own_isp(request)
        data = validated(IspWebhookEndpointInputSerializer, request.data)
        had_secret = _endpoint(isp)["has_secret"]
        profile = onboarding.isp_webhook_set(isp=isp, url=data["url"])
        isp.isp_profile = profile
        return Response(_endpoint(isp, secret=None if had_secret else profile.webhook_secret))


@extend_schema(tags=["isp"])
class WebhookSecretRotateView(IspApiView, APIView):
    """Replace the ISP's signing secret; the answer is the only time it is shown."""

    scopes = {"POST": WEBHOOK_SETTINGS}

    @extend_schema(
        summary="Make a new signing secret (shown once, in this answer)",
        description="Deliveries from now on are signed with it. Needs a token with both the"
        " `orders` and `services` scopes.",
        request=None,
        responses={200: IspWebhookEndpointSerializer, **ERRORS, 403: ISP_ONLY},
    )
    def post(self, request):
        isp = own_isp(request)
        profile = onboarding.isp_webhook_secret_rotate(isp=isp)
        isp.isp_profile = profile
        return Response(_endpoint(isp, secret=profile.webhook_secret))


@extend_schema(tags=["isp"])
class WebhookTestView(IspApiView, APIView):
    """Queue a test delivery to the ISP's endpoint."""

    @extend_schema(
        summary="Send a test delivery to your endpoint",
        description="A `webhook.test` notification, delivered like every other (202).",
        request=None,
        responses={202: IspNotificationSerializer, **ERRORS, 403: ISP_ONLY},
    )
    def post(self, request):
        notification = notifications.webhook_test_send(isp=own_isp(request), actor=request.user)
        notification = selectors.notifications_for(request.user).get(pk=notification.pk)
        return Response(
            IspNotificationSerializer(notification).data, status=status.HTTP_202_ACCEPTED
        )


# --- catalog ---------------------------------------------------------------------------------


@extend_schema(tags=["isp"])
class OfferingViewSet(IspApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The ISP's own retail offerings."""

    queryset = Offering.objects.none()  # the schema's model; rows come from get_queryset

    serializer_class = IspOfferingSerializer

    def get_queryset(self):
        return selectors.offerings_for(self.request.user).order_by("-valid_from", "-id")

    @extend_schema(
        summary="Your offerings, newest first", responses={200: IspOfferingSerializer, **ERRORS}
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


@extend_schema(tags=["isp"])
class ProductViewSet(IspApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The owner's wholesale products on sale today (every ISP reads the same)."""

    queryset = Product.objects.none()  # the schema's model; rows come from get_queryset

    serializer_class = IspProductSerializer

    def get_queryset(self):
        return selectors.products_current().order_by("-valid_from", "code")

    @extend_schema(
        summary="The owner's wholesale products on sale today, newest first",
        responses={200: IspProductSerializer, **ERRORS},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


# --- the network every ISP may read ----------------------------------------------------------


@extend_schema(tags=["isp"])
class NetworkAddressView(IspApiView, APIView):
    """Any address's status and serviceability, as every ISP may see it."""

    @extend_schema(
        summary="Status and serviceability of any address",
        description="The address's lifecycle status and the answer of the lookup, with only"
        " your own offerings and your own live orders there: nothing of other ISPs.",
        responses={200: IspNetworkAddressSerializer, 404: NOT_FOUND, **ERRORS},
    )
    def get(self, request, pk: int):
        answer = serviceability_for_address(pk)
        address_status = Address.objects.filter(pk=pk).values_list("status", flat=True).first()
        isp_id = selectors.isp_scope(request.user)
        offerings = [
            {"id": offer["id"], "name": offer["name"]}
            for offer in answer.offerings
            if isp_id is None or offer["isp"]["id"] == isp_id
        ]
        area = answer.area
        served = area is not None and (
            IspServiceArea.objects.filter(area_id=area["id"]).exists()
            if isp_id is None
            else IspServiceArea.objects.filter(area_id=area["id"], isp_id=isp_id).exists()
        )
        orders = selectors.orders_for(request.user).filter(
            address_id=pk, status__in=LIVE_ORDER_STATUSES
        )
        body = {
            "address": {**answer.address, "status": address_status},
            "state": answer.state,
            "area": {key: area[key] for key in ("id", "code", "name", "phase")} if area else None,
            "window": answer.window,
            "served": served,
            "can_order": served and answer.state not in (PLANNED, OUTSIDE) and bool(offerings),
            "offerings": offerings,
            "orders": [
                {
                    "id": order.pk,
                    "reference": order.reference,
                    "isp_reference": order.isp_reference,
                    "status": order.status,
                }
                for order in orders.order_by("-placed_at", "-id")
            ],
        }
        return Response(IspNetworkAddressSerializer(body).data)


FOUR_PLACES = Decimal("0.0001")


def _area_progress(area) -> dict:
    figures = getattr(area, "figures", None)
    addresses = figures.addresses if figures else 0
    progress = Decimal(area.connected) / addresses if addresses else Decimal(0)
    return {
        "id": area.pk,
        "code": area.code,
        "name": area.name,
        "phase": area.phase,
        "phase_changed_at": area.phase_changed_at,
        "expected_connection_from": area.expected_connection_from,
        "expected_connection_until": area.expected_connection_until,
        "homes": figures.homes if figures else 0,
        "addresses": addresses,
        "connected": area.connected,
        "activated": area.activated,
        "build_progress": progress.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP),
    }


@extend_schema(tags=["isp"])
class NetworkAreaViewSet(IspApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The network's areas: phase, homes and build progress (shared by every ISP)."""

    queryset = Area.objects.none()  # the schema's model; rows come from get_queryset

    filterset_class = NetworkAreaFilter
    serializer_class = IspNetworkAreaSerializer

    def get_queryset(self):
        return selectors.areas_build_progress()

    @extend_schema(
        summary="Areas with their phase, homes and build progress, by code",
        responses={200: IspNetworkAreaSerializer, **ERRORS},
    )
    def list(self, request, *args, **kwargs):
        areas = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        body = IspNetworkAreaSerializer([_area_progress(area) for area in areas], many=True).data
        return self.get_paginated_response(body)


@extend_schema(tags=["isp"])
class MaintenanceViewSet(IspApiView, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Planned maintenance not yet over, soonest first (shared by every ISP)."""

    queryset = MaintenanceWindow.objects.none()  # the schema's model; rows come from get_queryset

    serializer_class = IspMaintenanceSerializer

    def get_queryset(self):
        return selectors.maintenance_upcoming().order_by("starts_at", "id")

    @extend_schema(
        summary="Planned maintenance not yet over, soonest first",
        responses={200: IspMaintenanceSerializer, **ERRORS},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
