"""Finance pages: invoices (list, detail with payments, refunds, credit notes, voiding and
disputes, the printable document and its PDF) and connection charges (blocked ones say why).

Every page is for the owner's finance staff (`finance_required`); actions are POST forms
that call one service each and say what went wrong in a message, never a 500.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import (
    Count,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.permissions import finance_required
from billing import invoices as invoice_services
from billing.documents import invoice_document, invoice_html, invoice_pdf
from billing.invoices import ZERO_VALUE as ZERO
from billing.invoices import invoices_filtered, invoices_with_outstanding
from billing.lifecycle import (
    ConnectionChargeStatus,
    InvoiceKind,
    InvoiceStatus,
    PaymentProcessor,
)
from billing.models import BillingProvider, ConnectionCharge, Installment, Invoice
from common.errors import DomainError

PAGE_SIZE = 50


class InvoiceFilterForm(forms.Form):
    q = forms.CharField(label="Number or customer", required=False, max_length=100)
    status = forms.ChoiceField(required=False, choices=[("", "any status"), *InvoiceStatus.choices])
    kind = forms.ChoiceField(required=False, choices=[("", "any kind"), *InvoiceKind.choices])
    provider = forms.ModelChoiceField(
        required=False, queryset=BillingProvider.objects.all(), empty_label="any provider"
    )
    overdue = forms.BooleanField(required=False, label="Overdue only")


def _page(request, queryset):
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


@finance_required
def invoice_list(request):
    """All invoices, newest first: filter by status, kind, provider, overdue; search."""
    form = InvoiceFilterForm(request.GET or None)
    invoices = invoices_with_outstanding().select_related("provider", "customer")
    invoices = invoices.select_related("billed_organisation")
    status = 200
    if form.is_bound and not form.is_valid():
        messages.error(request, "The filter was not applied: " + _form_error(form))
        status = 400
    elif form.is_bound:
        invoices = invoices_filtered(invoices, form.cleaned_data)
    totals = invoices.aggregate(
        count=Count("id"),
        total=Coalesce(Sum("total"), ZERO),
        paid=Coalesce(Sum("amount_paid"), ZERO),
        owed=Coalesce(Sum("left_owed", filter=Q(status=InvoiceStatus.ISSUED)), ZERO),
    )
    page, page_query = _page(request, invoices.order_by("-issue_date", "-id"))
    context = {
        "form": form,
        "page": page,
        "page_query": page_query,
        "totals": totals,
        "today": timezone.localdate(),
        "is_filtered": form.is_bound and form.is_valid() and any(form.cleaned_data.values()),
    }
    return render(request, "billing/invoice_list.html", context, status=status)


def _form_error(form) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label or field if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else errors[0]
    return "bad input"


def _invoice_page(request, invoice: Invoice, status: int = 200):
    invoice = get_object_or_404(invoices_with_outstanding(), pk=invoice.pk)
    charge = (
        ConnectionCharge.objects.filter(order_id=invoice.order_id).first()
        if invoice.order_id
        else None
    )
    context = {
        "invoice": invoice,
        "doc": invoice_document(invoice),
        "reminders": list(invoice.reminders.all()),
        "charge": charge,
        "methods": PaymentProcessor.choices,
        "today": timezone.localdate(),
        "can_pay": invoice.status == InvoiceStatus.ISSUED
        and invoice.kind != InvoiceKind.CREDIT_NOTE,
        "can_refund": invoice.amount_paid > 0,
        "can_credit": invoice.status in (InvoiceStatus.ISSUED, InvoiceStatus.PAID)
        and invoice.kind != InvoiceKind.CREDIT_NOTE,
        "can_void": invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.ISSUED)
        and invoice.amount_paid == 0,
    }
    return render(request, "billing/invoice_detail.html", context, status=status)


@finance_required
def invoice_detail(request, pk: int):
    """One invoice as its document, with its payments, credit notes, reminders and actions."""
    return _invoice_page(request, get_object_or_404(Invoice, pk=pk))


@finance_required
def invoice_print(request, pk: int):
    """The standalone printable HTML invoice."""
    invoice = get_object_or_404(Invoice, pk=pk)
    return HttpResponse(invoice_html(invoice))


@finance_required
def invoice_pdf_download(request, pk: int):
    """The invoice as a PDF."""
    invoice = get_object_or_404(Invoice, pk=pk)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    name = invoice.number or f"draft-{invoice.pk}"
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


def _received_at(value: str) -> dt.datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise DomainError(f"{value!r} is not a date (YYYY-MM-DD)", field="received_on") from exc
    if day > timezone.localdate():
        raise DomainError("the day received cannot be in the future", field="received_on")
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def _action(request, pk: int, do, done: str):
    """Run one invoice action (a service call); success → back to the invoice with a
    message, refusal → the invoice page again with the reason (400/409)."""
    invoice = get_object_or_404(Invoice, pk=pk)
    try:
        message = done.format(result=do(invoice))
    except DomainError as exc:
        messages.error(request, f"Not done: {exc.message}")
        return _invoice_page(request, invoice, status=exc.status_code or 400)
    messages.success(request, message)
    return redirect("billing:invoice", pk=pk)


def _money_received(request, pk: int, record, done: str):
    """A payment or a refund (`record`: the service) from the invoice page's form."""
    data = request.POST
    return _action(
        request,
        pk,
        lambda invoice: (
            record(
                invoice=invoice,
                amount=data.get("amount", ""),
                method=data.get("method", ""),
                reference=data.get("reference", ""),
                actor=request.user,
                at=_received_at(data.get("received_on", "")),
            ).amount
        ),
        done,
    )


