"""The billing app's reactions to the layers below: signups and their stages make connection
charges, services starting, changing and ending drive subscriptions (in their transaction)."""

from billing.events import INVOICE_REMINDER_DUE
from common.events import IN_TRANSACTION, OUTBOX, Event, subscribe
from gis_core.events import ADDRESS_STATUS_CHANGED, ADDRESSES_STATUS_CHANGED
from wholesale.events import (
    ORDER_SIGNED_UP,
    ORDER_STATUS_CHANGED,
    SERVICE_ACTIVATED,
    SERVICE_DEACTIVATED,
    SERVICE_PROFILE_CHANGED,
)

# --- subscriptions: they follow the services (billing.subscriptions) -----------------------


def _service_and_instant(event: Event):
    from billing.subscriptions import event_instant
    from wholesale.models import Service

    service = Service.objects.select_related("product").get(pk=event.payload["service_id"])
    return service, event_instant(event.payload["at"])


@subscribe(SERVICE_ACTIVATED, kind=IN_TRANSACTION, name="billing.subscription_start")
def subscription_starts_with_service(event: Event) -> None:
    """A service went live: its order's subscription starts at that instant."""
    from billing.subscriptions import subscription_start

    service, at = _service_and_instant(event)
    subscription_start(service=service, at=at)


@subscribe(SERVICE_PROFILE_CHANGED, kind=IN_TRANSACTION, name="billing.subscription_plan")
def subscription_follows_profile(event: Event) -> None:
    """The provisioned profile changed: the billed plan follows, prorated."""
    from billing.subscriptions import subscription_change_plan
    from wholesale.models import Product

    service, at = _service_and_instant(event)
    product = Product.objects.get(pk=event.payload["product_id"])
    subscription_change_plan(service=service, product=product, at=at)


@subscribe(SERVICE_DEACTIVATED, kind=IN_TRANSACTION, name="billing.subscription_end")
def subscription_ends_with_service(event: Event) -> None:
    """A service ended (or was switched away): its subscription ends at that instant."""
    from billing.subscriptions import subscription_end

    service, at = _service_and_instant(event)
    subscription_end(service=service, at=at)


# --- connection (connection charges; invoice reminders by email) ----------------------------


@subscribe(ORDER_SIGNED_UP, kind=IN_TRANSACTION, name="billing.connection_charge_open")
def connection_charge_open_on_signup(event: Event) -> None:
    """A signup with a connection cost gets its charge: the deposit invoice, and the rows
    if its stage is already reached."""
    from billing.connection import connection_charge_open
    from wholesale.models import Order

    order = Order.objects.filter(pk=event.payload["order_id"]).first()
    if order is not None:
        connection_charge_open(order=order)


@subscribe(ADDRESS_STATUS_CHANGED, kind=IN_TRANSACTION, name="billing.connection_address_stage")
def connection_charges_follow_address(event: Event) -> None:
    """An address moved: the waiting charges there that reached their stage get their rows."""
    from billing.connection import connection_charges_check_addresses

    connection_charges_check_addresses(address_ids=[event.payload["address_id"]])


@subscribe(ADDRESSES_STATUS_CHANGED, kind=IN_TRANSACTION, name="billing.connection_addresses_stage")
def connection_charges_follow_addresses(event: Event) -> None:
    """Many addresses moved at once (an area deploying): set-based, the same."""
    from billing.connection import connection_charges_check_addresses

    connection_charges_check_addresses(address_ids=event.payload["address_ids"])


@subscribe(ORDER_STATUS_CHANGED, kind=IN_TRANSACTION, name="billing.connection_order_stage")
def connection_charge_follow_order(event: Event) -> None:
    """An order moved: cancelled before its rows cancels the charge; else check its stage."""
    from billing.connection import connection_charge_follow_order as follow

    follow(order_id=event.payload["order_id"], to_status=event.payload["to_status"])


@subscribe(INVOICE_REMINDER_DUE, kind=OUTBOX, name="billing.invoice_reminder_email")
def invoice_reminder_email(event: Event) -> None:
    """Email the reminder of an overdue invoice to the party billed (after commit)."""
    from billing.invoices import reminder_email_send

    reminder_email_send(reminder_id=event.payload["reminder_id"])
