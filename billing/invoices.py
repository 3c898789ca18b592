"""The life of an issued invoice: payments and refunds, credit notes, voiding, disputes, and
the dunning of overdue ones (reminders at 7, 21 and 35 days, emailed through the outbox).

What is still owed on an invoice (`outstanding`) is its total, less what was paid (payments
less refunds), less what its credit notes took off. An invoice with nothing left owed is
paid (settled); a refund that reopens a balance makes it issued again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from billing.events import INVOICE_REMINDER_DUE, InvoiceReminderDue
from billing.invoicing import Line, invoice_create, money
from billing.lifecycle import (
    INVOICE_TRANSITIONS,
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    PaymentKind,
    PaymentProcessor,
)
from billing.models import BillingRun, Invoice, InvoiceReminder, Payment
from common.errors import Conflict, DomainError
from common.events import publish

ZERO = Decimal("0.00")
DEFAULT_REMINDER_DAYS = (7, 21, 35)
REMINDER_NAMES = {1: "Payment reminder", 2: "Second payment reminder", 3: "Final notice"}


# --- what is owed ---------------------------------------------------------------------------


def credited(invoice: Invoice) -> Decimal:
    """What the invoice's credit notes (not void) took off it, as a positive amount."""
    total = (
        Invoice.objects.filter(credits=invoice, kind=InvoiceKind.CREDIT_NOTE)
        .exclude(status=InvoiceStatus.VOID)
        .aggregate(total=Sum("total"))["total"]
    )
    return -(total or ZERO)


def outstanding(invoice: Invoice) -> Decimal:
    """What is still owed: total − paid (net of refunds) − credited."""
    return invoice.total - invoice.amount_paid - credited(invoice)


def amount_of(value: Any, field: str = "amount") -> Decimal:
    """A positive amount of money from user input, or a DomainError saying what is wrong."""
    if isinstance(value, Decimal):
        amount = value
    else:
        text = str(value if value is not None else "").strip().replace(",", ".")
        if not text:
            raise DomainError(f"please give the {field}", field=field)
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise DomainError(f"{value!r} is not an amount of money", field=field) from exc
    if not amount.is_finite():
        raise DomainError(f"{value!r} is not an amount of money", field=field)
    if amount != amount.quantize(Decimal("0.01")):
        raise DomainError(f"the {field} has more than two decimals", field=field)
    if amount <= 0:
        raise DomainError(f"the {field} must be above 0", field=field)
    if amount >= Decimal("1e12"):
        raise DomainError(f"the {field} is too large", field=field)
    return money(amount)


def _method(method: str) -> str:
    if method not in PaymentProcessor.values:
        raise DomainError(
            f"method must be one of {', '.join(PaymentProcessor.values)}", field="method"
        )
    return method


def _reference(reference: str) -> str:
    reference = (reference or "").strip()
    if len(reference) > 120:
        raise DomainError("reference is too long (at most 120 characters)", field="reference")
    return reference


def _locked(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().select_related("provider").get(pk=invoice.pk)


def _settle_status(invoice: Invoice, at: dt.datetime) -> Invoice:
    """Paid when nothing is owed, issued again when a balance reopens."""
    left = outstanding(invoice)
    if invoice.status == InvoiceStatus.ISSUED and left <= 0:
        INVOICE_TRANSITIONS.check(invoice.status, InvoiceStatus.PAID)
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = at
    elif invoice.status == InvoiceStatus.PAID and left > 0:
        INVOICE_TRANSITIONS.check(invoice.status, InvoiceStatus.ISSUED)
        invoice.status = InvoiceStatus.ISSUED
        invoice.paid_at = None
    return invoice


# --- reads ---------------------------------------------------------------------------------

MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)
ZERO_VALUE = Value(0, output_field=MONEY_FIELD)


def invoices_with_outstanding() -> QuerySet[Invoice]:
    """Invoices with `credited_total` (≤ 0, their live credit notes) and `left_owed`
    annotated, in one query."""
    credit_notes = (
        Invoice.objects.filter(credits=OuterRef("pk"), kind=InvoiceKind.CREDIT_NOTE)
        .exclude(status=InvoiceStatus.VOID)
        .order_by()
        .values("credits")
        .annotate(total_sum=Sum("total"))
        .values("total_sum")
    )
    return Invoice.objects.annotate(
        credited_total=Coalesce(Subquery(credit_notes, output_field=MONEY_FIELD), ZERO_VALUE)
    ).annotate(left_owed=F("total") - F("amount_paid") + F("credited_total"))


