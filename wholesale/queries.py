"""What people may query about orders (common.queries): the "orders" source, and the order
fields of addresses."""

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from accounts.models import Organisation
from accounts.roles import OrganisationKind
from areas.queries import area_choices
from common.queries.registry import Column, Field, extend, register
from gis_core.geometry import parse_multipolygon
from wholesale.lifecycle import LIVE_ORDER_STATUSES
from wholesale.models import Order


def isp_choices() -> list[tuple[int, str]]:
    """The ISPs a planner picks from."""
    return list(
        Organisation.objects.filter(kind=OrganisationKind.ISP)
        .order_by("name")
        .values_list("pk", "name")
    )


def _live_orders():
    live = (
        Order.objects.filter(address=OuterRef("pk"), status__in=LIVE_ORDER_STATUSES)
        .order_by()
        .values("address")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(live), 0)


register(
    key="orders",
    model=Order,
    label="Orders",
    description="Signups at addresses, for an ISP's service or connection-only.",
    fields=[
        Field("status"),
        Field("isp", label="ISP", choices=isp_choices),
        Field("placed_at", label="placed"),
        Field("status_changed_at", label="status changed"),
        Field("reference"),
        Field("area", path="address__area", label="area", choices=area_choices),
        Field("area_phase", path="address__area__phase", label="area phase"),
        Field(
            "area_take_rate",
            path="address__area__figures__take_rate",
            label="area take rate",
            percent=True,
        ),
        Field("address_status", path="address__status", label="address status"),
        Field("postcode", path="address__postcode", label="postcode"),
        Field("street", path="address__street", label="street"),
        Field(
            "location",
            path="address__location",
            label="address location",
            operators=["within"],
            validator=parse_multipolygon,
        ),
    ],
    columns=[
        Column("reference"),
        Column("status"),
        Column("isp_name", path="isp__name", label="ISP"),
        Column("placed_at", label="placed"),
        Column("address", path="address__label", label="address"),
        Column("area_code", path="address__area__code", label="area"),
        Column("address_status", path="address__status", label="address status", default=False),
        Column("status_changed_at", label="status changed", default=False),
    ],
    geometry="address__location",
    default_order=["-placed_at"],
    base_queryset=lambda user: Order.objects.select_related("isp", "address", "address__area"),
)

extend(
    "addresses",
    fields=[
        Field("order_status", path="orders__status", label="status of an order"),
        Field("order_isp", path="orders__isp", label="ISP of an order", choices=isp_choices),
    ],
    columns=[
        Column(
            "live_orders",
            kind="integer",
            label="live orders",
            expression=_live_orders,
            default=False,
        ),
    ],
)
