"""Writes of services, the network contracts of active orders: activation (and the switch
of a line from one ISP to another), profile changes and deactivation.

Physical completion is the owner's (the address becomes `connected`); logical activation is
each ISP's. Every change is stamped with its exact instant, because billing starts and stops
on it, leaves a history row and publishes a `service.*` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from accounts.models import User
from common.errors import Conflict, DomainError, InvalidTransition
from common.events import publish
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.services import address_activate, address_deactivate
from wholesale.events import (
    SERVICE_ACTIVATED,
    SERVICE_DEACTIVATED,
    SERVICE_PROFILE_CHANGED,
    ServiceChanged,
)
from wholesale.lifecycle import (
    SERVICE_TRANSITIONS,
    OrderStatus,
    ServiceChangeKind,
    ServiceStatus,
)
from wholesale.models import Order, Product, Service, ServiceChange
from wholesale.onboarding import isp_is_trading
from wholesale.services import order_terminate, order_transition

ACTIVATABLE = (AddressStatus.CONNECTED, AddressStatus.ACTIVATED)
MAX_VLAN = 4094


def _instant(at: datetime | None, *, not_before: datetime, what: str) -> datetime:
    """The instant of a change: now, or a given past moment no earlier than `not_before`."""
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise DomainError("the time of a change must carry its time zone", field="at")
    if at > now:
        raise DomainError(f"{what} cannot be dated in the future ({at:%Y-%m-%d %H:%M})", field="at")
    if at < not_before:
        raise DomainError(
            f"{what} cannot be dated before {not_before:%Y-%m-%d %H:%M:%S}", field="at"
        )
    return at


def _serial(ont_serial: str) -> str:
    serial = (ont_serial or "").strip().upper()
    if not serial:
        raise DomainError("give the serial of the ONT/CPE at the address", field="ont_serial")
    if len(serial) > 64 or not all(ch.isalnum() or ch in "-_:." for ch in serial):
        raise DomainError(
            f"{ont_serial!r} is not an ONT serial (letters, digits and - _ : . only, at most 64)",
            field="ont_serial",
        )
    return serial


def _vlan(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        vlan = int(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{field} must be a VLAN id, not {value!r}", field=field) from exc
    if not 1 <= vlan <= MAX_VLAN:
        raise DomainError(f"{field} must be between 1 and {MAX_VLAN}, not {vlan}", field=field)
    return vlan


def _product_at(product: Product, day) -> Product:
    if product.valid_from > day or (product.valid_to is not None and product.valid_to < day):
        raise DomainError(f"the product {product.name} is not available on {day}", field="product")
    return product


def _event(
    topic: str, service: Service, at: datetime, **extra: Any
) -> None:  # one shape for every service event
    publish(
        topic,
        ServiceChanged(
            service_id=service.pk,
            order_id=service.order_id,
            address_id=service.address_id,
            isp_id=service.isp_id,
            product_id=service.product_id,
            at=at.isoformat(),
            **extra,
        ),
    )


def _history(service: Service, kind: str, at: datetime, actor: User | None, reason: str, **kw):
    ServiceChange.objects.create(
        service=service, kind=kind, actor=actor, reason=reason, at=at, **kw
    )


def _end(service: Service, *, at: datetime, kind: str, actor: User | None, reason: str) -> Service:
    """The one place a service's status is assigned: check, set, history (callers lock)."""
    SERVICE_TRANSITIONS.check(service.status, ServiceStatus.ENDED)
    if at < service.activated_at:
        raise DomainError(
            f"a service cannot end before its activation ({service.activated_at:%Y-%m-%d %H:%M})",
            field="at",
        )
    service.status = ServiceStatus.ENDED
    service.status_changed_at = at
    service.ended_at = at
    service.end_reason = reason
    service.save(
        update_fields=["status", "status_changed_at", "ended_at", "end_reason", "updated_at"]
    )
    _history(service, kind, at, actor, reason, from_product_id=service.product_id)
    return service


