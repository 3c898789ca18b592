"""The wholesale app's reactions to its own events that leave the database (via the outbox)."""

from common.events import OUTBOX, Event, subscribe
from wholesale.emails import send_signup_confirmation
from wholesale.events import ORDER_SIGNED_UP


@subscribe(ORDER_SIGNED_UP, kind=OUTBOX, name="wholesale.signup_confirmation_email")
def signup_confirmation_email(event: Event) -> None:
    """Email the customer the confirmation of their signup, with the link to manage it."""
    send_signup_confirmation(order_id=event.payload["order_id"])
