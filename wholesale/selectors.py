"""Reusable reads of the wholesale app."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.permissions import is_isp_user, is_owner_staff
from areas.models import Area
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from wholesale.lifecycle import OrderStatus
from wholesale.models import (
    Customer,
    InstallationSlot,
    IspNotification,
    MaintenanceWindow,
    Offering,
    Order,
    Product,
    Service,
    WebhookDelivery,
)


def available_slots(order: Order) -> QuerySet[InstallationSlot]:
    """The installation windows the order can book: in its address's area, not yet begun,
    with room left; earliest first."""
    return InstallationSlot.objects.filter(
        area_id=order.address.area_id,
        starts_at__gt=timezone.now(),
        booked__lt=F("capacity"),
    ).order_by("starts_at", "pk")


# --- tenancy: what a user may see of the ISPs' business ---------------------------------------
#
# An ISP user sees their own ISP's rows only; the owner's staff see every ISP's. Every ISP
# page and API endpoint starts from these querysets, so a row of another ISP is never found
# (a 404, exactly as for an id that does not exist).


def isp_scope(user) -> int | None:
    """The ISP whose business the user may see, or None for owner staff (every ISP).

    Raises `PermissionDenied` for anyone else (callers check access before asking).
    """
    if is_isp_user(user):
        return user.organisation.pk
    if is_owner_staff(user):
        return None
    raise PermissionDenied("only ISP users and the owner's staff may see this")


def _scoped(queryset: QuerySet, user, field: str = "isp_id") -> QuerySet:
    isp_id = isp_scope(user)
    return queryset if isp_id is None else queryset.filter(**{field: isp_id})


def orders_for(user) -> QuerySet[Order]:
    """The orders the user may see, with what a list shows of them (no N+1)."""
    return _scoped(
        Order.objects.exclude(isp=None).select_related(
            "address", "customer", "offering", "isp", "service"
        ),
        user,
    )


def ready_orders_for(user) -> QuerySet[Order]:
    """The user's orders at connected addresses, waiting for the ISP to activate them."""
    return (
        orders_for(user)
        .filter(status=OrderStatus.READY_FOR_ACTIVATION)
        .order_by("status_changed_at", "pk")
    )


def services_for(user) -> QuerySet[Service]:
    """The services the user may see."""
    return _scoped(
        Service.objects.select_related("address", "product", "order", "isp", "previous"), user
    )


def customers_for(user) -> QuerySet[Customer]:
    """The customers with at least one order of the user's ISP (owner staff: every one)."""
    isp_id = isp_scope(user)
    customers = Customer.objects.all()
    if isp_id is not None:
        customers = customers.filter(
            Exists(Order.objects.filter(customer=OuterRef("pk"), isp_id=isp_id))
        )
    return customers.order_by("name", "pk")


def customer_orders_for(user, customer: Customer) -> QuerySet[Order]:
    """The customer's orders the user may see (an ISP never sees another ISP's)."""
    return orders_for(user).filter(customer=customer)


def notifications_for(user) -> QuerySet[IspNotification]:
    """The notifications of the user's ISP, newest first."""
    return _scoped(IspNotification.objects.select_related("isp", "address", "delivery"), user)


def deliveries_for(user) -> QuerySet[WebhookDelivery]:
    """The webhook deliveries of the user's ISP, newest first, with their notification."""
    return _scoped(WebhookDelivery.objects.select_related("notification", "isp"), user)


def offerings_for(user) -> QuerySet[Offering]:
    """The retail offerings of the user's ISP, with their product."""
    return _scoped(
        Offering.objects.select_related("product", "isp").prefetch_related("areas"), user
    )


def products_current(day=None) -> QuerySet[Product]:
    """The owner's wholesale products valid on `day` (today): every ISP may read them."""
    day = day or timezone.localdate()
    return Product.objects.filter(valid_from__lte=day).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=day)
    )


def maintenance_upcoming(now=None) -> QuerySet[MaintenanceWindow]:
    """Planned maintenance not yet over, soonest first (every ISP may read it)."""
    now = now or timezone.now()
    return MaintenanceWindow.objects.filter(ends_at__gt=now).select_related("area")


def _addresses_in_status(*statuses: str, homes: bool = False) -> Coalesce:
    """Per area (a correlated subquery): its addresses in these statuses, or with `homes`
    the homes they hold (MDU units counted)."""
    counted = (
        Address.objects.filter(area_id=OuterRef("pk"), status__in=statuses)
        .order_by()
        .values("area_id")
        .annotate(n=Sum("units") if homes else Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def areas_build_progress() -> QuerySet[Area]:
    """Active areas with their kept figures (homes and addresses in `figures`) and how many
    of their addresses are connected (`connected`, counting activated ones), `activated`, and
    the homes those connected addresses hold (`built_homes`): the build progress every ISP may
    read and the dispatchers watch (no demand per ISP). By code."""
    built = (AddressStatus.CONNECTED, AddressStatus.ACTIVATED)
    return (
        Area.objects.filter(is_active=True)
        .select_related("figures")
        .annotate(
            connected=_addresses_in_status(*built),
            activated=_addresses_in_status(AddressStatus.ACTIVATED),
            built_homes=_addresses_in_status(*built, homes=True),
        )
        .order_by("code")
    )


def isp_order_counts(user) -> dict[str, int]:
    """How many of the user's orders are in each status (one query)."""
    rows = orders_for(user).order_by().values("status").annotate(n=Count("pk"))
    return {row["status"]: row["n"] for row in rows}
