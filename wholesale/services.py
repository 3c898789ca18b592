"""Writes of the wholesale app: orders (placing, cancelling), the marketplace's signups and
interests, connection-cost terms and installation bookings."""

from __future__ import annotations

import secrets
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.roles import OrganisationKind
from areas.lifecycle import AreaPhase
from areas.models import Area
from areas.services import interest_register, signup_record, signup_withdraw
from common.errors import Conflict, DomainError
from common.events import publish
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address
from gis_core.services import (
    address_await_deployment,
    address_check_orderable,
    address_return_to_planned,
)
from wholesale.connection_cost import installment_plan, terms_at
from wholesale.events import (
    BOOKING_CANCELLED,
    BOOKING_MADE,
    BOOKING_RESCHEDULED,
    ORDER_PLACED,
    ORDER_SIGNED_UP,
    ORDER_STATUS_CHANGED,
    BookingChanged,
    OrderPlaced,
    OrderSignedUp,
    OrderStatusChanged,
)
from wholesale.lifecycle import (
    BOOKING_TRANSITIONS,
    LIVE_ORDER_STATUSES,
    ORDER_TRANSITIONS,
    BookingStatus,
    InvoicingStage,
    OrderStatus,
)
from wholesale.models import (
    Booking,
    ConnectionCostTerms,
    Customer,
    InstallationSlot,
    InterestRegistration,
    IspProfile,
    IspServiceArea,
    Offering,
    Order,
    OrderStatusChange,
    Product,
)
from wholesale.selectors import available_slots  # noqa: F401  (part of this module's API)
from wholesale.serviceability import serviceability_for_address

# Where a new order starts, given what the network has built at its address.
_BUILT = {AddressStatus.CONNECTED, AddressStatus.ACTIVATED}


def order_transition(
    *, order: Order, to: str, actor: User | None, reason: str, at: datetime | None = None
) -> Order:
    """The one place an order's status is assigned: lock, check, set, history, event.

    Called inside the transaction of the use case that moves the order (placing, cancelling,
    the address becoming connected, a service starting or ending).
    """
    order = Order.objects.select_for_update().get(pk=order.pk)
    source = order.status
    ORDER_TRANSITIONS.check(source, to)
    now = at or timezone.now()
    order.status = to
    order.status_changed_at = now
    order.save(update_fields=["status", "status_changed_at", "updated_at"])
    OrderStatusChange.objects.create(
        order=order, from_status=source, to_status=to, actor=actor, reason=reason, changed_at=now
    )
    publish(
        ORDER_STATUS_CHANGED,
        OrderStatusChanged(
            order_id=order.pk,
            address_id=order.address_id,
            isp_id=order.isp_id,
            from_status=source,
            to_status=to,
            actor_id=actor.pk if actor else None,
            reason=reason,
        ),
    )
    return order


@transaction.atomic
def order_place(
    *,
    address: Address,
    isp: Organisation | None = None,
    placed_at: datetime | None = None,
    actor: User | None = None,
    customer: Customer | None = None,
    offering: Offering | None = None,
    unit: str = "",
    isp_reference: str = "",
) -> Order:
    """Place an order at an address (for an ISP's service, or connection-only without one).

    The areas' demand book records the signup, a planned address joins the build queue,
    and the order waits for the infrastructure or, where it is built, for activation.
    """
    address = Address.objects.select_for_update().get(pk=address.pk)
    address_check_orderable(address)  # a retired address takes no new order
    if isp is not None and (isp.kind != OrganisationKind.ISP or not isp.is_active):
        raise DomainError(f"{isp} is not an active ISP", field="isp")
    if offering is not None and offering.isp_id != (isp.pk if isp else None):
        raise DomainError(f"{offering} is not an offering of {isp}", field="offering")
    placed_at = placed_at or timezone.now()
    order = Order.objects.create(
        reference=f"new-{uuid.uuid4().hex[:16]}",
        address=address,
        isp=isp,
        placed_at=placed_at,
        customer=customer,
        offering=offering,
        unit=unit,
        manage_token=secrets.token_urlsafe(32),
        monthly_price=offering.monthly_price if offering else None,
        price_currency=offering.currency if offering else "",
        isp_reference=isp_reference,
    )
    order.reference = f"ORD-{order.pk:06d}"
    order.status_changed_at = placed_at
    order.save(update_fields=["reference", "status_changed_at"])
    OrderStatusChange.objects.create(
        order=order,
        to_status=OrderStatus.RECEIVED,
        actor=actor,
        reason="placed",
        changed_at=placed_at,
    )
    publish(
        ORDER_PLACED, OrderPlaced(order_id=order.pk, address_id=address.pk, isp_id=order.isp_id)
    )
    signup_record(address=address, order_key=order.demand_key, at=placed_at, actor=actor)
    if address.status == AddressStatus.PLANNED:
        address_await_deployment(address=address, actor=actor, reason=f"order {order.reference}")
    next_status = (
        OrderStatus.READY_FOR_ACTIVATION
        if address.status in _BUILT
        else OrderStatus.AWAITING_INFRASTRUCTURE
    )
    return order_transition(order=order, to=next_status, actor=actor, reason="address status")


