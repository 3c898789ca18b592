"""Admin for addresses: a map widget, the lifecycle as actions, history and external ids inline."""

from django import forms
from django.contrib import admin, messages
from django.contrib.gis.admin import GISModelAdmin

from common.admin import ReadOnlyInline, lifecycle_action
from common.errors import DomainError
from common.widgets import OfflineMapWidget
from gis_core import services
from gis_core.geometry import parse_point
from gis_core.models import Address, AddressStatusChange, ExternalReference

EDIT_FIELDS = (
    "street",
    "house_number",
    "unit",
    "postcode",
    "city",
    "country",
    "premises_type",
    "units",
    "attributes",
)


class ExternalReferenceInline(admin.TabularInline):
    model = ExternalReference
    extra = 0


class StatusHistoryInline(ReadOnlyInline):
    model = AddressStatusChange
    fields = ("changed_at", "from_status", "to_status", "actor", "reason")
    ordering = ("-changed_at",)


def _lifecycle_action(service, description):
    """An admin action that moves each selected address through `service`."""
    return lifecycle_action(service, description, argument="address", noun="address(es)")


class AddressForm(forms.ModelForm):
    """Checks with the services' own validation, so a refusal is a form error, not a 500."""

    class Meta:
        model = Address
        fields = ("location", *EDIT_FIELDS)

    def clean(self):
        data = super().clean()
        if data.get("location") is not None:
            try:
                data["location"] = parse_point(data["location"])
            except DomainError as exc:
                self.add_error("location", exc.message)
        try:
            services.address_validate_fields(
                street=data.get("street") or "",
                premises_type=data.get("premises_type") or "",
                units=data.get("units") or 0,
                country=data.get("country") or "",
            )
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(Address)
class AddressAdmin(GISModelAdmin):
    form = AddressForm
    gis_widget = OfflineMapWidget
    list_display = ("label", "status", "premises_type", "units", "area", "postcode")
    list_filter = ("status", "premises_type", "area", "country")
    list_select_related = ("area",)
    search_fields = ("label", "street", "postcode", "external_refs__external_id")
    readonly_fields = (
        "label",
        "house_number_normalised",
        "status",
        "status_changed_at",
        "area",
        "last_import_id",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("label", "location")}),
        ("Address", {"fields": EDIT_FIELDS[:6]}),
        ("Premises", {"fields": ("premises_type", "units", "attributes")}),
        (
            "State",
            {
                "fields": (
                    "status",
                    "status_changed_at",
                    "area",
                    "house_number_normalised",
                    "last_import_id",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )
    inlines = [ExternalReferenceInline, StatusHistoryInline]
    actions = [
        _lifecycle_action(services.address_await_deployment, "Mark awaiting deployment"),
        _lifecycle_action(services.address_start_deployment, "Start deployment"),
        _lifecycle_action(services.address_connect, "Mark connected (physical completion)"),
        _lifecycle_action(services.address_return_to_planned, "Return to planned"),
    ]

    def save_model(self, request, obj, form, change):
        """Every write goes through the gis_core services (the area link follows)."""
        data = {
            field: form.cleaned_data[field] for field in EDIT_FIELDS if field in form.cleaned_data
        }
        try:
            if change:
                services.address_update(address=obj, location=form.cleaned_data["location"], **data)
            else:
                created = services.address_create(location=form.cleaned_data["location"], **data)
                obj.pk = created.pk
                obj._state.adding = False
        except DomainError as exc:  # the form checked the fields; this is a last-moment clash
            self.message_user(request, exc.message, messages.ERROR)
            raise