@require_POST
@finance_required
def invoice_payment(request, pk: int):
    return _money_received(
        request, pk, invoice_services.payment_record, "Payment of {result} recorded."
    )


@require_POST
@finance_required
def invoice_refund(request, pk: int):
    return _money_received(
        request, pk, invoice_services.refund_record, "Refund of {result} recorded."
    )


@require_POST
@finance_required
def invoice_credit(request, pk: int):
    data = request.POST
    return _action(
        request,
        pk,
        lambda invoice: (
            invoice_services.credit_note_create(
                invoice=invoice,
                amount=data.get("amount", ""),
                reason=data.get("reason", ""),
                actor=request.user,
            ).number
        ),
        "Credit note {result} issued.",
    )


@require_POST
@finance_required
def invoice_void(request, pk: int):
    return _action(
        request,
        pk,
        lambda invoice: (
            invoice_services.invoice_void(
                invoice=invoice, reason=request.POST.get("reason", ""), actor=request.user
            ).number
        ),
        "Invoice {result} is void.",
    )


@require_POST
@finance_required
def invoice_dispute(request, pk: int):
    disputed = request.POST.get("disputed") == "1"
    return _action(
        request,
        pk,
        lambda invoice: (
            invoice_services.invoice_dispute_set(
                invoice=invoice, disputed=disputed, actor=request.user
            ).number
        ),
        "Invoice {result} is " + ("marked disputed." if disputed else "no longer disputed."),
    )


# --- connection charges -----------------------------------------------------------------------


class ChargeFilterForm(forms.Form):
    q = forms.CharField(label="Order or customer", required=False, max_length=100)
    status = forms.ChoiceField(
        required=False, choices=[("", "any status"), *ConnectionChargeStatus.choices]
    )


def connection_charges() -> QuerySet[ConnectionCharge]:
    return ConnectionCharge.objects.select_related(
        "order", "order__customer", "order__address", "order__isp", "provider", "deposit_invoice"
    ).annotate(installment_count=Count("installments"))


@finance_required
def connection_list(request):
    """Connection charges, newest first; the blocked ones first in view, with the reason."""
    form = ChargeFilterForm(request.GET or None)
    charges = connection_charges()
    status = 200
    if form.is_bound and not form.is_valid():
        messages.error(request, "The filter was not applied: " + _form_error(form))
        status = 400
    elif form.is_bound:
        data = form.cleaned_data
        if data.get("status"):
            charges = charges.filter(status=data["status"])
        if data.get("q"):
            text = data["q"].strip()
            charges = charges.filter(
                Q(order__reference__icontains=text)
                | Q(order__customer__name__icontains=text)
                | Q(order__customer__email__icontains=text)
            )
    page, page_query = _page(request, charges.order_by("-created_at", "-id"))
    blocked = ConnectionCharge.objects.filter(status=ConnectionChargeStatus.BLOCKED).count()
    context = {
        "form": form,
        "page": page,
        "page_query": page_query,
        "blocked": blocked,
        "is_filtered": form.is_bound and form.is_valid() and any(form.cleaned_data.values()),
    }
    return render(request, "billing/connection_list.html", context, status=status)


@finance_required
def connection_detail(request, pk: int):
    """One connection charge: the snapshot it was made from, its installments and invoices."""
    charge = get_object_or_404(connection_charges(), pk=pk)
    installments = Installment.objects.filter(charge=charge).select_related("invoice_line__invoice")
    invoices = Invoice.objects.filter(order_id=charge.order_id).order_by("issue_date", "id")
    context = {
        "charge": charge,
        "order": charge.order,
        "installments": installments,
        "installment_sum": sum((i.amount for i in installments), start=0),
        "invoices": invoices,
    }
    return render(request, "billing/connection_detail.html", context)


urlpatterns = [
    path("invoices/", invoice_list, name="invoices"),
    path("invoices/<int:pk>/", invoice_detail, name="invoice"),
    path("invoices/<int:pk>.pdf", invoice_pdf_download, name="invoice-pdf"),
    path("invoices/<int:pk>/print/", invoice_print, name="invoice-print"),
    path("invoices/<int:pk>/payments/", invoice_payment, name="invoice-payment"),
    path("invoices/<int:pk>/refunds/", invoice_refund, name="invoice-refund"),
    path("invoices/<int:pk>/credit-notes/", invoice_credit, name="invoice-credit"),
    path("invoices/<int:pk>/void/", invoice_void, name="invoice-void"),
    path("invoices/<int:pk>/dispute/", invoice_dispute, name="invoice-dispute"),
    path("connections/", connection_list, name="connections"),
    path("connections/<int:pk>/", connection_detail, name="connection"),
]