@transaction.atomic
def order_cancel(*, order: Order, actor: User | None = None, reason: str = "") -> Order:
    """Cancel an order before its service is active; its signup leaves the demand book.

    An address whose last live order this was, and which was only queued for the build,
    goes back to planned.
    """
    order = order_transition(order=order, to=OrderStatus.CANCELLED, actor=actor, reason=reason)
    signup_withdraw(order_key=order.demand_key, actor=actor)
    address = Address.objects.select_for_update().get(pk=order.address_id)
    still_wanted = (
        Order.objects.filter(address=address, status__in=LIVE_ORDER_STATUSES)
        .exclude(pk=order.pk)
        .exists()
    )
    if not still_wanted and address.status == AddressStatus.AWAITING_DEPLOYMENT:
        address_return_to_planned(
            address=address, actor=actor, reason=f"order {order.reference} cancelled"
        )
    return order


@transaction.atomic
def isp_order_place(
    *,
    isp: Organisation,
    address: Address,
    offering: Offering,
    customer_name: str,
    customer_email: str,
    customer_phone: str = "",
    unit: str = "",
    isp_reference: str = "",
    actor: User | None = None,
) -> Order:
    """An ISP's systems place an order at an address for one of its offerings, for their
    customer (the ISP's API). The address must lie in an area the ISP serves, the offering
    must be on sale there today, and the ISP must have no live order on that line yet."""
    if offering.isp_id != isp.pk:
        raise DomainError(f"{offering} is not an offering of {isp}", field="offering")
    address = Address.objects.select_for_update().get(pk=address.pk)
    address_check_orderable(address)
    if (
        address.area_id is None
        or not IspServiceArea.objects.filter(isp=isp, area_id=address.area_id).exists()
    ):
        raise DomainError(
            "this address is in no area you serve", code="area_not_served", field="address"
        )
    phase = Area.objects.filter(pk=address.area_id).values_list("phase", flat=True).first()
    if phase == AreaPhase.PLANNING and address.status not in (
        *_BUILT,
        AddressStatus.IN_DEPLOYMENT,
    ):
        raise DomainError(
            "orders are not open in this area yet (it is still being planned)",
            code="orders_not_open",
            field="address",
        )
    today = timezone.localdate()
    product = offering.product
    on_sale = offering.valid_from <= today and (
        offering.valid_to is None or offering.valid_to >= today
    )
    on_sale = on_sale and product.valid_from <= today
    on_sale = on_sale and (product.valid_to is None or product.valid_to >= today)
    if not on_sale:
        raise DomainError(f"the offering {offering.name} is not on sale today", field="offering")
    restricted_to = set(offering.areas.values_list("pk", flat=True))
    if restricted_to and address.area_id not in restricted_to:
        raise DomainError(
            f"the offering {offering.name} is not sold in this address's area", field="offering"
        )
    name = _required_text(customer_name, "customer.name", "customer's name", 200)
    email = _required_text(customer_email, "customer.email", "customer's email address", 254)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise DomainError(f"{email!r} is not an email address", field="customer.email") from exc
    phone = (customer_phone or "").strip()
    if len(phone) > 40:
        raise DomainError("phone is too long (at most 40 characters)", field="customer.phone")
    unit = (unit or "").strip()
    if len(unit) > 60:
        raise DomainError("unit is too long (at most 60 characters)", field="unit")
    isp_reference = (isp_reference or "").strip()
    if len(isp_reference) > 100:
        raise DomainError(
            "isp_reference is too long (at most 100 characters)", field="isp_reference"
        )
    if Order.objects.filter(
        isp=isp, address=address, unit__iexact=unit, status__in=LIVE_ORDER_STATUSES
    ).exists():
        raise Conflict(
            "you have a live order at this address" + (f" ({unit})" if unit else "") + " already",
            code="duplicate_order",
            field="unit" if unit else "address",
        )
    customer = Customer.objects.create(name=name, email=email, phone=phone)
    return order_place(
        address=address,
        isp=isp,
        actor=actor,
        customer=customer,
        offering=offering,
        unit=unit,
        isp_reference=isp_reference,
    )


