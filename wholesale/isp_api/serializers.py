"""Shapes of the ISP API: what an ISP reads of its business and of the shared network, and
the inputs of its actions.

Outputs name no other ISP: an order, service, customer or delivery carries its own `isp`
(the caller's, or any for the owner's staff); histories carry no actor (a switch is made by
another ISP's user) and a service does not link to the service it took over from.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api import StrictInputSerializer
from gis_core.lifecycle import AddressStatus
from wholesale.activation import MAX_VLAN
from wholesale.lifecycle import (
    NotificationKind,
    OrderStatus,
    ServiceChangeKind,
    ServiceStatus,
    WebhookStatus,
)
from wholesale.models import (
    Customer,
    IspNotification,
    MaintenanceWindow,
    Offering,
    Order,
    OrderStatusChange,
    Product,
    Service,
    ServiceChange,
    WebhookAttempt,
    WebhookDelivery,
)
from wholesale.serviceability import STATES

# --- small references ------------------------------------------------------------------------


class IspOrganisationRefSerializer(serializers.Serializer):
    """The ISP a row belongs to (the caller's own, unless the caller is the owner's staff)."""

    id = serializers.IntegerField()
    name = serializers.CharField()


class IspAddressRefSerializer(serializers.Serializer):
    """An address as a row names it: id, label and lifecycle status."""

    id = serializers.IntegerField()
    label = serializers.CharField()
    status = serializers.ChoiceField(choices=AddressStatus.choices)


class IspCustomerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField()


class IspOfferingRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class IspProductRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    download_mbps = serializers.IntegerField()
    upload_mbps = serializers.IntegerField()


class IspServiceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=ServiceStatus.choices)


class IspOrderRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reference = serializers.CharField()
    isp_reference = serializers.CharField()
    status = serializers.ChoiceField(choices=OrderStatus.choices)


# --- orders ----------------------------------------------------------------------------------


class IspOrderSerializer(serializers.ModelSerializer):
    """An ISP's order: where, for whom, for which offering, and where it stands."""

    isp = IspOrganisationRefSerializer()
    address = IspAddressRefSerializer()
    customer = IspCustomerRefSerializer(allow_null=True)
    offering = IspOfferingRefSerializer(allow_null=True)
    service = IspServiceRefSerializer(
        allow_null=True,
        read_only=True,
        help_text="The order's service once it was activated, else null.",
    )
    monthly_price = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text="The retail price as it stood when the order was placed.",
    )

    class Meta:
        model = Order
        fields = (
            "id",
            "reference",
            "isp_reference",
            "status",
            "status_changed_at",
            "placed_at",
            "isp",
            "address",
            "unit",
            "customer",
            "offering",
            "monthly_price",
            "price_currency",
            "service",
        )


class IspOrderStatusChangeSerializer(serializers.ModelSerializer):
    """A step of an order's history (no actor: it may be another ISP's user)."""

    class Meta:
        model = OrderStatusChange
        fields = ("from_status", "to_status", "reason", "changed_at")


class IspOrderDetailSerializer(IspOrderSerializer):
    """An order with its status history."""

    history = IspOrderStatusChangeSerializer(many=True, source="status_history")

    class Meta(IspOrderSerializer.Meta):
        fields = (*IspOrderSerializer.Meta.fields, "history")


class IspCustomerInputSerializer(StrictInputSerializer):
    """The ISP's customer for a new order."""

    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class IspOrderPlaceSerializer(StrictInputSerializer):
    """Place an order at an address for one of the ISP's offerings."""

    address = serializers.IntegerField(min_value=1, help_text="An address id.")
    offering = serializers.IntegerField(min_value=1, help_text="One of your offerings' id.")
    customer = IspCustomerInputSerializer()
    unit = serializers.CharField(
        max_length=60, required=False, allow_blank=True, default="", help_text="Flat or unit."
    )
    isp_reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your own reference for the order.",
    )


