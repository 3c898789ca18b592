"""The ISP portal's forms: filters of its lists, and the inputs of each service it calls.

The forms check the shape of what was typed (a number is a number, a field is filled); the
rules of the network (what an ONT serial looks like, which product is valid when) stay in the
services, whose refusals the views put back on these forms.
"""

from __future__ import annotations

from django import forms

from accounts.models import Organisation
from accounts.roles import OrganisationKind
from wholesale.activation import MAX_VLAN
from wholesale.lifecycle import OrderStatus, ServiceStatus, WebhookStatus
from wholesale.models import Product
from wholesale.onboarding import ISP_TOKEN_SCOPES
from wholesale.selectors import products_current

SEARCH_MAX = 100


def _all(label: str, choices) -> list[tuple[str, str]]:
    return [("", label), *choices]


class IspFilterMixin(forms.Form):
    """The ISP filter the owner's staff get on every list (removed for ISP users)."""

    isp = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(kind=OrganisationKind.ISP).order_by("name"),
        required=False,
        empty_label="all ISPs",
        label="ISP",
    )

    def __init__(self, *args, staff: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not staff:
            del self.fields["isp"]


class OrderFilterForm(IspFilterMixin):
    """Filter the order list by status and by a search over reference, address and customer."""

    status = forms.ChoiceField(choices=_all("any status", OrderStatus.choices), required=False)
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=SEARCH_MAX,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "reference, address or customer"}
        ),
    )


class ServiceFilterForm(IspFilterMixin):
    """Filter the service list by status and by a search over reference, ONT and address."""

    status = forms.ChoiceField(choices=_all("any status", ServiceStatus.choices), required=False)
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=SEARCH_MAX,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "reference, ONT or address"}
        ),
    )


class CustomerFilterForm(IspFilterMixin):
    """Search the customers by name or e-mail."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=SEARCH_MAX,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "name or e-mail"}),
    )


class NotificationFilterForm(IspFilterMixin):
    """Show every notification, or the unread ones only."""

    unread = forms.BooleanField(label="Unread only", required=False)


class DeliveryFilterForm(IspFilterMixin):
    """Filter the webhook log by the state of each delivery."""

    status = forms.ChoiceField(choices=_all("any status", WebhookStatus.choices), required=False)


class ProductChoiceField(forms.ModelChoiceField):
    """A wholesale product named with its speeds and monthly fee."""

    def label_from_instance(self, obj: Product) -> str:
        return (
            f"{obj.name} · {obj.download_mbps}/{obj.upload_mbps} Mbit/s"
            f" · {obj.monthly_fee} {obj.currency}/month"
        )


class ActivateForm(forms.Form):
    """Activate the service of a ready order: the ONT at the address, the product, the VLANs."""

    ont_serial = forms.CharField(
        label="ONT serial",
        max_length=200,
        help_text="As printed on the ONT/CPE at the address, e.g. ALCL12345678.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    product = ProductChoiceField(queryset=Product.objects.none(), label="Wholesale product")
    c_vlan = forms.IntegerField(
        label="C-VLAN", required=False, min_value=1, max_value=MAX_VLAN, help_text="optional"
    )
    s_vlan = forms.IntegerField(
        label="S-VLAN", required=False, min_value=1, max_value=MAX_VLAN, help_text="optional"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products_current()


class ChangeProfileForm(forms.Form):
    """Move a live service to another wholesale product (upgrade or downgrade)."""

    product = ProductChoiceField(queryset=Product.objects.none(), label="New product")
    reason = forms.CharField(label="Reason", required=False, max_length=500)

    def __init__(self, *args, current: Product | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        products = products_current()
        if current is not None:
            products = products.exclude(pk=current.pk)
        self.fields["product"].queryset = products


class DeactivateForm(forms.Form):
    """End a live service: a reason, and a tick to confirm (it cannot be undone)."""

    reason = forms.CharField(label="Reason", max_length=500)
    confirm = forms.BooleanField(
        label="I understand the service ends now and its order terminates",
        error_messages={"required": "tick the box to confirm the deactivation"},
    )


class WebhookUrlForm(forms.Form):
    """Where the ISP's notifications are POSTed (empty: none)."""

    url = forms.CharField(
        label="Webhook URL",
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://example.net/oanm/webhooks"}),
    )


class TokenCreateForm(forms.Form):
    """A new API token for the ISP's systems: what uses it, and what it may do."""

    name = forms.CharField(label="Name", max_length=100, help_text="What uses it, e.g. our CRM.")
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(scope.value, scope.label) for scope in ISP_TOKEN_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "choose at least one scope"},
    )


class AddressLookupForm(forms.Form):
    """Any address by its id, or a search text that finds it."""

    address = forms.CharField(
        label="Address id or search",
        max_length=SEARCH_MAX,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "e.g. 1234 or Müllerstraße 12"}
        ),
    )