def order_terminate(*, order: Order, actor: User | None = None, reason: str = "") -> Order:
    """The service of an active order ended (deactivated, or the line moved to another ISP):
    the order terminates and its signup leaves the demand book, as a cancelled one does.
    Called inside the transaction of the service's end."""
    order = order_transition(order=order, to=OrderStatus.TERMINATED, actor=actor, reason=reason)
    signup_withdraw(order_key=order.demand_key, actor=actor)
    return order


# --- the marketplace: signups and interests -------------------------------------------------


def _required_text(value: str, field: str, label: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError(f"please give your {label}", field=field)
    if len(value) > max_length:
        raise DomainError(f"{label} is too long (at most {max_length} characters)", field=field)
    return value


def _email(value: str) -> str:
    value = _required_text(value, "email", "email address", 254)
    try:
        validate_email(value)
    except ValidationError as exc:
        raise DomainError(f"{value!r} is not an email address", field="email") from exc
    return value


def _contact(*, name: str, email: str, phone: str, consent: bool) -> tuple[str, str, str]:
    if consent is not True:
        raise DomainError("please agree to the terms to continue", field="consent")
    name = _required_text(name, "name", "name", 200)
    email = _email(email)
    phone = (phone or "").strip()
    if len(phone) > 40:
        raise DomainError("phone is too long (at most 40 characters)", field="phone")
    return name, email, phone


def _snapshot_terms(order: Order) -> Order:
    """Copy the connection-cost terms that apply now onto the order (later changes never
    reach it); no terms: no connection cost."""
    terms = terms_at(address_id=order.address_id, area_id=order.address.area_id)
    if terms is None:
        return order
    order.connection_cost_total = terms.total
    order.connection_cost_deposit = terms.deposit
    order.connection_cost_max_installment = terms.max_installment
    order.connection_cost_installments = len(
        installment_plan(total=terms.total, max_installment=terms.max_installment)
    )
    order.connection_cost_invoicing_starts = terms.invoicing_starts
    order.connection_cost_billed_by_id = terms.billed_by_id
    order.connection_cost_currency = terms.currency
    order.connection_cost_terms = terms
    order.save(
        update_fields=[
            "connection_cost_total",
            "connection_cost_deposit",
            "connection_cost_max_installment",
            "connection_cost_installments",
            "connection_cost_invoicing_starts",
            "connection_cost_billed_by",
            "connection_cost_currency",
            "connection_cost_terms",
            "updated_at",
        ]
    )
    return order


@transaction.atomic
def signup_place(
    *,
    address: Address,
    offering: Offering | None,
    connection_only: bool,
    name: str,
    email: str,
    phone: str,
    consent: bool,
    unit: str = "",
) -> Order:
    """A customer signs up at an address through the marketplace, for an ISP's offering or
    (where the operator enables it) for the connection alone.

    Creates the customer and the order (`order_place`: the demand book, the build queue),
    snapshots the connection-cost terms on the order, and queues the confirmation email with
    the link to manage the order (sent after commit, through the outbox).
    """
    name, email, phone = _contact(name=name, email=email, phone=phone, consent=consent)
    unit = (unit or "").strip()
    if len(unit) > 60:
        raise DomainError("unit is too long (at most 60 characters)", field="unit")
    if offering is None and not connection_only:
        raise DomainError("choose an offering, or the connection only", field="offering")
    if offering is not None and connection_only:
        raise DomainError(
            "choose either an offering or the connection only, not both", field="connection_only"
        )
    address = Address.objects.select_for_update().get(pk=address.pk)
    address_check_orderable(address)
    answer = serviceability_for_address(address.pk)
    if not answer.can_sign_up:
        raise DomainError(
            f"{answer.headline} Sign-ups are not open here.", code="signup_closed", field="address"
        )
    if offering is not None and offering.pk not in answer.offering_ids:
        raise DomainError(
            "this offering is not available at this address (today)", field="offering"
        )
    if connection_only and not answer.connection_only_available:
        raise DomainError(
            "a connection-only signup is not possible at this address", field="connection_only"
        )
    if Order.objects.filter(
        address=address, unit__iexact=unit, status__in=LIVE_ORDER_STATUSES
    ).exists():
        raise Conflict(
            "a signup for this address"
            + (f" ({unit})" if unit else "")
            + " is already in progress; the link in its confirmation email manages it",
            code="duplicate_signup",
            field="unit" if unit else "address",
        )
    customer = Customer.objects.create(name=name, email=email, phone=phone)
    order = order_place(
        address=address,
        isp=offering.isp if offering else None,
        customer=customer,
        offering=offering,
        unit=unit,
    )
    order = _snapshot_terms(order)
    publish(
        ORDER_SIGNED_UP,
        OrderSignedUp(
            order_id=order.pk,
            address_id=address.pk,
            offering_id=offering.pk if offering else None,
            connection_only=offering is None,
        ),
    )
    return order


@transaction.atomic
def interest_place(
    *, address: Address, name: str, email: str, consent: bool
) -> InterestRegistration:
    """A resident registers interest at an address through the marketplace: the demand book
    counts it (`interest_register`), the contact is kept here."""
    name, email, _ = _contact(name=name, email=email, phone="", consent=consent)
    address = Address.objects.select_for_update().get(pk=address.pk)
    if address.retired_at is not None:
        raise DomainError(
            "this address is no longer in the network's records and takes no registrations"
            " of interest; search for your address again",
            code="address_retired",
            field="address",
        )
    if InterestRegistration.objects.filter(
        address=address, customer__email__iexact=email, interest__withdrawn_at=None
    ).exists():
        raise Conflict(
            "you have already registered interest at this address; we will be in touch",
            code="duplicate_interest",
            field="email",
        )
    now = timezone.now()
    interest = interest_register(address=address, source="web", at=now)
    customer = Customer.objects.create(name=name, email=email)
    return InterestRegistration.objects.create(
        interest=interest, address=address, customer=customer, consented_at=now
    )


# --- the catalog and the ISPs' marketplace presence ------------------------------------------


def _isp(isp: Organisation) -> Organisation:
    if isp.kind != OrganisationKind.ISP:
        raise DomainError(f"{isp} is not an ISP", field="isp")
    return isp


@transaction.atomic
def isp_profile_set(*, isp: Organisation, logo: str = "", website: str = "") -> IspProfile:
    """Set how the marketplace shows an ISP: its logo (static path or URL) and website."""
    profile, _ = IspProfile.objects.update_or_create(
        organisation=_isp(isp), defaults={"logo": logo.strip(), "website": website.strip()}
    )
    return profile


@transaction.atomic
def isp_serve_area(*, isp: Organisation, area: Area) -> IspServiceArea:
    """The ISP sells its offerings in the area from now on (idempotent)."""
    served, _ = IspServiceArea.objects.get_or_create(isp=_isp(isp), area=area)
    return served


@transaction.atomic
def isp_leave_area(*, isp: Organisation, area: Area) -> None:
    """The ISP stops selling in the area (live orders stay as they are)."""
    IspServiceArea.objects.filter(isp=isp, area=area).delete()


def _period(valid_from: date, valid_to: date | None) -> None:
    if valid_to is not None and valid_to < valid_from:
        raise DomainError(
            f"valid_to ({valid_to}) cannot be before valid_from ({valid_from})", field="valid_to"
        )


@transaction.atomic
def product_create(
    *,
    code: str,
    name: str,
    download_mbps: int,
    upload_mbps: int,
    monthly_fee: Any,
    one_time_fee: Any = 0,
    currency: str = "EUR",
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> Product:
    """The owner adds a wholesale product (a speed profile with its wholesale fees)."""
    if Product.objects.filter(code=code).exists():
        raise Conflict(f"a product with code {code!r} exists already", field="code")
    if download_mbps <= 0 or upload_mbps <= 0:
        raise DomainError("speeds must be above 0 Mbit/s", field="download_mbps")
    valid_from = valid_from or timezone.localdate()
    _period(valid_from, valid_to)
    return Product.objects.create(
        code=code,
        name=name,
        download_mbps=download_mbps,
        upload_mbps=upload_mbps,
        monthly_fee=_amount(monthly_fee, "monthly_fee"),
        one_time_fee=_amount(one_time_fee, "one_time_fee"),
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
    )


@transaction.atomic
def offering_create(
    *,
    isp: Organisation,
    product: Product,
    name: str,
    monthly_price: Any,
    setup_fee: Any = 0,
    currency: str = "EUR",
    contract_months: int = 24,
    notice_days: int = 30,
    terms: str = "",
    valid_from: date | None = None,
    valid_to: date | None = None,
    areas: list[Area] | None = None,
) -> Offering:
    """An ISP adds a retail offering on a product; `areas` restricts it to some of the areas
    it serves (none: all of them). A price change is a new offering: orders keep theirs."""
    valid_from = valid_from or timezone.localdate()
    _period(valid_from, valid_to)
    offering = Offering.objects.create(
        isp=_isp(isp),
        product=product,
        name=name,
        monthly_price=_amount(monthly_price, "monthly_price"),
        setup_fee=_amount(setup_fee, "setup_fee"),
        currency=currency,
        contract_months=contract_months,
        notice_days=notice_days,
        terms=terms,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    if areas:
        offering.areas.set(areas)
    return offering


@transaction.atomic
def offering_withdraw(*, offering: Offering, last_day: date | None = None) -> Offering:
    """End an offering's validity (today by default); live orders on it are unaffected."""
    offering = Offering.objects.select_for_update().get(pk=offering.pk)
    last_day = last_day or timezone.localdate()
    _period(offering.valid_from, last_day)
    offering.valid_to = last_day
    offering.save(update_fields=["valid_to", "updated_at"])
    return offering


@transaction.atomic
def installation_slot_create(
    *, area: Area, starts_at: datetime, ends_at: datetime, capacity: int = 1
) -> InstallationSlot:
    """Open an installation window in an area for `capacity` homes."""
    if ends_at <= starts_at:
        raise DomainError("a window must end after it starts", field="ends_at")
    if capacity < 1:
        raise DomainError("a window needs a capacity of at least 1", field="capacity")
    return InstallationSlot.objects.create(
        area=area, starts_at=starts_at, ends_at=ends_at, capacity=capacity
    )


# --- connection-cost terms ------------------------------------------------------------------


def _amount(value: Any, field: str, *, optional: bool = False) -> Decimal | None:
    if value is None or value == "":
        if optional:
            return None
        raise DomainError(f"{field} is required", field=field)
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise DomainError(f"{field} must be an amount, not {value!r}", field=field) from exc
    if not amount.is_finite() or amount < 0:
        raise DomainError(f"{field} must be an amount of 0 or more, not {value}", field=field)
    return amount.quantize(Decimal("0.01"))


@transaction.atomic
def connection_cost_terms_set(
    *,
    area: Area | None = None,
    address: Address | None = None,
    total: Any,
    billed_by: Organisation,
    deposit: Any = None,
    max_installment: Any = None,
    invoicing_starts: str = InvoicingStage.NOT_ACTIVE,
    currency: str = "EUR",
    connection_only_enabled: bool = False,
) -> ConnectionCostTerms:
    """Set the connection-cost terms of an area, or of one address (overriding its area's).

    Orders already placed keep the terms they were signed up under (their snapshot).
    """
    if (area is None) == (address is None):
        raise DomainError("terms are set for an area or for an address", field="area")
    total = _amount(total, "total")
    deposit = _amount(deposit, "deposit", optional=True)
    max_installment = _amount(max_installment, "max_installment", optional=True)
    if deposit is not None and deposit > total:
        raise DomainError(
            f"the deposit ({deposit}) cannot exceed the total ({total})", field="deposit"
        )
    if max_installment is not None and max_installment <= 0:
        raise DomainError("the maximum installment must be above 0", field="max_installment")
    if invoicing_starts not in InvoicingStage.values:
        raise DomainError(
            f"invoicing_starts must be one of {', '.join(InvoicingStage.values)}",
            field="invoicing_starts",
        )
    currency = (currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise DomainError(f"{currency!r} is not an ISO 4217 currency code", field="currency")
    terms, _ = ConnectionCostTerms.objects.update_or_create(
        area=area,
        address=address,
        defaults={
            "total": total,
            "deposit": deposit,
            "max_installment": max_installment,
            "invoicing_starts": invoicing_starts,
            "billed_by": billed_by,
            "currency": currency,
            "connection_only_enabled": connection_only_enabled,
        },
    )
    return terms


# --- installation booking -------------------------------------------------------------------


def _check_bookable(order: Order, slot: InstallationSlot) -> None:
    """The order may book this slot: live, its area (or address) in deployment, the slot in
    its area and in the future."""
    if order.status not in LIVE_ORDER_STATUSES or order.status == OrderStatus.ACTIVE:
        raise DomainError(
            f"order {order.reference} is {order.get_status_display()}: nothing to install",
            code="booking_not_open",
        )
    address = order.address
    area = Area.objects.filter(pk=address.area_id).first() if address.area_id else None
    deploying = (area is not None and area.phase == AreaPhase.IN_DEPLOYMENT) or (
        address.status == AddressStatus.IN_DEPLOYMENT
    )
    if not deploying:
        raise DomainError(
            "installation appointments open once the build in your area has started",
            code="booking_not_open",
        )
    if slot.area_id != address.area_id:
        raise DomainError("this installation window is not in your area", field="slot")
    if slot.starts_at <= timezone.now():
        raise DomainError("this installation window has already begun", field="slot")


def _take_space(slot: InstallationSlot) -> InstallationSlot:
    slot = InstallationSlot.objects.select_for_update().get(pk=slot.pk)
    if slot.booked >= slot.capacity:
        raise Conflict(
            "this installation window is fully booked; please pick another",
            code="slot_full",
            field="slot",
        )
    InstallationSlot.objects.filter(pk=slot.pk).update(booked=F("booked") + 1)
    return slot


def _free_space(slot_id: int) -> None:
    InstallationSlot.objects.filter(pk=slot_id, booked__gt=0).update(booked=F("booked") - 1)


def _booking_event(topic: str, booking: Booking, previous_slot_id: int | None = None) -> None:
    publish(
        topic,
        BookingChanged(
            booking_id=booking.pk,
            order_id=booking.order_id,
            slot_id=booking.slot_id,
            status=booking.status,
            previous_slot_id=previous_slot_id,
        ),
    )


@transaction.atomic
def booking_create(*, order: Order, slot: InstallationSlot) -> Booking:
    """Book an installation window for an order (one live booking per order)."""
    order = Order.objects.select_for_update().select_related("address").get(pk=order.pk)
    _check_bookable(order, slot)
    if order.bookings.filter(status=BookingStatus.BOOKED).exists():
        raise Conflict(
            "this order already has an installation appointment; reschedule it instead",
            code="already_booked",
        )
    slot = _take_space(slot)
    booking = Booking.objects.create(order=order, slot=slot)
    _booking_event(BOOKING_MADE, booking)
    return booking


def _booking_transition(booking: Booking, to: str) -> Booking:
    """The one place a booking's status is assigned: lock, check, set, event (by callers)."""
    booking = Booking.objects.select_for_update().get(pk=booking.pk)
    BOOKING_TRANSITIONS.check(booking.status, to)
    booking.status = to
    booking.status_changed_at = timezone.now()
    booking.save(update_fields=["status", "status_changed_at", "updated_at"])
    return booking


@transaction.atomic
def booking_reschedule(*, booking: Booking, slot: InstallationSlot) -> Booking:
    """Move an appointment to another window: the old booking is kept as rescheduled and
    points to the new one, which is returned."""
    order = Order.objects.select_for_update().select_related("address").get(pk=booking.order_id)
    current = Booking.objects.select_for_update().get(pk=booking.pk)
    if current.status != BookingStatus.BOOKED:
        BOOKING_TRANSITIONS.check(current.status, BookingStatus.RESCHEDULED)
    if current.slot_id == slot.pk:
        raise DomainError("the appointment is already in this window", field="slot")
    _check_bookable(order, slot)
    # lock both slots in pk order, so two reschedules the other way round cannot deadlock
    list(
        InstallationSlot.objects.select_for_update()
        .filter(pk__in=[current.slot_id, slot.pk])
        .order_by("pk")
    )
    _take_space(slot)
    previous_slot_id = current.slot_id
    old = _booking_transition(current, BookingStatus.RESCHEDULED)
    _free_space(previous_slot_id)
    new = Booking.objects.create(order=order, slot=slot)
    old.replaced_by = new
    old.save(update_fields=["replaced_by", "updated_at"])
    _booking_event(BOOKING_RESCHEDULED, new, previous_slot_id=previous_slot_id)
    return new


@transaction.atomic
def booking_cancel(*, booking: Booking) -> Booking:
    """Cancel an appointment; its window has room again."""
    booking = _booking_transition(booking, BookingStatus.CANCELLED)
    _free_space(booking.slot_id)
    _booking_event(BOOKING_CANCELLED, booking)
    return booking
