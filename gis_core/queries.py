"""What people may query about addresses (common.queries): the "addresses" source."""

from common.queries.registry import Column, Field, register
from gis_core.geometry import parse_multipolygon
from gis_core.models import Address

register(
    key="addresses",
    model=Address,
    label="Addresses",
    description="Service locations: homes, flats in multi-dwelling units, businesses.",
    fields=[
        Field("status"),
        Field("premises_type", label="premises type"),
        Field("units", label="homes (units)"),
        Field("label", label="address"),
        Field("street"),
        Field("house_number", label="house number"),
        Field("postcode"),
        Field("city"),
        Field("created_at", label="created"),
        Field("status_changed_at", label="status changed"),
        Field("location", operators=["within"], validator=parse_multipolygon),
    ],
    columns=[
        Column("label", label="address"),
        Column("street", default=False),
        Column("house_number", label="house number", default=False),
        Column("postcode"),
        Column("city", default=False),
        Column("premises_type", label="premises"),
        Column("units", label="homes"),
        Column("status"),
        Column("status_changed_at", label="status changed", default=False),
        Column("created_at", label="created", default=False),
    ],
    geometry="location",
    default_order=["label"],
    base_queryset=lambda user: Address.objects.all(),
)
