"""Admin for planning areas: the boundary on a map, phases as actions, history inline."""

from django import forms
from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.db.models import Count, Sum

from areas import services
from areas.models import Area, AreaPhaseChange
from common.admin import ReadOnlyInline, lifecycle_action
from common.errors import DomainError
from common.widgets import OfflineMapWidget
from gis_core.geometry import parse_multipolygon


class PhaseHistoryInline(ReadOnlyInline):
    model = AreaPhaseChange
    fields = ("changed_at", "from_phase", "to_phase", "actor", "reason")
    ordering = ("-changed_at",)


class AreaForm(forms.ModelForm):
    """Checks the boundary and take rate as the services do, so refusals are form errors."""

    class Meta:
        model = Area
        fields = (
            "name",
            "code",
            "boundary",
            "target_take_rate",
            "expected_connection_from",
            "expected_connection_until",
            "attributes",
        )

    def clean_boundary(self):
        boundary = self.cleaned_data["boundary"]
        try:
            return parse_multipolygon(boundary)
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


def _phase_action(service, description):
    """An admin action that moves each selected area through `service`."""
    return lifecycle_action(service, description, argument="area", noun="area(s)")


@admin.register(Area)
class AreaAdmin(GISModelAdmin):
    form = AreaForm
    gis_widget = OfflineMapWidget
    list_display = (
        "code",
        "name",
        "phase",
        "homes",
        "address_count",
        "target_take_rate",
        "is_active",
    )
    list_filter = ("phase", "is_active")
    search_fields = ("code", "name")
    readonly_fields = (
        "phase",
        "phase_changed_at",
        "parent",
        "is_active",
        "created_at",
        "updated_at",
    )
    inlines = [PhaseHistoryInline]
    actions = [
        _phase_action(services.area_start_demand_aggregation, "Start demand aggregation"),
        _phase_action(services.area_deploy, "Move into deployment"),
        _phase_action(services.area_go_live, "Mark live"),
        _phase_action(services.area_return_to_planning, "Return to planning"),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(address_total=Count("addresses"), home_total=Sum("addresses__units"))
        )

    @admin.display(description="addresses", ordering="address_total")
    def address_count(self, area):
        return area.address_total

    @admin.display(description="homes", ordering="home_total")
    def homes(self, area):
        return area.home_total or 0

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "code")

    def save_model(self, request, obj, form, change):
        """Every write goes through the areas services (addresses re-link to the new shape)."""
        data = form.cleaned_data
        if not change:
            created = services.area_create(
                name=data["name"],
                code=data["code"],
                boundary=data["boundary"],
                target_take_rate=data["target_take_rate"],
                attributes=data.get("attributes") or {},
            )
            obj.pk = created.pk
            obj._state.adding = False
            self._save_window(obj, data)
            return
        if "boundary" in form.changed_data:
            services.area_reshape(area=obj, boundary=data["boundary"])
        services.area_update(area=obj, name=data["name"], target_take_rate=data["target_take_rate"])
        self._save_window(obj, data)

    def _save_window(self, obj, data):
        services.area_set_expected_connection(
            area=obj,
            first_day=data.get("expected_connection_from"),
            last_day=data.get("expected_connection_until"),
        )
