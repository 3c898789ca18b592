"""The core every invoice goes through: its rows and totals, created once per idempotency
key, and issued with the provider's next number (gap-free: numbers are handed out under a
lock on the provider's sequence row, in the issuing transaction, so a rollback returns them).

One invoice at a time (`invoice_create`, `invoice_issue`) for events, and set-based
(`invoices_issue_all`) for the billing runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Organisation
from billing.lifecycle import INVOICE_TRANSITIONS, InvoiceStatus
from billing.models import BillingProvider, Invoice, InvoiceLine, InvoiceSequence

CENT = Decimal("0.01")


def money(value) -> Decimal:
    """An amount rounded to the cent, half up (the one rounding rule of invoices)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def provider_of(organisation_id: int | None) -> BillingProvider | None:
    """The organisation's active billing provider, or None (then it cannot invoice)."""
    if organisation_id is None:
        return None
    return (
        BillingProvider.objects.filter(
            organisation_id=organisation_id, is_active=True, organisation__is_active=True
        )
        .select_related("organisation")
        .first()
    )


def provider_problem(organisation: Organisation | None, currency: str) -> str:
    """Why `organisation` cannot invoice in `currency` (empty when it can)."""
    if organisation is None:
        return "no billing party is set"
    provider = provider_of(organisation.pk)
    if provider is None:
        return f"{organisation} has no active billing provider"
    if currency and provider.currency != currency:
        return f"{provider} invoices in {provider.currency}, not {currency}"
    return ""


@dataclass(frozen=True)
class Line:
    """One row to put on an invoice; `amount` defaults to quantity × unit amount."""

    kind: str
    description: str
    unit_amount: Decimal
    quantity: Decimal = Decimal(1)
    amount: Decimal | None = None
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None
    subscription_id: int | None = None
    service_id: int | None = None
    installment_id: int | None = None
    work_order_id: int | None = None
    catalog_unit_amount: Decimal | None = None
    override_id: int | None = None

    @property
    def total(self) -> Decimal:
        if self.amount is not None:
            return money(self.amount)
        return money(self.unit_amount * self.quantity)


def invoice_create(
    *,
    provider: BillingProvider,
    kind: str,
    idempotency_key: str,
    lines: Iterable[Line],
    issue: bool = True,
    on: dt.date | None = None,
    **fields,
) -> tuple[Invoice, bool]:
    """Create the invoice for `idempotency_key` with its rows (and issue it), or return the
    one that key already made: (invoice, created). Call inside the caller's transaction.

    `fields` are the invoice's other columns (customer, billed_organisation, isp, order,
    subscription, credits, run, period_start, period_end).
    """
    existing = Invoice.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    lines = list(lines)
    subtotal = sum((line.total for line in lines), Decimal("0.00"))
    tax = money(subtotal * provider.tax_rate / 100)
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin leaves ours untouched
            invoice = Invoice.objects.create(
                provider=provider,
                kind=kind,
                idempotency_key=idempotency_key,
                currency=provider.currency,
                subtotal=subtotal,
                tax=tax,
                total=subtotal + tax,
                **fields,
            )
    except IntegrityError:
        return Invoice.objects.get(idempotency_key=idempotency_key), False
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            position=position,
            kind=line.kind,
            description=line.description[:300],
            quantity=line.quantity,
            unit_amount=money(line.unit_amount),
            amount=line.total,
            period_start=line.period_start,
            period_end=line.period_end,
            subscription_id=line.subscription_id,
            service_id=line.service_id,
            installment_id=line.installment_id,
            work_order_id=line.work_order_id,
            catalog_unit_amount=line.catalog_unit_amount,
            override_id=line.override_id,
        )
        for position, line in enumerate(lines, start=1)
    )
    if issue:
        invoice = invoice_issue(invoice=invoice, on=on)
    return invoice, True


def _sequence_locked(provider_id: int, year: int) -> InvoiceSequence:
    InvoiceSequence.objects.get_or_create(provider_id=provider_id, year=year)
    return InvoiceSequence.objects.select_for_update().get(provider_id=provider_id, year=year)


def invoice_number(prefix: str, year: int, sequence: int) -> str:
    return f"{prefix}-{year}-{sequence:06d}"


@transaction.atomic
def invoice_issue(*, invoice: Invoice, on: dt.date | None = None) -> Invoice:
    """Give a draft its number (the provider's next, no gaps), issue and due dates."""
    invoice = Invoice.objects.select_for_update().select_related("provider").get(pk=invoice.pk)
    INVOICE_TRANSITIONS.check(invoice.status, InvoiceStatus.ISSUED)
    on = on or timezone.localdate()
    sequence = _sequence_locked(invoice.provider_id, on.year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    invoice.sequence_year = on.year
    invoice.sequence = sequence.last_number
    invoice.number = invoice_number(invoice.provider.invoice_prefix, on.year, sequence.last_number)
    invoice.issue_date = on
    invoice.due_date = on + dt.timedelta(days=invoice.provider.payment_terms_days)
    invoice.status = InvoiceStatus.ISSUED
    invoice.save(
        update_fields=[
            "sequence_year",
            "sequence",
            "number",
            "issue_date",
            "due_date",
            "status",
            "updated_at",
        ]
    )
    return invoice


def invoices_issue_all(*, invoice_ids_sql: str, params: list, on: dt.date) -> int:
    """Issue, set-based, every draft the query `invoice_ids_sql` selects (it returns invoice
    ids): per provider, numbers continue from its sequence in id order. Returns how many.
    Call inside the run's transaction (the sequence rows stay locked until it commits)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE TEMP TABLE IF NOT EXISTS billing_to_issue (id bigint PRIMARY KEY,
                provider_id bigint) ON COMMIT DROP;
            TRUNCATE billing_to_issue;
            INSERT INTO billing_to_issue (id, provider_id)
            SELECT i.id, i.provider_id FROM billing_invoice i
            WHERE i.status = 'draft' AND i.id IN ({invoice_ids_sql});
            """,
            params,
        )
        cursor.execute("SELECT DISTINCT provider_id FROM billing_to_issue ORDER BY 1")
        providers = [row[0] for row in cursor.fetchall()]
        issued = 0
        for provider_id in providers:  # a handful of providers, never a row loop
            sequence = _sequence_locked(provider_id, on.year)
            cursor.execute(
                """
                WITH numbered AS (
                    SELECT t.id, %s + row_number() OVER (ORDER BY t.id) AS seq
                    FROM billing_to_issue t WHERE t.provider_id = %s
                )
                UPDATE billing_invoice i
                SET sequence_year = %s, sequence = n.seq,
                    number = p.invoice_prefix || '-' || %s || '-'
                        || lpad(n.seq::text, greatest(6, length(n.seq::text)), '0'),
                    issue_date = %s, due_date = %s::date + p.payment_terms_days,
                    status = 'issued', updated_at = now()
                FROM numbered n, billing_billingprovider p
                WHERE i.id = n.id AND p.id = i.provider_id
                """,
                [sequence.last_number, provider_id, on.year, str(on.year), on, on],
            )
            count = cursor.rowcount
            sequence.last_number += count
            sequence.save(update_fields=["last_number"])
            issued += count
    return issued