class IspOrderCancelSerializer(StrictInputSerializer):
    """Why the order is cancelled."""

    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class IspActivationSerializer(StrictInputSerializer):
    """What the ISP binds to the line when it activates its service."""

    ont_serial = serializers.CharField(max_length=64, help_text="The ONT/CPE serial.")
    product = serializers.SlugField(
        max_length=60,
        required=False,
        allow_null=True,
        default=None,
        help_text="A wholesale product code; default: the ordered offering's product.",
    )
    c_vlan = serializers.IntegerField(
        min_value=1, max_value=MAX_VLAN, required=False, allow_null=True, default=None
    )
    s_vlan = serializers.IntegerField(
        min_value=1, max_value=MAX_VLAN, required=False, allow_null=True, default=None
    )
    parameters = serializers.DictField(
        required=False, default=dict, help_text="Further profile settings, as you need them."
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


# --- services --------------------------------------------------------------------------------


class IspServiceSerializer(serializers.ModelSerializer):
    """A service: the network contract of an active order."""

    isp = IspOrganisationRefSerializer()
    order = IspOrderRefSerializer()
    address = IspAddressRefSerializer()
    product = IspProductRefSerializer()

    class Meta:
        model = Service
        fields = (
            "id",
            "reference",
            "status",
            "isp",
            "order",
            "address",
            "unit",
            "product",
            "wholesale_monthly_fee",
            "currency",
            "ont_serial",
            "c_vlan",
            "s_vlan",
            "parameters",
            "activated_at",
            "ended_at",
            "end_reason",
        )


class IspServiceChangeSerializer(serializers.ModelSerializer):
    """A step of a service's history: activation, profile changes, its end."""

    kind = serializers.ChoiceField(choices=ServiceChangeKind.choices)
    from_product = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_product = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = ServiceChange
        fields = ("kind", "from_product", "to_product", "reason", "at")


class IspServiceDetailSerializer(IspServiceSerializer):
    """A service with its history."""

    history = IspServiceChangeSerializer(many=True)

    class Meta(IspServiceSerializer.Meta):
        fields = (*IspServiceSerializer.Meta.fields, "history")


class IspDeactivationSerializer(StrictInputSerializer):
    """Why the service ends."""

    reason = serializers.CharField(max_length=500)


class IspProfileChangeSerializer(StrictInputSerializer):
    """The wholesale product (speed profile) the service moves to."""

    product = serializers.SlugField(max_length=60, help_text="A wholesale product code.")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


# --- customers -------------------------------------------------------------------------------


class IspCustomerSerializer(serializers.ModelSerializer):
    """A customer with an order of the caller's ISP."""

    class Meta:
        model = Customer
        fields = ("id", "name", "email", "phone", "created_at")


class IspCustomerDetailSerializer(IspCustomerSerializer):
    """A customer with the caller's orders of theirs (never another ISP's)."""

    orders = IspOrderSerializer(
        many=True, source="orders_seen", help_text="Only the caller's orders of theirs."
    )

    class Meta(IspCustomerSerializer.Meta):
        fields = (*IspCustomerSerializer.Meta.fields, "orders")


# --- notifications and webhooks --------------------------------------------------------------


class IspNotificationSerializer(serializers.ModelSerializer):
    """Something the ISP was told; `delivery` is its webhook delivery, if it has one."""

    isp = IspOrganisationRefSerializer()
    kind = serializers.ChoiceField(choices=NotificationKind.choices)
    delivery = serializers.SerializerMethodField()

    class Meta:
        model = IspNotification
        fields = (
            "id",
            "uid",
            "isp",
            "kind",
            "topic",
            "message",
            "address",
            "order",
            "service",
            "data",
            "created_at",
            "read_at",
            "delivery",
        )

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "id": {"type": "integer"},
                "status": {"type": "string", "enum": list(WebhookStatus.values)},
            },
        }
    )
    def get_delivery(self, notification: IspNotification):
        delivery = getattr(notification, "delivery", None)
        return {"id": delivery.pk, "status": delivery.status} if delivery else None


class IspNotificationsReadSerializer(StrictInputSerializer):
    """Which notifications to mark read; none given: all of them."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_null=True,
        default=None,
        max_length=1000,
    )


class IspNotificationsReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many were unread and are read now.")


class IspNotificationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.UUIDField(help_text="The receiver's idempotency key (X-Oanm-Delivery).")
    topic = serializers.CharField()
    message = serializers.CharField()
    created_at = serializers.DateTimeField()


class IspDeliverySerializer(serializers.ModelSerializer):
    """A webhook delivery: its notification, where it stands and how often it was tried."""

    isp = IspOrganisationRefSerializer()
    notification = IspNotificationRefSerializer()

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "isp",
            "notification",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
            "replays",
        )


class IspAttemptSerializer(serializers.ModelSerializer):
    """One POST of a delivery and what came back."""

    class Meta:
        model = WebhookAttempt
        fields = (
            "attempted_at",
            "url",
            "status_code",
            "response_body",
            "error",
            "duration_ms",
            "replay",
        )


class IspDeliveryDetailSerializer(IspDeliverySerializer):
    """A delivery with its attempt log."""

    log = IspAttemptSerializer(many=True)

    class Meta(IspDeliverySerializer.Meta):
        fields = (*IspDeliverySerializer.Meta.fields, "log")


class IspWebhookEndpointSerializer(serializers.Serializer):
    """The ISP's webhook endpoint; the secret only in the answer that made it."""

    url = serializers.CharField(allow_blank=True, help_text="Empty: no webhooks are sent.")
    has_secret = serializers.BooleanField(help_text="Whether a signing secret exists.")
    secret = serializers.CharField(
        required=False,
        help_text="The signing secret: only in the answer to rotate-secret (or to the PUT"
        " that created it). Keep it; it is never shown again.",
    )


