"""Shapes of the lookup API: the serviceability answer, signups, interests and bookings.

The serviceability answer is built by `wholesale.serviceability` (one SQL statement) and sent
as it is; `ServiceabilitySerializer` describes it for the OpenAPI schema, and a test holds
the two to the same fields.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api import StrictInputSerializer
from wholesale.lifecycle import BookingStatus, InvoicingStage, OrderStatus
from wholesale.serviceability import STATES

MONEY_TEXT = {"help_text": 'An amount as a string with two decimals, e.g. "39.90".'}


# --- the answer -----------------------------------------------------------------------------


class PlaceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()


@extend_schema_field({"type": "object", "description": "A GeoJSON geometry (simplified)."})
class GeometryField(serializers.JSONField):
    pass


class AreaRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    phase = serializers.CharField()
    boundary = GeometryField()


class WindowSerializer(serializers.Serializer):
    """When homes here are expected to be connected (dates, inclusive)."""

    def get_fields(self):
        return {
            "from": serializers.DateField(help_text="First day."),
            "until": serializers.DateField(help_text="Last day."),
        }


class DemandSerializer(serializers.Serializer):
    """The area's demand against its target (aggregates only, never who signed up)."""

    homes = serializers.IntegerField()
    orders = serializers.IntegerField(help_text="Homes with a live signup.")
    take_rate = serializers.CharField(help_text='Homes with a signup ÷ homes, e.g. "0.3876".')
    target_take_rate = serializers.CharField()
    orders_to_target = serializers.IntegerField(help_text="More signups needed for the target.")


class IspRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    logo_url = serializers.CharField(allow_null=True)


class OfferingSerializer(serializers.Serializer):
    """An ISP's offering available at the address today."""

    id = serializers.IntegerField()
    isp = IspRefSerializer()
    name = serializers.CharField()
    download_mbps = serializers.IntegerField()
    upload_mbps = serializers.IntegerField()
    monthly_price = serializers.CharField(**MONEY_TEXT)
    currency = serializers.CharField()
    setup_fee = serializers.CharField(**MONEY_TEXT)
    contract_months = serializers.IntegerField()
    notice_days = serializers.IntegerField()
    terms = serializers.CharField(allow_blank=True)


class ConnectionCostSerializer(serializers.Serializer):
    """What connecting the home costs, shown before any subscription price."""

    total = serializers.CharField(**MONEY_TEXT)
    deposit = serializers.CharField(allow_null=True, **MONEY_TEXT)
    remaining_after_deposit = serializers.CharField(**MONEY_TEXT)
    max_installment = serializers.CharField(allow_null=True, **MONEY_TEXT)
    installments = serializers.IntegerField(help_text="Monthly rows the rest is split into.")
    installment_amount = serializers.CharField(help_text="The (largest) monthly row.")
    invoicing_starts = serializers.ChoiceField(choices=InvoicingStage.choices)
    invoicing_starts_label = serializers.CharField()
    billed_by = serializers.CharField()
    currency = serializers.CharField()


class ServiceabilitySerializer(serializers.Serializer):
    """Whether and when fibre can be had at an address (or a point), and what is on offer."""

    state = serializers.ChoiceField(choices=STATES)
    headline = serializers.CharField()
    detail = serializers.CharField()
    address = PlaceSerializer(allow_null=True)
    area = AreaRefSerializer(allow_null=True)
    window = WindowSerializer(allow_null=True)
    demand = DemandSerializer(allow_null=True)
    offerings = OfferingSerializer(many=True)
    connection_cost = ConnectionCostSerializer(allow_null=True)
    can_sign_up = serializers.BooleanField()
    can_register_interest = serializers.BooleanField()
    connection_only_available = serializers.BooleanField()
    booking_open = serializers.BooleanField()


# --- signups and interests ------------------------------------------------------------------


class SignupInputSerializer(StrictInputSerializer):
    """A signup at an address: an offering, or the connection only; the customer's details."""

    address = serializers.IntegerField(min_value=1)
    offering = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    connection_only = serializers.BooleanField(required=False, default=False)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    consent = serializers.BooleanField(help_text="Agreement to the terms; must be true.")
    unit = serializers.CharField(
        max_length=60, required=False, allow_blank=True, default="", help_text="Flat or unit."
    )


class SignupSerializer(serializers.Serializer):
    """The order made: its reference, the secret of the manage link, its connection cost."""

    reference = serializers.CharField()
    manage_token = serializers.CharField(help_text="Keep it secret: it manages the order.")
    manage_url = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    connection_cost = ConnectionCostSerializer(allow_null=True)


class InterestInputSerializer(StrictInputSerializer):
    address = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    consent = serializers.BooleanField()


class InterestSerializer(serializers.Serializer):
    address = serializers.IntegerField()
    registered_at = serializers.DateTimeField()
    detail = serializers.CharField()


# --- booking --------------------------------------------------------------------------------


class SlotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    spaces_left = serializers.IntegerField()


class BookingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BookingStatus.choices)
    slot = SlotSerializer()
    booked_at = serializers.DateTimeField()


class OrderSlotsSerializer(serializers.Serializer):
    """The order's installation booking and the windows it can (re)book."""

    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    booking = BookingSerializer(allow_null=True)
    slots = SlotSerializer(many=True)


class BookingInputSerializer(StrictInputSerializer):
    slot = serializers.IntegerField(min_value=1)