def overdue_q(today: dt.date) -> Q:
    return Q(status=InvoiceStatus.ISSUED, due_date__lt=today, left_owed__gt=0) & ~Q(
        kind=InvoiceKind.CREDIT_NOTE
    )


def invoices_filtered(queryset: QuerySet[Invoice], data: dict) -> QuerySet[Invoice]:
    """The invoices matching a valid filter's data (shared with the API)."""
    if data.get("q"):
        text = data["q"].strip()
        queryset = queryset.filter(
            Q(number__icontains=text)
            | Q(customer__name__icontains=text)
            | Q(customer__email__icontains=text)
            | Q(billed_organisation__name__icontains=text)
        )
    if data.get("status"):
        queryset = queryset.filter(status=data["status"])
    if data.get("kind"):
        queryset = queryset.filter(kind=data["kind"])
    if data.get("provider"):
        queryset = queryset.filter(provider=data["provider"])
    if data.get("overdue"):
        queryset = queryset.filter(overdue_q(timezone.localdate()))
    return queryset


# --- payments, refunds ----------------------------------------------------------------------


@transaction.atomic
def payment_record(
    *,
    invoice: Invoice,
    amount: Any,
    method: str,
    reference: str = "",
    actor: User | None = None,
    at: dt.datetime | None = None,
) -> Payment:
    """Record money received against an issued invoice (part or all of what is owed; never
    more). Fully paid: the invoice is paid, with the instant."""
    amount = amount_of(amount)
    method = _method(method)
    reference = _reference(reference)
    invoice = _locked(invoice)
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        raise Conflict("a credit note is not paid; refund the customer instead")
    if invoice.status != InvoiceStatus.ISSUED:
        raise Conflict(f"invoice {invoice} is {invoice.get_status_display()}: no payment is due")
    left = outstanding(invoice)
    if amount > left:
        raise DomainError(
            f"{amount} {invoice.currency} is more than the {left} {invoice.currency} still owed "
            f"on {invoice}: an overpayment is not recorded",
            code="overpayment",
            field="amount",
        )
    return _money_moved(invoice, PaymentKind.PAYMENT, amount, method, reference, actor, at)


@transaction.atomic
def refund_record(
    *,
    invoice: Invoice,
    amount: Any,
    method: str,
    reference: str = "",
    actor: User | None = None,
    at: dt.datetime | None = None,
) -> Payment:
    """Give money back on an invoice (at most what was paid); a paid invoice whose balance
    reopens is issued again."""
    amount = amount_of(amount)
    method = _method(method)
    reference = _reference(reference)
    invoice = _locked(invoice)
    if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
        raise Conflict(f"invoice {invoice} is {invoice.get_status_display()}: nothing to refund")
    if amount > invoice.amount_paid:
        raise DomainError(
            f"{amount} {invoice.currency} is more than the {invoice.amount_paid} "
            f"{invoice.currency} paid on {invoice}",
            code="refund_above_paid",
            field="amount",
        )
    return _money_moved(invoice, PaymentKind.REFUND, amount, method, reference, actor, at)


def _money_moved(invoice, kind, amount, method, reference, actor, at) -> Payment:
    """The row of money received (or given back) on the locked invoice, its paid amount
    and its status after it."""
    at = at or timezone.now()
    row = Payment.objects.create(
        invoice=invoice,
        kind=kind,
        amount=amount,
        received_at=at,
        method=method,
        reference=reference,
        recorded_by=actor,
    )
    invoice.amount_paid += amount if kind == PaymentKind.PAYMENT else -amount
    invoice = _settle_status(invoice, at)
    invoice.save(update_fields=["amount_paid", "status", "paid_at", "updated_at"])
    return row


# --- credit notes, voiding, disputes --------------------------------------------------------


