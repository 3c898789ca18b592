"""The invoicing core: one invoice per idempotency key, totals from its rows, and numbers
handed out per provider without gaps, one by one or set-based."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.invoicing import Line, invoice_create, invoices_issue_all, money
from billing.lifecycle import InvoiceKind, InvoiceStatus, LineKind
from billing.models import Invoice

pytestmark = pytest.mark.django_db


def _charge(provider, key, amount="10.00", issue=True):
    return invoice_create(
        provider=provider,
        kind=InvoiceKind.CHARGE,
        idempotency_key=key,
        lines=[Line(kind=LineKind.ONE_TIME, description="a fee", unit_amount=Decimal(amount))],
        issue=issue,
        on=dt.date(2026, 3, 2),
    )


def test_one_invoice_per_key_with_its_total_and_number(billing):
    provider = billing.owner_provider
    invoice, created = _charge(provider, "fee-1", "12.345")
    again, created_again = _charge(provider, "fee-1", "99.00")
    assert created and not created_again and again.pk == invoice.pk
    assert invoice.total == Decimal("12.35") and invoice.lines.count() == 1
    assert invoice.number == "WFN-2026-000001" and invoice.status == InvoiceStatus.ISSUED
    assert invoice.due_date == dt.date(2026, 3, 16)


def test_set_based_issue_continues_each_providers_numbers(billing):
    owner = billing.owner_provider
    isp = next(iter(billing.isp_providers.values()))
    _charge(owner, "single")
    for k in range(3):
        _charge(owner, f"bulk-owner-{k}", issue=False)
        _charge(isp, f"bulk-isp-{k}", issue=False)
    issued = invoices_issue_all(
        invoice_ids_sql="SELECT id FROM billing_invoice WHERE idempotency_key LIKE %s",
        params=["bulk-%"],
        on=dt.date(2026, 3, 2),
    )
    assert issued == 6
    owner_numbers = list(
        Invoice.objects.filter(provider=owner).order_by("sequence").values_list("number", flat=True)
    )
    assert owner_numbers == [f"WFN-2026-{n:06d}" for n in range(1, 5)]
    isp_numbers = list(
        Invoice.objects.filter(provider=isp).order_by("sequence").values_list("number", flat=True)
    )
    assert isp_numbers == [f"{isp.invoice_prefix}-2026-{n:06d}" for n in range(1, 4)]


def test_money_rounds_half_up_to_the_cent():
    assert money("0.005") == Decimal("0.01") and money("2.344") == Decimal("2.34")
