"""What the ISP API's lists can be narrowed by (django-filter FilterSets)."""

from django import forms
from django.db.models import Q
from django_filters import rest_framework as filters

from areas.lifecycle import AreaPhase
from areas.models import Area
from wholesale.lifecycle import NotificationKind, OrderStatus, ServiceStatus, WebhookStatus
from wholesale.models import IspNotification, Order, Service, WebhookDelivery


class _CommaSeparatedChoices(forms.MultipleChoiceField):
    """Takes `?status=a&status=b` and `?status=a,b` alike."""

    def clean(self, value):
        value = [part.strip() for item in value or [] for part in str(item).split(",")]
        return super().clean([part for part in value if part])


class ChoicesFilter(filters.MultipleChoiceFilter):
    """One or more values of a choice field, repeated or comma-separated."""

    field_class = _CommaSeparatedChoices


class OrderFilter(filters.FilterSet):
    """`GET /api/isp/orders/`: status, when placed, address, reference search, ISP."""

    status = ChoicesFilter(
        choices=OrderStatus.choices, help_text="One or more statuses (repeat or comma-separate)."
    )
    placed_after = filters.IsoDateTimeFilter(
        field_name="placed_at", lookup_expr="gte", help_text="Placed at or after (ISO 8601)."
    )
    placed_before = filters.IsoDateTimeFilter(
        field_name="placed_at", lookup_expr="lt", help_text="Placed before (ISO 8601)."
    )
    address = filters.NumberFilter(field_name="address_id", help_text="At this address id.")
    search = filters.CharFilter(
        method="filter_search", help_text="Reference or your own reference contains it."
    )
    isp = filters.NumberFilter(field_name="isp_id", help_text="Owner staff: one ISP's orders.")

    class Meta:
        model = Order
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(reference__icontains=value) | Q(isp_reference__icontains=value))


class ServiceFilter(filters.FilterSet):
    """`GET /api/isp/services/`: status, address, ISP."""

    status = ChoicesFilter(choices=ServiceStatus.choices, help_text="active or ended.")
    address = filters.NumberFilter(field_name="address_id", help_text="At this address id.")
    isp = filters.NumberFilter(field_name="isp_id", help_text="Owner staff: one ISP's services.")

    class Meta:
        model = Service
        fields: list[str] = []


class NotificationFilter(filters.FilterSet):
    """`GET /api/isp/notifications/`: unread only, kind."""

    unread = filters.BooleanFilter(
        field_name="read_at", lookup_expr="isnull", help_text="true: only unread ones."
    )
    kind = ChoicesFilter(choices=NotificationKind.choices)

    class Meta:
        model = IspNotification
        fields: list[str] = []


class DeliveryFilter(filters.FilterSet):
    """`GET /api/isp/webhooks/`: status."""

    status = ChoicesFilter(choices=WebhookStatus.choices)

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []


class NetworkAreaFilter(filters.FilterSet):
    """`GET /api/isp/network/areas/`: phase, code or name search."""

    phase = ChoicesFilter(choices=AreaPhase.choices)
    search = filters.CharFilter(method="filter_search", help_text="Code or name contains it.")

    class Meta:
        model = Area
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))