@transaction.atomic
def credit_note_create(
    *,
    invoice: Invoice,
    amount: Any,
    reason: str,
    actor: User | None = None,
    on: dt.date | None = None,
) -> Invoice:
    """Credit part or all of an issued invoice: a credit-note invoice (numbered in the same
    sequence) with one negative credit row saying why; never more than is left uncredited.
    `amount` is before tax; the provider's tax is credited with it."""
    amount = amount_of(amount)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("please say why the invoice is credited", field="reason")
    if len(reason) > 250:
        raise DomainError("reason is too long (at most 250 characters)", field="reason")
    invoice = _locked(invoice)
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        raise Conflict("a credit note cannot be credited")
    if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
        raise Conflict(
            f"invoice {invoice} is {invoice.get_status_display()}: it cannot be credited"
        )
    gross = amount + money(amount * invoice.provider.tax_rate / 100)
    left = invoice.total - credited(invoice)
    if gross > left:
        raise DomainError(
            f"a credit of {gross} {invoice.currency} is more than the {left} "
            f"{invoice.currency} of {invoice} not credited yet",
            code="credit_above_invoice",
            field="amount",
        )
    count = Invoice.objects.filter(credits=invoice).count()
    note, _ = invoice_create(
        provider=invoice.provider,
        kind=InvoiceKind.CREDIT_NOTE,
        idempotency_key=f"credit:{invoice.pk}:{count + 1}",
        lines=[
            Line(
                kind=LineKind.CREDIT,
                description=f"Credit on invoice {invoice.number}: {reason}",
                unit_amount=-amount,
            )
        ],
        on=on,
        customer_id=invoice.customer_id,
        billed_organisation_id=invoice.billed_organisation_id,
        isp_id=invoice.isp_id,
        order_id=invoice.order_id,
        subscription_id=invoice.subscription_id,
        credits=invoice,
    )
    invoice = _settle_status(invoice, timezone.now())
    invoice.save(update_fields=["status", "paid_at", "updated_at"])
    return note


@transaction.atomic
def invoice_void(*, invoice: Invoice, reason: str, actor: User | None = None) -> Invoice:
    """Void an invoice nothing was paid on (it keeps its number: no gap). One with payments
    or live credit notes is refunded or credited instead."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("please say why the invoice is voided", field="reason")
    if len(reason) > 500:
        raise DomainError("reason is too long (at most 500 characters)", field="reason")
    invoice = _locked(invoice)
    if invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.ISSUED):
        raise Conflict(f"invoice {invoice} is {invoice.get_status_display()}: it cannot be voided")
    if invoice.payments.exists():
        raise Conflict(
            f"invoice {invoice} has payments recorded: refund or credit it instead of voiding"
        )
    if invoice.credit_notes.exclude(status=InvoiceStatus.VOID).exists():
        raise Conflict(f"invoice {invoice} has credit notes: void them first")
    INVOICE_TRANSITIONS.check(invoice.status, InvoiceStatus.VOID)
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = timezone.now()
    invoice.void_reason = reason
    invoice.save(update_fields=["status", "voided_at", "void_reason", "updated_at"])
    if invoice.credits_id:  # a voided credit note gives its amount back to the invoice
        credited_invoice = _locked(Invoice(pk=invoice.credits_id))
        credited_invoice = _settle_status(credited_invoice, timezone.now())
        credited_invoice.save(update_fields=["status", "paid_at", "updated_at"])
    return invoice


@transaction.atomic
def invoice_dispute_set(*, invoice: Invoice, disputed: bool, actor: User | None = None) -> Invoice:
    """Mark an invoice disputed by the customer (no reminders while it is), or settled."""
    invoice = _locked(invoice)
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        raise Conflict(f"invoice {invoice} is {invoice.get_status_display()}: nothing to dispute")
    invoice.disputed = bool(disputed)
    invoice.save(update_fields=["disputed", "updated_at"])
    return invoice


# --- dunning --------------------------------------------------------------------------------


def reminder_days() -> tuple[int, ...]:
    """The days overdue of each reminder level (settings.BILLING_REMINDER_DAYS)."""
    days = tuple(int(d) for d in getattr(settings, "BILLING_REMINDER_DAYS", DEFAULT_REMINDER_DAYS))
    return tuple(sorted(days))


@transaction.atomic
def invoices_remind_overdue(*, on: dt.date, run: BillingRun | None = None) -> dict:
    """Dunning, set-based: every issued, undisputed invoice with money owed that is at least
    7/21/35 days past due (BILLING_REMINDER_DAYS) and not reminded at that level yet gets one
    reminder row at the highest level it reached, its reminder level and date updated, and an
    email queued through the outbox. A rerun on the same day does nothing."""
    now = timezone.now()
    invoice_table = Invoice._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH owed AS (
                SELECT i.id, i.reminder_level, (%(on)s::date - i.due_date) AS days,
                       i.total - i.amount_paid + coalesce((
                           SELECT sum(c.total) FROM {invoice_table} c
                            WHERE c.credits_id = i.id AND c.kind = %(credit_note)s
                              AND c.status <> %(void)s), 0) AS left_owed
                  FROM {invoice_table} i
                 WHERE i.status = %(issued)s AND NOT i.disputed AND i.kind <> %(credit_note)s
                   AND i.due_date < %(on)s
            ), levelled AS (
                SELECT o.id, o.days, o.reminder_level,
                       (SELECT max(l.level) FROM unnest(%(days)s::int[])
                               WITH ORDINALITY AS l(days, level)
                         WHERE o.days >= l.days) AS level
                  FROM owed o
                 WHERE o.left_owed > 0
            ), inserted AS (
                INSERT INTO {InvoiceReminder._meta.db_table}
                       (invoice_id, level, sent_at, days_overdue, fee)
                SELECT id, level, %(now)s, days, 0 FROM levelled
                 WHERE level IS NOT NULL AND level > reminder_level
                 ORDER BY id
                ON CONFLICT (invoice_id, level) DO NOTHING
                RETURNING id, invoice_id, level
            ), updated AS (
                UPDATE {invoice_table} i
                   SET reminder_level = r.level, last_reminded_at = %(now)s, updated_at = %(now)s
                  FROM inserted r
                 WHERE i.id = r.invoice_id
                RETURNING i.id
            )
            SELECT r.id, r.invoice_id, r.level FROM inserted r
              JOIN updated u ON u.id = r.invoice_id
             ORDER BY r.invoice_id
            """,
            {
                "on": on,
                "now": now,
                "days": list(reminder_days()),
                "issued": InvoiceStatus.ISSUED,
                "void": InvoiceStatus.VOID,
                "credit_note": InvoiceKind.CREDIT_NOTE,
            },
        )
        reminders = cursor.fetchall()
    by_level: dict[str, int] = {}
    for reminder_id, invoice_id, level in reminders:
        # one event per reminder: each email is delivered (and retried) on its own
        publish(
            INVOICE_REMINDER_DUE,
            InvoiceReminderDue(reminder_id=reminder_id, invoice_id=invoice_id, level=level),
        )
        by_level[f"level_{level}"] = by_level.get(f"level_{level}", 0) + 1
    return {"reminders": len(reminders), **by_level}


