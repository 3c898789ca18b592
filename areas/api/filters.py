"""Filters and ordering of `GET /api/areas/`: phase, search, take-rate range, ready, bbox."""

from django import forms
from django.contrib.gis.geos import Polygon
from django.db.models import F, Q
from django_filters import rest_framework as filters

from areas.lifecycle import AreaPhase
from areas.models import Area
from common.errors import DomainError

# ?ordering= name → what it sorts by (figures come from the kept AreaFigures row)
ORDERING = (
    ("id", "id"),
    ("code", "code"),
    ("name", "name"),
    ("phase_rank", "phase"),
    ("target_take_rate", "target_take_rate"),
    ("figures__homes", "homes"),
    ("figures__addresses", "addresses"),
    ("figures__interests", "interests"),
    ("figures__orders", "orders"),
    ("figures__take_rate", "take_rate"),
    ("figures__interest_rate", "interest_rate"),
    ("figures__progress", "progress"),
    ("phase_changed_at", "phase_changed_at"),
)
READY = Q(figures__homes__gt=0, figures__progress__gte=1)


class _CommaSeparatedChoices(forms.MultipleChoiceField):
    """Takes `?phase=a&phase=b` and `?phase=a,b` alike."""

    def clean(self, value):
        value = [part.strip() for item in value or [] for part in str(item).split(",")]
        return super().clean([part for part in value if part])


class PhaseFilter(filters.MultipleChoiceFilter):
    field_class = _CommaSeparatedChoices


class NullsLastOrderingFilter(filters.OrderingFilter):
    """Sorts areas without a value (never moved phase, no figures) last, either way."""

    def get_ordering_value(self, param):
        value = super().get_ordering_value(param)
        field = F(value.lstrip("-"))
        return field.desc(nulls_last=True) if value.startswith("-") else field.asc(nulls_last=True)


class AreaFilter(filters.FilterSet):
    """What `GET /api/areas/` can be narrowed by; only active areas unless asked."""

    phase = PhaseFilter(
        choices=AreaPhase.choices, help_text="One or more phases (repeat it, or comma-separate)."
    )
    search = filters.CharFilter(method="filter_search", help_text="Code or name contains it.")
    take_rate_min = filters.NumberFilter(
        field_name="figures__take_rate", lookup_expr="gte", help_text="Take rate ≥ (0–1)."
    )
    take_rate_max = filters.NumberFilter(
        field_name="figures__take_rate", lookup_expr="lte", help_text="Take rate ≤ (0–1)."
    )
    ready_to_build = filters.BooleanFilter(
        method="filter_ready", help_text="Areas whose take rate has reached the target (or not)."
    )
    parent = filters.NumberFilter(field_name="parent", help_text="Children of this area.")
    in_bbox = filters.CharFilter(
        method="filter_in_bbox",
        help_text="minlon,minlat,maxlon,maxlat (EPSG:4326): areas touching this box.",
    )
    include_retired = filters.BooleanFilter(
        method="keep", help_text="Also list areas that were split (is_active false)."
    )
    ordering = NullsLastOrderingFilter(
        fields=ORDERING, help_text="Sort by any column; '-' for descending, e.g. -take_rate."
    )

    class Meta:
        model = Area
        fields: list[str] = []

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("include_retired"):
            queryset = queryset.filter(is_active=True)
        return super().filter_queryset(queryset)

    def keep(self, queryset, name, value):
        return queryset

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(code__icontains=value) | Q(name__icontains=value))

    def filter_ready(self, queryset, name, value):
        return queryset.filter(READY) if value else queryset.exclude(READY)

    def filter_in_bbox(self, queryset, name, value):
        try:
            minx, miny, maxx, maxy = (float(part) for part in value.split(","))
        except ValueError as exc:
            raise DomainError(
                f"in_bbox must be minlon,minlat,maxlon,maxlat (four numbers), not {value!r}",
                code="invalid",
                field="in_bbox",
            ) from exc
        if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
            raise DomainError(
                "in_bbox must have min < max, lon within -180..180 and lat within -90..90,"
                f" not {value!r}",
                code="invalid",
                field="in_bbox",
            )
        box = Polygon.from_bbox((minx, miny, maxx, maxy))
        box.srid = 4326
        return queryset.filter(boundary__intersects=box)
