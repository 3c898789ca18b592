"""The finance pages and API of invoices and connection charges: lists with filters and
totals, the invoice document (HTML and PDF), the actions as POST forms and API calls, bad
input answered with a message or a 400 (never a 500), and the door kept to finance."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.roles import Role
from accounts.services import user_create
from billing.documents import invoice_pdf
from billing.invoices import credit_note_create, payment_record
from billing.invoicing import Line, invoice_create
from billing.lifecycle import ConnectionChargeStatus, InvoiceKind, InvoiceStatus, LineKind
from billing.models import ConnectionCharge, Invoice
from tests.billing.test_connection_charges import sign_up, terms
from wholesale.models import Customer

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def invoice(billing):
    billing.owner_provider.processor_settings = {
        "account_holder": "Wedding Fibre Netz GmbH",
        "iban": "DE02100100109307118603",
    }
    billing.owner_provider.address_lines = "Müllerstraße 1\n13353 Berlin"
    billing.owner_provider.save()
    customer = Customer.objects.create(name="Erika Mustermann", email="erika@example.org")
    made, _ = invoice_create(
        provider=billing.owner_provider,
        kind=InvoiceKind.CHARGE,
        idempotency_key="fee-1",
        lines=[
            Line(kind=LineKind.ONE_TIME, description="Router (one-time)", unit_amount=D("80")),
            Line(kind=LineKind.ONE_TIME, description="Installation visit", unit_amount=D("20")),
        ],
        on=dt.date(2026, 3, 2),
        customer=customer,
    )
    return made


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


@pytest.fixture
def blocked_charge(town):
    terms(town)  # no billing providers: blocked
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])
    return ConnectionCharge.objects.get(order=order)


# --- the door ---------------------------------------------------------------------------------


def _page_urls(invoice_id: int, charge_id: int) -> list[str]:
    return [
        reverse("billing:invoices"),
        reverse("billing:invoice", args=[invoice_id]),
        reverse("billing:invoice-pdf", args=[invoice_id]),
        reverse("billing:invoice-print", args=[invoice_id]),
        reverse("billing:connections"),
        reverse("billing:connection", args=[charge_id]),
    ]


def _post_urls(invoice_id: int) -> list[str]:
    return [
        reverse(f"billing:invoice-{what}", args=[invoice_id])
        for what in ("payment", "refund", "credit", "void", "dispute")
    ]


def _api_urls(invoice_id: int) -> tuple[list[str], list[str]]:
    gets = [
        reverse("billing-api:invoices"),
        reverse("billing-api:invoice", args=[invoice_id]),
        reverse("billing-api:connection-charges"),
    ]
    posts = [
        reverse(f"billing-api:invoice-{what}", args=[invoice_id])
        for what in ("payments", "refunds", "credit-notes", "void")
    ]
    return gets, posts


@pytest.mark.parametrize("who", ["isp", "planner"])
def test_isp_users_and_planners_get_403_everywhere(client, town, billing, invoice, planner, who):
    terms(town)
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])
    charge = ConnectionCharge.objects.get(order=order)
    if who == "isp":
        user = user_create(username="isp-u", organisation=town.isps[0], role=Role.ISP_USER)
    else:
        user = planner
    client.force_login(user)
    for url in _page_urls(invoice.pk, charge.pk):
        assert client.get(url).status_code == 403, url
    for url in _post_urls(invoice.pk):
        assert client.post(url, {"amount": "1", "reason": "x"}).status_code == 403, url
    gets, posts = _api_urls(invoice.pk)
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url in posts:
        assert client.post(url, {}, content_type="application/json").status_code == 403, url
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and invoice.status == InvoiceStatus.ISSUED


def test_anonymous_visitors_are_sent_to_sign_in(client, invoice, blocked_charge):
    for url in _page_urls(invoice.pk, blocked_charge.pk) + _post_urls(invoice.pk):
        method = client.post if url in _post_urls(invoice.pk) else client.get
        response = method(url)
        assert response.status_code == 302 and "/login" in response["Location"], url
    gets, _ = _api_urls(invoice.pk)
    assert client.get(gets[0]).status_code in (401, 403)


# --- the invoice list and document -------------------------------------------------------


def test_the_list_filters_searches_and_totals(finance_client, invoice, billing):
    payment_record(invoice=invoice, amount="30", method="bank_transfer")
    url = reverse("billing:invoices")

    page = finance_client.get(url)
    assert page.status_code == 200
    assert page.context["totals"]["total"] == D("100.00")
    assert page.context["totals"]["paid"] == D("30.00")
    assert page.context["totals"]["owed"] == D("70.00")
    assert invoice.number in page.content.decode()

    assert finance_client.get(url, {"q": "Erika"}).context["page"].paginator.count == 1
    assert finance_client.get(url, {"q": "nobody"}).context["page"].paginator.count == 0
    assert finance_client.get(url, {"status": "paid"}).context["page"].paginator.count == 0
    assert finance_client.get(url, {"kind": "charge"}).context["page"].paginator.count == 1
    provider = billing.owner_provider.pk
    assert finance_client.get(url, {"provider": provider}).context["page"].paginator.count == 1
    assert finance_client.get(url, {"overdue": "on"}).context["page"].paginator.count == 1


def test_a_bad_filter_says_so_instead_of_failing(finance_client, invoice):
    page = finance_client.get(reverse("billing:invoices"), {"status": "bogus", "provider": "x"})
    assert page.status_code == 400
    assert "The filter was not applied" in page.content.decode()


def test_the_invoice_page_is_a_readable_document(finance_client, invoice):
    credit_note_create(invoice=invoice, amount="10", reason="late visit")
    page = finance_client.get(reverse("billing:invoice", args=[invoice.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    for text in (
        invoice.number,
        "Wedding Fibre Netz GmbH",
        "Müllerstraße 1",
        "Erika Mustermann",
        "Router (one-time)",
        "Installation visit",
        "100.00",
        "DE02100100109307118603",
        "Still owed: 90.00 EUR",
        "WFN-2026-000002",  # the credit note
    ):
        assert text in html, text
    printable = finance_client.get(reverse("billing:invoice-print", args=[invoice.pk]))
    assert printable.status_code == 200 and "Router (one-time)" in printable.content.decode()


def test_the_pdf_has_the_same_content(finance_client, invoice):
    response = finance_client.get(reverse("billing:invoice-pdf", args=[invoice.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    body = response.content
    assert body.startswith(b"%PDF")
    body = body.replace(b"\\(", b"(").replace(b"\\)", b")")  # PDF strings escape brackets
    for text in (invoice.number, "Router (one-time)", "Erika Mustermann", "DE02100100109307118603"):
        assert text.encode() in body, text
    assert invoice_pdf(invoice) == invoice_pdf(invoice)  # invariant: the same bytes


def test_the_deposit_invoice_says_what_it_is_for(town, billing):
    terms(town)
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])
    deposit = ConnectionCharge.objects.get(order=order).deposit_invoice
    body = invoice_pdf(deposit)
    assert b"Connection deposit" in body and deposit.number.encode() in body


def test_unknown_ids_are_404(finance_client):
    assert finance_client.get(reverse("billing:invoice", args=[999999])).status_code == 404
    assert finance_client.get(reverse("billing:invoice-pdf", args=[999999])).status_code == 404
    assert finance_client.get(reverse("billing:connection", args=[999999])).status_code == 404
    assert finance_client.get(reverse("billing-api:invoice", args=[999999])).status_code == 404
    response = finance_client.post(
        reverse("billing-api:invoice-payments", args=[999999]),
        {"amount": "1", "method": "bank_transfer"},
        content_type="application/json",
    )
    assert response.status_code == 404


# --- actions through the pages -----------------------------------------------------------


def test_recording_a_payment_through_the_page(finance_client, invoice, finance):
    url = reverse("billing:invoice-payment", args=[invoice.pk])

    response = finance_client.post(
        url, {"amount": "100.00", "method": "bank_transfer", "reference": "tx-9"}, follow=True
    )

    assert response.status_code == 200
    assert "Payment of 100.00 recorded." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.payments.get().recorded_by == finance


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("payment", {"amount": "100.01", "method": "bank_transfer"}, "an overpayment"),
        ("payment", {"amount": "abc", "method": "bank_transfer"}, "is not an amount"),
        ("payment", {"amount": "10", "method": "cash"}, "method must be one of"),
        (
            "payment",
            {"amount": "10", "method": "bank_transfer", "received_on": "2026-13-01"},
            "not a date",
        ),
        ("refund", {"amount": "1", "method": "bank_transfer"}, "more than the 0.00 EUR paid"),
        ("credit", {"amount": "5", "reason": ""}, "say why"),
        ("credit", {"amount": "500", "reason": "x"}, "not credited yet"),
        ("void", {"reason": ""}, "say why"),
    ],
)
def test_bad_input_on_an_action_gives_a_message_not_a_500(
    finance_client, invoice, action, data, message
):
    response = finance_client.post(reverse(f"billing:invoice-{action}", args=[invoice.pk]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0 and invoice.status == InvoiceStatus.ISSUED
    assert Invoice.objects.count() == 1


def test_voiding_after_a_payment_is_a_conflict_with_a_message(finance_client, invoice):
    payment_record(invoice=invoice, amount="5", method="bank_transfer")
    response = finance_client.post(
        reverse("billing:invoice-void", args=[invoice.pk]), {"reason": "oops"}
    )
    assert response.status_code == 409
    assert "refund or credit it instead" in response.content.decode()


def test_credit_void_and_dispute_through_the_pages(finance_client, invoice):
    finance_client.post(
        reverse("billing:invoice-credit", args=[invoice.pk]), {"amount": "10", "reason": "goodwill"}
    )
    finance_client.post(reverse("billing:invoice-dispute", args=[invoice.pk]), {"disputed": "1"})
    invoice.refresh_from_db()
    assert invoice.disputed and invoice.credit_notes.get().total == D("-10.00")

    other, _ = invoice_create(
        provider=invoice.provider,
        kind=InvoiceKind.CHARGE,
        idempotency_key="fee-2",
        lines=[Line(kind=LineKind.ONE_TIME, description="x", unit_amount=D("1"))],
    )
    finance_client.post(reverse("billing:invoice-void", args=[other.pk]), {"reason": "twice"})
    other.refresh_from_db()
    assert other.status == InvoiceStatus.VOID


# --- connection charges pages ------------------------------------------------------------


def test_blocked_charges_show_why_prominently(finance_client, blocked_charge):
    page = finance_client.get(reverse("billing:connections"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "1 charge blocked" in html
    assert "Wedding Fibre Netz has no active billing provider" in html

    filtered = finance_client.get(reverse("billing:connections"), {"status": "blocked"})
    assert filtered.context["page"].paginator.count == 1
    assert finance_client.get(reverse("billing:connections"), {"status": "x"}).status_code == 400

    detail = finance_client.get(reverse("billing:connection", args=[blocked_charge.pk]))
    assert "Blocked:" in detail.content.decode()
    assert "has no active billing provider" in detail.content.decode()


def test_a_charge_page_lists_its_installments_and_invoices(finance_client, town, billing):
    terms(town)
    order = sign_up(town.address("demand_aggregation"), town.offerings[0])
    charge = ConnectionCharge.objects.get(order=order)

    page = finance_client.get(reverse("billing:connection", args=[charge.pk]))

    html = page.content.decode()
    assert "10 of 10" in html and "5000.00" in html
    assert charge.deposit_invoice.number in html
    assert page.context["installment_sum"] == D("5000.00")


# --- the API -----------------------------------------------------------------------------


def test_api_lists_and_shows_invoices(finance_client, invoice, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = finance_client.get(reverse("billing-api:invoices"), {"status": "issued"})
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["number"] == invoice.number and row["outstanding"] == "100.00"

    detail = finance_client.get(reverse("billing-api:invoice", args=[invoice.pk])).json()
    assert [line["description"] for line in detail["lines"]] == [
        "Router (one-time)",
        "Installation visit",
    ]
    bad = finance_client.get(reverse("billing-api:invoices"), {"status": "bogus"})
    assert bad.status_code == 400 and bad.json()["field"] == "status"


def test_api_payment_credit_note_and_void(finance_client, invoice):
    url = reverse("billing-api:invoice-payments", args=[invoice.pk])
    paid = finance_client.post(
        url, {"amount": "40.00", "method": "bank_transfer"}, content_type="application/json"
    )
    assert paid.status_code == 201 and paid.json()["amount_paid"] == "40.00"

    over = finance_client.post(
        url, {"amount": "60.01", "method": "bank_transfer"}, content_type="application/json"
    )
    assert over.status_code == 400 and over.json()["code"] == "overpayment"
    unknown = finance_client.post(
        url, {"amount": "1", "method": "bank_transfer", "x": 1}, content_type="application/json"
    )
    assert unknown.status_code == 400 and unknown.json()["field"] == "x"
    not_json = finance_client.post(url, "[1]", content_type="application/json")
    assert not_json.status_code == 400

    note = finance_client.post(
        reverse("billing-api:invoice-credit-notes", args=[invoice.pk]),
        {"amount": "10", "reason": "goodwill"},
        content_type="application/json",
    )
    assert note.status_code == 201 and note.json()["kind"] == "credit_note"
    assert note.json()["total"] == "-10.00" and note.json()["credits"] == invoice.pk

    void = finance_client.post(
        reverse("billing-api:invoice-void", args=[invoice.pk]),
        {"reason": "wrong"},
        content_type="application/json",
    )
    assert void.status_code == 409


def test_api_lists_connection_charges_with_the_blocked_reason(finance_client, blocked_charge):
    response = finance_client.get(reverse("billing-api:connection-charges"), {"status": "blocked"})
    (row,) = response.json()["results"]
    assert row["status"] == ConnectionChargeStatus.BLOCKED
    assert row["blocked_reason"] == "Wedding Fibre Netz has no active billing provider"
    assert row["total"] == "5000.00" and row["installments"] == 0
    bad = finance_client.get(reverse("billing-api:connection-charges"), {"status": "x"})
    assert bad.status_code == 400


def test_the_admin_shows_invoices_and_charges_read_only(
    client, admin_user, invoice, blocked_charge
):
    client.force_login(admin_user)
    for model in ("invoice", "connectioncharge", "invoicereminder"):
        assert client.get(f"/admin/billing/{model}/").status_code == 200, model
    assert client.get(f"/admin/billing/invoice/{invoice.pk}/change/").status_code == 200
    assert (
        client.get(f"/admin/billing/connectioncharge/{blocked_charge.pk}/change/").status_code
        == 200
    )
