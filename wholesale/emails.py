"""Emails to customers (sent by outbox handlers after the change has committed)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from wholesale.connection_cost import installment_plan
from wholesale.lifecycle import InvoicingStage
from wholesale.models import Order


def manage_url(order: Order) -> str:
    """The customer's link to their order (booking, rescheduling, cancelling)."""
    return f"{settings.PUBLIC_SITE_URL.rstrip('/')}/lookup/orders/{order.manage_token}/"


def _connection_cost_lines(order: Order) -> list[str]:
    if not order.has_connection_cost:
        return []
    currency = order.connection_cost_currency
    deposit = order.connection_cost_deposit
    remaining = order.connection_cost_total - (deposit or 0)
    rows = installment_plan(
        total=order.connection_cost_total, max_installment=order.connection_cost_max_installment
    )
    lines = ["", "Connection cost", f"  Total: {order.connection_cost_total} {currency}"]
    if deposit:
        lines.append(f"  Deposit at signup: {deposit} {currency}")
        lines.append(f"  Remaining after the deposit: {remaining} {currency}")
    if rows:
        lines.append(
            f"  Split into {len(rows)} monthly installment"
            f"{'s' if len(rows) != 1 else ''} of up to {max(rows)} {currency}"
        )
    lines.append(
        "  Invoiced "
        + InvoicingStage(order.connection_cost_invoicing_starts).label
        + (f", by {order.connection_cost_billed_by}" if order.connection_cost_billed_by else "")
    )
    return lines


def send_signup_confirmation(*, order_id: int) -> None:
    """The confirmation of a marketplace signup, to the customer who made it."""
    order = (
        Order.objects.select_related(
            "customer", "address", "offering", "offering__product", "isp",
            "connection_cost_billed_by",
        )
        .filter(pk=order_id)
        .first()
    )  # fmt: skip
    if order is None or order.customer is None:
        return
    offering = order.offering
    what = (
        f"{offering.name} from {order.isp} ({offering.product.download_mbps}/"
        f"{offering.product.upload_mbps} Mbit/s, {offering.monthly_price}"
        f" {offering.currency} a month)"
        if offering
        else "the fibre connection only (no service yet)"
    )
    lines = [
        f"Hello {order.customer.name},",
        "",
        f"thank you for signing up for fibre at {order.address.label}"
        + (f" ({order.unit})" if order.unit else "")
        + ".",
        "",
        f"Your order: {order.reference}",
        f"You chose: {what}",
        *_connection_cost_lines(order),
        "",
        "See your order, book or change your installation appointment, here:",
        manage_url(order),
        "",
        "Keep this link to yourself: anyone who has it can manage your order.",
    ]
    send_mail(
        subject=f"Your fibre signup {order.reference}",
        message="\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[order.customer.email],
    )
