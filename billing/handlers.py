"""The billing app's reactions to the layers below: signups and their stages make connection
charges, services starting, changing and ending drive subscriptions (in their transaction)."""

# --- subscriptions: they follow the services (billing.subscriptions) -----------------------

from common.events import IN_TRANSACTION, Event, subscribe
from wholesale.events import (
    SERVICE_ACTIVATED,
    SERVICE_DEACTIVATED,
    SERVICE_PROFILE_CHANGED,
)


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
