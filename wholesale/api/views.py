"""The customers' lookup API: serviceability, signups, interests and installation booking.

Public (no login), throttled per client (scope "lookup"). Session-authenticated writes still
need the CSRF token; anonymous POSTs work without a session. No answer ever says who lives
at an address or who ordered there.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ErrorSerializer, validated
from common.errors import DomainError, NotFound
from gis_core.models import Address
from wholesale import services
from wholesale.api.serializers import (
    BookingInputSerializer,
    BookingSerializer,
    InterestInputSerializer,
    InterestSerializer,
    OrderSlotsSerializer,
    ServiceabilitySerializer,
    SignupInputSerializer,
    SignupSerializer,
)
from wholesale.api.throttling import LookupThrottled
from wholesale.connection_cost import order_connection_cost
from wholesale.emails import manage_url
from wholesale.models import Booking, InstallationSlot, Offering, Order
from wholesale.selectors import available_slots
from wholesale.serviceability import serviceability_at_point, serviceability_for_address

THROTTLED = OpenApiResponse(ErrorSerializer, description="Too many requests: try again later.")
BAD = OpenApiResponse(ErrorSerializer, description="Bad input; `field` names the input at fault.")


def _address(address_id: int) -> Address:
    address = Address.objects.filter(pk=address_id).first()
    if address is None:
        raise DomainError(f"no address with id {address_id}", code="invalid", field="address")
    return address


class PublicView(LookupThrottled, APIView):
    """A public lookup endpoint: anyone may call it, within the throttle."""

    permission_classes = [AllowAny]


@extend_schema(tags=["lookup"])
class ServiceabilityView(PublicView):
    @extend_schema(
        summary="Can fibre be had here, and when?",
        description="By `address` (an id from the address search), or by `lat` and `lon`"
        " (the nearest address within 30 m, else the area there). The answer comes from the"
        " network's real state at the moment of asking.",
        parameters=[
            OpenApiParameter("address", OpenApiTypes.INT, description="An address id."),
            OpenApiParameter("lat", OpenApiTypes.FLOAT, description="Latitude (WGS 84)."),
            OpenApiParameter("lon", OpenApiTypes.FLOAT, description="Longitude (WGS 84)."),
        ],
        responses={
            200: ServiceabilitySerializer,
            400: BAD,
            404: OpenApiResponse(ErrorSerializer, description="No such address."),
            429: THROTTLED,
        },
    )
    def get(self, request):
        params = request.query_params
        address = params.get("address")
        lat, lon = params.get("lat"), params.get("lon")
        if address not in (None, "") and (lat is not None or lon is not None):
            raise DomainError(
                "give either address, or lat and lon, not both", code="invalid", field="address"
            )
        if address not in (None, ""):
            answer = serviceability_for_address(address)
        elif lat is not None or lon is not None:
            if lat in (None, ""):
                raise DomainError("lat is required with lon", code="invalid", field="lat")
            if lon in (None, ""):
                raise DomainError("lon is required with lat", code="invalid", field="lon")
            answer = serviceability_at_point(lon=lon, lat=lat)
        else:
            raise DomainError(
                "give an address id (?address=) or a point (?lat=&lon=)",
                code="invalid",
                field="address",
            )
        return Response(answer.as_dict())


@extend_schema(tags=["lookup"])
class SignupView(PublicView):
    @extend_schema(
        summary="Sign up at an address",
        description="Creates the customer and the order, snapshots the connection-cost terms"
        " and emails the confirmation with the link to manage the order. A second signup at"
        " the same address and unit while one is live: 409 `duplicate_signup`.",
        request=SignupInputSerializer,
        responses={
            201: SignupSerializer,
            400: BAD,
            409: OpenApiResponse(ErrorSerializer, description="A signup is already live here."),
            429: THROTTLED,
        },
    )
    def post(self, request):
        data = validated(SignupInputSerializer, request.data)
        address = _address(data["address"])
        offering = None
        if data["offering"] is not None:
            offering = Offering.objects.select_related("isp").filter(pk=data["offering"]).first()
            if offering is None:
                raise DomainError(
                    f"no offering with id {data['offering']}", code="invalid", field="offering"
                )
        order = services.signup_place(
            address=address,
            offering=offering,
            connection_only=data["connection_only"],
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            consent=data["consent"],
            unit=data["unit"],
        )
        order = Order.objects.select_related("connection_cost_billed_by").get(pk=order.pk)
        body = {
            "reference": order.reference,
            "manage_token": order.manage_token,
            "manage_url": manage_url(order),
            "status": order.status,
            "connection_cost": order_connection_cost(order),
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["lookup"])
class InterestView(PublicView):
    @extend_schema(
        summary="Register interest at an address",
        description="Non-binding; counts in the area's demand. The same email at the same"
        " address twice: 409 `duplicate_interest`.",
        request=InterestInputSerializer,
        responses={201: InterestSerializer, 400: BAD, 409: BAD, 429: THROTTLED},
    )
    def post(self, request):
        data = validated(InterestInputSerializer, request.data)
        registration = services.interest_place(
            address=_address(data["address"]),
            name=data["name"],
            email=data["email"],
            consent=data["consent"],
        )
        body = {
            "address": registration.address_id,
            "registered_at": registration.interest.registered_at,
            "detail": "Thank you: your interest is registered.",
        }
        return Response(InterestSerializer(body).data, status=status.HTTP_201_CREATED)


def _order(token: str) -> Order:
    order = (
        Order.objects.select_related("address").filter(manage_token=token).first()
        if token
        else None
    )
    if order is None:
        raise NotFound("no order has this link; check the link in your confirmation email")
    return order


def _slot(slot: InstallationSlot) -> dict:
    return {
        "id": slot.pk,
        "starts_at": slot.starts_at,
        "ends_at": slot.ends_at,
        "spaces_left": slot.spaces_left,
    }


def _booking(booking: Booking | None) -> dict | None:
    if booking is None:
        return None
    return {
        "id": booking.pk,
        "status": booking.status,
        "slot": _slot(booking.slot),
        "booked_at": booking.booked_at,
    }


TOKEN = OpenApiParameter(
    "token", OpenApiTypes.STR, OpenApiParameter.PATH, description="The order's manage token."
)


@extend_schema(tags=["lookup"], parameters=[TOKEN])
class OrderSlotsView(PublicView):
    @extend_schema(
        summary="The order's booking and the installation windows it can book",
        responses={200: OrderSlotsSerializer, 404: BAD, 429: THROTTLED},
    )
    def get(self, request, token: str):
        order = _order(token)
        body = {
            "reference": order.reference,
            "status": order.status,
            "booking": _booking(order.active_booking),
            "slots": [_slot(slot) for slot in available_slots(order)[:200]],
        }
        return Response(OrderSlotsSerializer(body).data)


@extend_schema(tags=["lookup"], parameters=[TOKEN])
class OrderBookingView(PublicView):
    @extend_schema(
        summary="Book (or move) the installation appointment",
        description="Books the window; when the order has an appointment already, moves it"
        " there (the old one is kept as rescheduled). A full window: 409 `slot_full`.",
        request=BookingInputSerializer,
        responses={
            200: OpenApiResponse(BookingSerializer, description="Rescheduled."),
            201: OpenApiResponse(BookingSerializer, description="Booked."),
            400: BAD,
            404: BAD,
            409: BAD,
            429: THROTTLED,
        },
    )
    def post(self, request, token: str):
        order = _order(token)
        data = validated(BookingInputSerializer, request.data)
        slot = InstallationSlot.objects.filter(pk=data["slot"]).first()
        if slot is None:
            raise DomainError(
                f"no installation window with id {data['slot']}", code="invalid", field="slot"
            )
        current = order.active_booking
        if current is None:
            booking = services.booking_create(order=order, slot=slot)
            code = status.HTTP_201_CREATED
        else:
            booking = services.booking_reschedule(booking=current, slot=slot)
            code = status.HTTP_200_OK
        booking = Booking.objects.select_related("slot").get(pk=booking.pk)
        return Response(BookingSerializer(_booking(booking)).data, status=code)

    @extend_schema(
        summary="Cancel the installation appointment",
        request=None,
        responses={200: BookingSerializer, 404: BAD, 429: THROTTLED},
    )
    def delete(self, request, token: str):
        order = _order(token)
        current = order.active_booking
        if current is None:
            raise NotFound("this order has no installation appointment to cancel")
        booking = services.booking_cancel(booking=current)
        booking = Booking.objects.select_related("slot").get(pk=booking.pk)
        return Response(BookingSerializer(_booking(booking)).data)
