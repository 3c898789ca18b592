"""What people may query about areas and demand (common.queries): the "areas" source, and
the area and demand fields of addresses."""

from django.db.models import Exists, OuterRef

from areas.models import Area, Interest, Signup
from common.queries.registry import Column, Field, extend, register
from gis_core.geometry import parse_multipolygon


def area_choices() -> list[tuple[int, str]]:
    """The areas a planner picks from (active ones: split parents hold no addresses)."""
    return [(area.pk, str(area)) for area in Area.objects.filter(is_active=True).order_by("code")]


register(
    key="areas",
    model=Area,
    label="Areas",
    description="Planning areas with their phase and demand figures.",
    fields=[
        Field("phase"),
        Field("code"),
        Field("name"),
        Field("take_rate", path="figures__take_rate", label="take rate", percent=True),
        Field("target_take_rate", label="target take rate", percent=True),
        Field("progress", path="figures__progress", label="progress to target", percent=True),
        Field("interest_rate", path="figures__interest_rate", label="interest rate", percent=True),
        Field("homes", path="figures__homes", label="homes"),
        Field("interests", path="figures__interests", label="interests"),
        Field("orders", path="figures__orders", label="orders"),
        Field("is_active", label="active (not split)"),
        Field("deploys_at_target", label="deploys at target"),
        Field("phase_changed_at", label="phase changed"),
        Field("created_at", label="created"),
        Field("boundary", validator=parse_multipolygon),
    ],
    columns=[
        Column("code"),
        Column("name"),
        Column("phase"),
        Column("homes", path="figures__homes", label="homes"),
        Column("interests", path="figures__interests", label="interests"),
        Column("orders", path="figures__orders", label="orders"),
        Column("take_rate", path="figures__take_rate", label="take rate", percent=True),
        Column("target_take_rate", label="target", percent=True),
        Column("progress", path="figures__progress", label="progress", percent=True),
        Column(
            "interest_rate",
            path="figures__interest_rate",
            label="interest rate",
            percent=True,
            default=False,
        ),
        Column("is_active", label="active", default=False),
        Column("phase_changed_at", label="phase changed", default=False),
    ],
    geometry="boundary",
    default_order=["code"],
    base_queryset=lambda user: Area.objects.select_related("figures"),
    # The builder's maps draw the active areas for orientation.
    context_where={
        "op": "and",
        "conditions": [{"field": "is_active", "operator": "eq", "value": True}],
    },
)

extend(
    "addresses",
    fields=[
        Field("area", label="area", choices=area_choices),
        Field("area_phase", path="area__phase", label="area phase"),
        Field(
            "area_take_rate", path="area__figures__take_rate", label="area take rate", percent=True
        ),
        Field(
            "has_live_interest",
            kind="boolean",
            label="has a live interest",
            expression=lambda: Exists(
                Interest.objects.filter(address=OuterRef("pk"), withdrawn_at__isnull=True)
            ),
        ),
        Field(
            "has_live_signup",
            kind="boolean",
            label="has a live signup",
            expression=lambda: Exists(
                Signup.objects.filter(address=OuterRef("pk"), withdrawn_at__isnull=True)
            ),
        ),
    ],
    columns=[
        Column("area_code", path="area__code", label="area"),
        Column("area_phase", path="area__phase", label="area phase", default=False),
        Column(
            "area_take_rate",
            path="area__figures__take_rate",
            label="area take rate",
            percent=True,
            default=False,
        ),
    ],
)