class IspWebhookEndpointInputSerializer(StrictInputSerializer):
    """Set (or with an empty string, remove) the webhook endpoint."""

    url = serializers.CharField(max_length=500, allow_blank=True)


# --- catalog ---------------------------------------------------------------------------------


class IspProductSerializer(serializers.ModelSerializer):
    """The owner's wholesale product: a speed profile and its wholesale fees."""

    class Meta:
        model = Product
        fields = (
            "code",
            "name",
            "download_mbps",
            "upload_mbps",
            "monthly_fee",
            "one_time_fee",
            "currency",
            "valid_from",
            "valid_to",
        )


class IspOfferingSerializer(serializers.ModelSerializer):
    """One of the ISP's retail offerings on a wholesale product."""

    isp = IspOrganisationRefSerializer()
    product = IspProductRefSerializer()
    areas = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Only in these areas; empty: all the ISP serves."
    )

    class Meta:
        model = Offering
        fields = (
            "id",
            "isp",
            "name",
            "product",
            "monthly_price",
            "setup_fee",
            "currency",
            "contract_months",
            "notice_days",
            "terms",
            "valid_from",
            "valid_to",
            "areas",
        )


# --- the shared network ----------------------------------------------------------------------


class IspNetworkAreaRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    phase = serializers.CharField()


class IspNetworkPlaceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    label = serializers.CharField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    status = serializers.ChoiceField(choices=AddressStatus.choices)


class IspNetworkWindowSerializer(serializers.Serializer):
    """When homes here are expected to be connected (dates, inclusive)."""

    def get_fields(self):
        return {"from": serializers.DateField(), "until": serializers.DateField()}


class IspNetworkAddressSerializer(serializers.Serializer):
    """An address as every ISP may see it: its status and serviceability, with the caller's
    own offerings there and the caller's own live orders at it — nothing of other ISPs."""

    address = IspNetworkPlaceSerializer()
    state = serializers.ChoiceField(choices=[(state, state) for state in STATES])
    area = IspNetworkAreaRefSerializer(allow_null=True)
    window = IspNetworkWindowSerializer(allow_null=True)
    served = serializers.BooleanField(help_text="The address is in an area you serve.")
    can_order = serializers.BooleanField(
        help_text="Orders are taken here and you have an offering on sale."
    )
    offerings = IspOfferingRefSerializer(many=True, help_text="Your offerings on sale here.")
    orders = IspOrderRefSerializer(many=True, help_text="Your live orders at this address.")


class IspNetworkAreaSerializer(serializers.Serializer):
    """An area's phase and build progress (shared by every ISP; no demand per ISP)."""

    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    phase = serializers.CharField()
    phase_changed_at = serializers.DateTimeField(allow_null=True)
    expected_connection_from = serializers.DateField(allow_null=True)
    expected_connection_until = serializers.DateField(allow_null=True)
    homes = serializers.IntegerField(help_text="Homes in the area, counting MDU units.")
    addresses = serializers.IntegerField()
    connected = serializers.IntegerField(help_text="Addresses connected or activated.")
    activated = serializers.IntegerField(help_text="Addresses with a live service.")
    build_progress = serializers.DecimalField(
        max_digits=7,
        decimal_places=4,
        coerce_to_string=False,
        help_text="Connected and activated addresses ÷ addresses (0–1).",
    )


class IspMaintenanceSerializer(serializers.ModelSerializer):
    """Planned work on the network (an area, or the whole network when `area` is null)."""

    area = IspNetworkAreaRefSerializer(allow_null=True)

    class Meta:
        model = MaintenanceWindow
        fields = (
            "id",
            "area",
            "starts_at",
            "ends_at",
            "title",
            "description",
            "service_affecting",
        )
