"""The invoice as a document: the same content as a readable HTML page and as a PDF.

Provider (sender), bill-to, number, dates, the itemised rows (each saying what it is for),
totals with tax, payments and refunds, credit notes, what is still owed, and how to pay
(from the provider's processor settings).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from xml.sax.saxutils import escape

from django.template.loader import render_to_string
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.invoices import outstanding, payment_instructions
from billing.lifecycle import InvoiceKind, PaymentKind
from billing.models import Invoice


@dataclass
class InvoiceDocument:
    """Everything an invoice document shows, computed once for both formats."""

    invoice: Invoice
    title: str
    sender: list[str]
    bill_to: list[str]
    facts: list[tuple[str, str]]
    rows: list[dict]
    totals: list[tuple[str, Decimal]]
    payments: list[dict] = field(default_factory=list)
    credit_notes: list[Invoice] = field(default_factory=list)
    outstanding: Decimal = Decimal("0.00")
    instructions: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _bill_to(invoice: Invoice) -> list[str]:
    lines: list[str] = []
    if invoice.customer_id:
        lines += [invoice.customer.name, invoice.customer.email]
    elif invoice.billed_organisation_id:
        lines.append(invoice.billed_organisation.name)
    if invoice.order_id:
        address = invoice.order.address
        lines.append(address.label + (f", {invoice.order.unit}" if invoice.order.unit else ""))
    return [line for line in lines if line] or ["—"]


def _row_detail(line) -> str:
    """What the row is for, in words (its description, with its period if it has one)."""
    text = line.description
    if line.period_start and line.period_end:
        text += f" ({line.period_start:%d.%m.%Y} – {line.period_end:%d.%m.%Y})"
    return text


def invoice_document(invoice: Invoice) -> InvoiceDocument:
    """The content of the invoice's document (a handful of queries, whatever its size)."""
    invoice = Invoice.objects.select_related(
        "provider", "customer", "billed_organisation", "isp", "order", "order__address", "credits"
    ).get(pk=invoice.pk)
    provider = invoice.provider
    title = "Credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE else "Invoice"
    facts = [
        (f"{title} number", invoice.number or "draft (not issued)"),
        ("Issue date", f"{invoice.issue_date:%d.%m.%Y}" if invoice.issue_date else "—"),
        ("Due date", f"{invoice.due_date:%d.%m.%Y}" if invoice.due_date else "—"),
        ("For", invoice.get_kind_display()),
        ("Status", invoice.get_status_display() + (" (disputed)" if invoice.disputed else "")),
    ]
    if invoice.order_id:
        facts.append(("Order", invoice.order.reference))
    if invoice.credits_id:
        facts.append(("Credits invoice", invoice.credits.number or str(invoice.credits)))
    rows = [
        {
            "position": k,
            "kind": line.get_kind_display(),
            "description": _row_detail(line),
            "quantity": line.quantity.normalize(),
            "unit_amount": line.unit_amount,
            "amount": line.amount,
        }
        for k, line in enumerate(invoice.lines.all(), start=1)
    ]
    totals = [("Subtotal", invoice.subtotal), (f"Tax ({provider.tax_rate}%)", invoice.tax)]
    totals.append(("Total", invoice.total))
    payments = [
        {
            "kind": payment.get_kind_display(),
            "amount": -payment.amount if payment.kind == PaymentKind.PAYMENT else payment.amount,
            "at": payment.received_at,
            "method": payment.get_method_display(),
            "reference": payment.reference,
        }
        for payment in invoice.payments.all()
    ]
    credit_notes = list(invoice.credit_notes.all())
    notes = []
    if invoice.void_reason:
        notes.append(f"Void: {invoice.void_reason}")
    if invoice.kind == InvoiceKind.DEPOSIT:
        notes.append(
            "The connection deposit is charged at signup; it does not reduce the connection "
            "cost, which is invoiced in its installments."
        )
    return InvoiceDocument(
        invoice=invoice,
        title=title,
        sender=[provider.name, *[ln for ln in provider.address_lines.splitlines() if ln.strip()]],
        bill_to=_bill_to(invoice),
        facts=facts,
        rows=rows,
        totals=totals,
        payments=payments,
        credit_notes=credit_notes,
        outstanding=outstanding(invoice),
        instructions=[]
        if invoice.kind == InvoiceKind.CREDIT_NOTE
        else payment_instructions(provider),
        notes=notes,
    )


def invoice_html(invoice: Invoice) -> str:
    """The standalone, printable HTML invoice."""
    return render_to_string("billing/invoice_document.html", {"doc": invoice_document(invoice)})


def _p(text, style) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as a PDF (A4), the same content as the HTML page. Built with `invariant`
    and no compression: the same invoice gives the same bytes, and its text is searchable."""
    doc = invoice_document(invoice)
    buffer = io.BytesIO()
    pdf = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{doc.title} {doc.invoice.number or ''}".strip(),
        author=doc.invoice.provider.name,
        invariant=1,
        pageCompression=0,
    )
    styles = getSampleStyleSheet()
    body, small, heading = styles["BodyText"], styles["Normal"], styles["Heading1"]
    currency = doc.invoice.currency
    story: list = [
        _p(f"{doc.title} {doc.invoice.number or '(draft)'}", heading),
        Table(
            [
                [_p("From", small), _p("Bill to", small)],
                [
                    Paragraph("<br/>".join(escape(s) for s in doc.sender), body),
                    Paragraph("<br/>".join(escape(s) for s in doc.bill_to), body),
                ],
            ],
            colWidths=[87 * mm, 87 * mm],
        ),
        Spacer(1, 5 * mm),
        Table([[_p(k, small), _p(v, body)] for k, v in doc.facts], colWidths=[40 * mm, 134 * mm]),
        Spacer(1, 5 * mm),
    ]
    grid = [["#", "What it is for", "Qty", f"Unit ({currency})", f"Amount ({currency})"]]
    grid += [
        [
            str(row["position"]),
            _p(f"{row['description']} [{row['kind']}]", body),
            str(row["quantity"]),
            str(row["unit_amount"]),
            str(row["amount"]),
        ]
        for row in doc.rows
    ]
    grid += [["", label, "", "", str(amount)] for label, amount in doc.totals]
    table = Table(grid, colWidths=[8 * mm, 96 * mm, 14 * mm, 28 * mm, 28 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEABOVE", (0, -len(doc.totals)), (-1, -len(doc.totals)), 0.5, colors.grey),
                ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
            ]
        )
    )
    story += [table, Spacer(1, 5 * mm)]
    if doc.payments:
        story.append(_p("Payments and refunds", styles["Heading3"]))
        story.append(
            Table(
                [
                    [
                        p["kind"],
                        f"{p['at']:%d.%m.%Y}",
                        p["method"],
                        p["reference"],
                        f"{p['amount']} {currency}",
                    ]
                    for p in doc.payments
                ]
            )
        )
    for note in doc.credit_notes:
        story.append(_p(f"Credit note {note.number}: {note.total} {currency}", body))
    story.append(_p(f"Still owed: {doc.outstanding} {currency}", styles["Heading3"]))
    if doc.instructions:
        story.append(_p("How to pay", styles["Heading3"]))
        story += [_p(f"{label}: {value}", body) for label, value in doc.instructions]
        story.append(_p(f"Reference: {doc.invoice.number}", body))
    for note in doc.notes:
        story.append(_p(note, small))
    pdf.build(story)
    return buffer.getvalue()