def _recipient(invoice: Invoice) -> str:
    if invoice.customer_id and invoice.customer.email:
        return invoice.customer.email
    organisation = invoice.billed_organisation
    profile = getattr(organisation, "isp_profile", None) if organisation else None
    return profile.contact_email if profile is not None else ""


def reminder_email_send(*, reminder_id: int) -> None:
    """The reminder email of an overdue invoice, to the party billed (outbox handler)."""
    reminder = (
        InvoiceReminder.objects.select_related(
            "invoice", "invoice__provider", "invoice__customer", "invoice__billed_organisation"
        )
        .filter(pk=reminder_id)
        .first()
    )
    if reminder is None:
        return
    invoice = reminder.invoice
    recipient = _recipient(invoice)
    if not recipient:
        return
    left = outstanding(invoice)
    if invoice.status != InvoiceStatus.ISSUED or left <= 0:
        return  # paid (or voided) since: no reminder goes out
    name = REMINDER_NAMES.get(reminder.level, f"Reminder {reminder.level}")
    provider = invoice.provider
    instructions = payment_instructions(provider)
    body = [
        f"{name}: invoice {invoice.number}",
        "",
        f"Invoice {invoice.number} of {invoice.issue_date:%d %B %Y} was due on "
        f"{invoice.due_date:%d %B %Y}, {reminder.days_overdue} days ago.",
        f"Still owed: {left} {invoice.currency}.",
        "",
        "Please pay it now" + (":" if instructions else "."),
        *[f"  {label}: {value}" for label, value in instructions],
        f"  Reference: {invoice.number}",
        "",
        "If you have paid in the last few days, please ignore this reminder.",
        "",
        provider.name,
    ]
    send_mail(
        subject=f"{name}: invoice {invoice.number} ({left} {invoice.currency})",
        message="\n".join(body),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[recipient],
    )


PROCESSOR_LABELS = {
    "account_holder": "Account holder",
    "iban": "IBAN",
    "bic": "BIC",
    "bank": "Bank",
    "creditor_id": "Creditor id",
    "merchant_id": "Merchant id",
    "payment_url": "Pay online",
    "instructions": "Note",
}


def payment_instructions(provider) -> list[tuple[str, str]]:
    """How to pay this provider, from the known keys of its processor settings (labelled,
    in a stable order)."""
    settings_ = provider.processor_settings or {}
    if not isinstance(settings_, dict):
        return []
    rows = [("Method", provider.get_payment_processor_display())]
    for key, label in PROCESSOR_LABELS.items():
        if settings_.get(key):
            rows.append((label, str(settings_[key])))
    return rows  # other keys are the processor's own business: never printed
