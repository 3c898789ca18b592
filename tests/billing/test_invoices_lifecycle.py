"""An issued invoice's life: payments (part, full, never over), refunds reopening a balance,
credit notes (numbered in the same sequence, never above what is left), voiding (only without
payments, keeping the number), disputes, and the set-based dunning with its emails."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from billing.invoices import (
    credit_note_create,
    invoice_dispute_set,
    invoice_void,
    invoices_remind_overdue,
    outstanding,
    payment_record,
    refund_record,
)
from billing.invoicing import Line, invoice_create
from billing.lifecycle import InvoiceKind, InvoiceStatus, LineKind, PaymentKind
from billing.models import Invoice, InvoiceReminder, Payment
from common.errors import Conflict, DomainError
from common.models import OutboxMessage
from common.outbox import outbox_drain
from wholesale.models import Customer

pytestmark = pytest.mark.django_db

D = Decimal
ISSUED_ON = dt.date(2026, 3, 2)  # due 2026-03-16 (14 days)
AT = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def invoice(billing):
    customer = Customer.objects.create(name="Erika Mustermann", email="erika@example.org")
    made, _ = invoice_create(
        provider=billing.owner_provider,
        kind=InvoiceKind.CHARGE,
        idempotency_key="fee-1",
        lines=[Line(kind=LineKind.ONE_TIME, description="Router", unit_amount=D("100.00"))],
        on=ISSUED_ON,
        customer=customer,
    )
    return made


def test_a_partial_then_a_full_payment_pays_the_invoice(invoice, finance):
    payment_record(invoice=invoice, amount="40", method="bank_transfer", reference="tx-1", at=AT)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ISSUED and invoice.amount_paid == D("40.00")

    payment_record(invoice=invoice, amount=D("60.00"), method="bank_transfer", actor=finance, at=AT)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_at == AT
    assert invoice.balance == 0 and Payment.objects.filter(invoice=invoice).count() == 2


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("100.01", "more than the 100.00 EUR still owed"),
        ("0", "must be above 0"),
        ("-5", "must be above 0"),
        ("abc", "is not an amount of money"),
        ("1.234", "more than two decimals"),
        ("", "please give the amount"),
        ("NaN", "is not an amount of money"),
    ],
)
def test_bad_payments_are_refused_and_change_nothing(invoice, amount, message):
    with pytest.raises(DomainError, match=message):
        payment_record(invoice=invoice, amount=amount, method="bank_transfer")
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and not Payment.objects.exists()


def test_an_unknown_method_is_refused(invoice):
    with pytest.raises(DomainError, match="method must be one of"):
        payment_record(invoice=invoice, amount="10", method="cash")


def test_a_refund_reopens_the_balance_of_a_paid_invoice(invoice):
    payment_record(invoice=invoice, amount="100", method="bank_transfer", at=AT)

    refund = refund_record(invoice=invoice, amount="30", method="bank_transfer", reference="r-1")

    invoice.refresh_from_db()
    assert refund.kind == PaymentKind.REFUND
    assert invoice.amount_paid == D("70.00") and invoice.status == InvoiceStatus.ISSUED
    assert invoice.paid_at is None
    with pytest.raises(DomainError, match=r"more than the 70\.00 EUR paid"):
        refund_record(invoice=invoice, amount="70.01", method="bank_transfer")


def test_a_credit_note_is_numbered_in_the_same_sequence_and_reduces_what_is_owed(invoice):
    note = credit_note_create(invoice=invoice, amount="25", reason="late installation")

    assert note.kind == InvoiceKind.CREDIT_NOTE and note.credits == invoice
    assert note.number == "WFN-2026-000002"
    assert note.total == D("-25.00")
    (line,) = note.lines.all()
    assert line.kind == LineKind.CREDIT and line.amount == D("-25.00")
    assert "late installation" in line.description
    invoice.refresh_from_db()
    assert outstanding(invoice) == D("75.00")
    with pytest.raises(DomainError, match=r"more than the 75\.00 EUR"):
        credit_note_create(invoice=invoice, amount="75.01", reason="too much")

    credit_note_create(invoice=invoice, amount="75", reason="the rest")

    invoice.refresh_from_db()
    assert outstanding(invoice) == 0 and invoice.status == InvoiceStatus.PAID  # settled


def test_a_credit_note_needs_a_reason(invoice):
    with pytest.raises(DomainError, match="say why"):
        credit_note_create(invoice=invoice, amount="5", reason="  ")
    assert Invoice.objects.count() == 1


def test_payments_never_exceed_what_credits_left(invoice):
    credit_note_create(invoice=invoice, amount="30", reason="goodwill")
    with pytest.raises(DomainError, match=r"more than the 70\.00 EUR still owed"):
        payment_record(invoice=invoice, amount="71", method="bank_transfer")
    payment_record(invoice=invoice, amount="70", method="bank_transfer")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_voiding_keeps_the_number_and_needs_no_payments(invoice):
    voided = invoice_void(invoice=invoice, reason="issued twice")

    assert voided.status == InvoiceStatus.VOID and voided.number == invoice.number
    assert voided.void_reason == "issued twice" and voided.voided_at is not None
    with pytest.raises(Conflict):
        payment_record(invoice=voided, amount="1", method="bank_transfer")


def test_an_invoice_with_payments_cannot_be_voided(invoice):
    payment_record(invoice=invoice, amount="1", method="bank_transfer")
    with pytest.raises(Conflict, match="has payments recorded"):
        invoice_void(invoice=invoice, reason="oops")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ISSUED


def test_a_disputed_invoice_gets_no_reminder(invoice):
    invoice_dispute_set(invoice=invoice, disputed=True)
    assert invoices_remind_overdue(on=dt.date(2026, 5, 1)) == {"reminders": 0}
    invoice_dispute_set(invoice=invoice, disputed=False)
    assert invoices_remind_overdue(on=dt.date(2026, 5, 1))["reminders"] == 1


def test_dunning_steps_up_at_7_21_and_35_days_once_each(
    invoice, django_capture_on_commit_callbacks
):
    due = invoice.due_date
    assert invoices_remind_overdue(on=due + dt.timedelta(days=6)) == {"reminders": 0}

    first = invoices_remind_overdue(on=due + dt.timedelta(days=7))
    again = invoices_remind_overdue(on=due + dt.timedelta(days=8))
    second = invoices_remind_overdue(on=due + dt.timedelta(days=21))
    third = invoices_remind_overdue(on=due + dt.timedelta(days=40))
    after = invoices_remind_overdue(on=due + dt.timedelta(days=90))

    assert first == {"reminders": 1, "level_1": 1}
    assert again == {"reminders": 0}
    assert second == {"reminders": 1, "level_2": 1}
    assert third == {"reminders": 1, "level_3": 1}
    assert after == {"reminders": 0}
    invoice.refresh_from_db()
    assert invoice.reminder_level == 3 and invoice.last_reminded_at is not None
    levels = list(
        InvoiceReminder.objects.filter(invoice=invoice).values_list("level", "days_overdue")
    )
    assert levels == [(1, 7), (2, 21), (3, 40)]
    assert OutboxMessage.objects.filter(handler="billing.invoice_reminder_email").count() == 3


def test_the_reminder_email_goes_out_through_the_outbox(invoice, settings):
    settings.BILLING_REMINDER_DAYS = (3,)
    invoice.provider.processor_settings = {"iban": "DE02100100109307118603", "secret": "x"}
    invoice.provider.save()

    invoices_remind_overdue(on=invoice.due_date + dt.timedelta(days=3))
    assert mail.outbox == []
    outbox_drain()

    (email,) = mail.outbox
    assert email.to == ["erika@example.org"]
    assert invoice.number in email.subject and "100.00 EUR" in email.body
    assert "DE02100100109307118603" in email.body and "secret" not in email.body.lower()


def test_paid_and_credit_note_invoices_are_not_dunned(invoice):
    payment_record(invoice=invoice, amount="100", method="bank_transfer")
    assert invoices_remind_overdue(on=dt.date(2026, 6, 1)) == {"reminders": 0}