@transaction.atomic
def service_activate(
    *,
    order: Order,
    ont_serial: str,
    product: Product | None = None,
    c_vlan: Any = None,
    s_vlan: Any = None,
    parameters: dict | None = None,
    actor: User | None = None,
    at: datetime | None = None,
    reason: str = "",
) -> Service:
    """The ISP activates its service for an order on a connected address.

    The address becomes `activated`, the order `active`. Where another ISP's service is live
    on the same line (address and unit), this is a switch: that service ends and this one
    starts at the same instant, with no physical work, as one continuous history.
    """
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("offering__product", "isp")
        .get(pk=order.pk)
    )
    if order.isp_id is None:
        raise DomainError(
            f"order {order.reference} is for the connection only: an ISP's order is activated",
            code="connection_only",
        )
    if order.status == OrderStatus.ACTIVE:
        raise Conflict(
            f"order {order.reference} is active already; change its service's profile instead",
            code="already_active",
        )
    if order.status != OrderStatus.READY_FOR_ACTIVATION:
        if order.status in (OrderStatus.RECEIVED, OrderStatus.AWAITING_INFRASTRUCTURE):
            raise InvalidTransition(
                f"order {order.reference} is {order.get_status_display()}: the address must be"
                " connected before a service can be activated",
                code="not_connected",
            )
        raise InvalidTransition(
            f"order {order.reference} is {order.get_status_display()}: it cannot be activated"
        )
    isp = order.isp
    if not isp_is_trading(isp):
        raise DomainError(f"{isp} is not an active ISP", code="isp_inactive")
    # only what is checked here: the address's own transition reloads the rest
    address = Address.objects.select_for_update().only("pk", "status").get(pk=order.address_id)
    if address.status not in ACTIVATABLE:
        raise InvalidTransition(
            f"the address is {address.get_status_display()}: a service is activated only on a"
            " connected address",
            code="not_connected",
        )
    at = _instant(at, not_before=order.placed_at, what="an activation")
    product = product or (order.offering.product if order.offering_id else None)
    if product is None:
        raise DomainError("choose the wholesale product (speed profile)", field="product")
    product = _product_at(product, timezone.localdate(at))
    serial = _serial(ont_serial)
    c_vlan, s_vlan = _vlan(c_vlan, "c_vlan"), _vlan(s_vlan, "s_vlan")
    if parameters is not None and not isinstance(parameters, dict):
        raise DomainError("parameters must be an object of settings", field="parameters")

    # One look for both: the live service on this line (locked: a switch ends it) and any
    # live service on this ONT elsewhere.
    line = Q(address=address, unit__iexact=order.unit)
    live = list(
        Service.objects.select_for_update()
        .filter(line | Q(ont_serial=serial), status=ServiceStatus.ACTIVE)
        .annotate(on_line=ExpressionWrapper(line, output_field=BooleanField()))
        .order_by("pk")
    )
    current = next((service for service in live if service.on_line), None)
    if current is not None and current.isp_id == order.isp_id:
        raise Conflict(
            f"this line already carries your service {current.reference}; change its profile"
            " or deactivate it first",
            code="line_in_use",
        )
    if any(service.ont_serial == serial and not service.on_line for service in live):
        raise Conflict(
            f"the ONT {serial} serves another line", code="ont_in_use", field="ont_serial"
        )

    if current is not None:  # a switch: the other ISP's service ends at this very instant
        _end(
            current,
            at=at,
            kind=ServiceChangeKind.SWITCHED_AWAY,
            actor=actor,
            reason="the customer moved to another ISP",
        )
        current.order = order_terminate(
            order=current.order, actor=actor, reason="the customer moved to another ISP"
        )
        _event(SERVICE_DEACTIVATED, current, at, switched=True, reason="switched")

    service = Service.objects.create(
        reference=f"new-{order.pk}",
        order=order,
        isp_id=order.isp_id,
        address=address,
        unit=order.unit,
        product=product,
        wholesale_monthly_fee=product.monthly_fee,
        currency=product.currency,
        ont_serial=serial,
        c_vlan=c_vlan,
        s_vlan=s_vlan,
        parameters=parameters or {},
        status_changed_at=at,
        activated_at=at,
        previous=current,
    )
    service.reference = f"SRV-{service.pk:06d}"
    Service.objects.filter(pk=service.pk).update(reference=service.reference)
    kind = ServiceChangeKind.SWITCHED_IN if current else ServiceChangeKind.ACTIVATED
    _history(service, kind, at, actor, reason, to_product=product)
    service.order = order_transition(
        order=order, to=OrderStatus.ACTIVE, actor=actor, reason="service activated"
    )
    if address.status == AddressStatus.CONNECTED:
        address_activate(address=address, actor=actor, reason=f"service {service.reference}")
    _event(SERVICE_ACTIVATED, service, at, previous_service_id=current.pk if current else None)
    return service


@transaction.atomic
def service_change_profile(
    *,
    service: Service,
    product: Product,
    actor: User | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> Service:
    """Upgrade or downgrade a live service to another wholesale product, from `at` on."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.status != ServiceStatus.ACTIVE:
        raise InvalidTransition(f"service {service.reference} has ended: it cannot be changed")
    if product.pk == service.product_id:
        raise DomainError(f"the service is on {product.name} already", field="product")
    last = service.history.order_by("-at", "-id").values_list("at", flat=True).first()
    at = _instant(at, not_before=last or service.activated_at, what="a profile change")
    product = _product_at(product, timezone.localdate(at))
    previous = service.product_id
    service.product = product
    service.wholesale_monthly_fee = product.monthly_fee
    service.currency = product.currency
    service.save(update_fields=["product", "wholesale_monthly_fee", "currency", "updated_at"])
    _history(
        service,
        ServiceChangeKind.PROFILE_CHANGED,
        at,
        actor,
        reason,
        from_product_id=previous,
        to_product=product,
    )
    _event(SERVICE_PROFILE_CHANGED, service, at, from_product_id=previous, reason=reason)
    return service


@transaction.atomic
def service_deactivate(
    *,
    service: Service,
    actor: User | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> Service:
    """End a service: its order terminates, and the address goes back to `connected` when
    this was its last live service."""
    service = Service.objects.select_for_update().get(pk=service.pk)
    if service.status != ServiceStatus.ACTIVE:
        raise InvalidTransition(f"service {service.reference} has ended already")
    address = Address.objects.select_for_update().get(pk=service.address_id)
    at = _instant(at, not_before=service.activated_at, what="a deactivation")
    service = _end(service, at=at, kind=ServiceChangeKind.DEACTIVATED, actor=actor, reason=reason)
    service.order = order_terminate(
        order=service.order, actor=actor, reason=reason or "deactivated"
    )
    still_live = Service.objects.filter(address=address, status=ServiceStatus.ACTIVE).exists()
    if not still_live and address.status == AddressStatus.ACTIVATED:
        address_deactivate(
            address=address, actor=actor, reason=f"service {service.reference} ended"
        )
    _event(SERVICE_DEACTIVATED, service, at, reason=reason)
    return service
