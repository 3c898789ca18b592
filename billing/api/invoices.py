"""Finance API: invoices (list, detail, payments, refunds, credit notes, voiding) and
connection charges. The owner's finance staff only (`IsFinance`); each write validates its
input, calls one service and answers the changed invoice; bad input is a 400 that says what
is wrong, an unknown id a 404."""

from __future__ import annotations

from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsFinance
from billing import invoices as invoice_services
from billing.invoices import invoices_filtered, invoices_with_outstanding
from billing.lifecycle import (
    ConnectionChargeStatus,
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    PaymentKind,
    PaymentProcessor,
)
from billing.models import ConnectionCharge, Invoice, InvoiceLine, Payment
from common.api import ErrorSerializer, StrictInputSerializer, validated
from common.errors import DomainError

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input; `field` names the input."),
    403: OpenApiResponse(ErrorSerializer, description="Not the owner's finance staff."),
}
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such invoice.")
CONFLICT = OpenApiResponse(ErrorSerializer, description="Not possible in the invoice's state.")


class FinancePagination(LimitOffsetPagination):
    """Pages of `?limit=` (default 50, at most 500) from `?offset=`."""

    default_limit = 50
    max_limit = 500


# --- serializers ------------------------------------------------------------------------------


def _choice(choices, what: str) -> serializers.CharField:
    """A read-only choice as a plain string whose help lists the values (an enum per field
    name would collide with the other apps' `status`/`kind` enums in the schema)."""
    return serializers.CharField(
        read_only=True, help_text=f"{what}: one of {', '.join(choices.values)}."
    )


class InvoiceLineSerializer(serializers.ModelSerializer):
    kind = _choice(LineKind, "What the row is for")

    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "kind",
            "description",
            "quantity",
            "unit_amount",
            "amount",
            "period_start",
            "period_end",
            "installment",
        ]


class PaymentSerializer(serializers.ModelSerializer):
    kind = _choice(PaymentKind, "Payment or refund")
    method = _choice(PaymentProcessor, "How it was paid")

    class Meta:
        model = Payment
        fields = ["id", "kind", "amount", "received_at", "method", "reference"]


class InvoiceSerializer(serializers.ModelSerializer):
    kind = _choice(InvoiceKind, "What the invoice is for")
    status = _choice(InvoiceStatus, "Its state")
    provider = serializers.CharField(source="provider.invoice_prefix")
    customer = serializers.CharField(source="customer.name", allow_null=True, default=None)
    outstanding = serializers.DecimalField(
        source="left_owed", max_digits=14, decimal_places=2, help_text="Still owed."
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "kind",
            "status",
            "provider",
            "customer",
            "billed_organisation",
            "isp",
            "order",
            "credits",
            "currency",
            "subtotal",
            "tax",
            "total",
            "amount_paid",
            "outstanding",
            "issue_date",
            "due_date",
            "paid_at",
            "voided_at",
            "void_reason",
            "disputed",
            "reminder_level",
        ]


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)
    credit_notes = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    pdf_url = serializers.SerializerMethodField()

    class Meta(InvoiceSerializer.Meta):
        fields = [*InvoiceSerializer.Meta.fields, "lines", "payments", "credit_notes", "pdf_url"]

    def get_pdf_url(self, invoice) -> str:
        return f"/billing/invoices/{invoice.pk}.pdf"


class PaymentInputSerializer(StrictInputSerializer):
    amount = serializers.CharField(help_text="Decimal, e.g. 100.00; at most what is owed.")
    method = serializers.CharField(help_text="bank_transfer, sepa_direct_debit, stripe, …")
    reference = serializers.CharField(required=False, allow_blank=True, default="")
    received_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class CreditNoteInputSerializer(StrictInputSerializer):
    amount = serializers.CharField(help_text="Before tax; at most what is not credited yet.")
    reason = serializers.CharField(allow_blank=True)


class VoidInputSerializer(StrictInputSerializer):
    reason = serializers.CharField(allow_blank=True)


class InvoiceFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=100)
    status = serializers.ChoiceField(required=False, choices=InvoiceStatus.values)
    kind = serializers.ChoiceField(required=False, choices=InvoiceKind.values)
    provider = serializers.IntegerField(required=False, min_value=1)
    overdue = serializers.BooleanField(required=False)


class ConnectionChargeSerializer(serializers.ModelSerializer):
    status = _choice(ConnectionChargeStatus, "Its state")
    order_reference = serializers.CharField(source="order.reference")
    total = serializers.DecimalField(
        source="order.connection_cost_total", max_digits=14, decimal_places=2
    )
    deposit = serializers.DecimalField(
        source="order.connection_cost_deposit", max_digits=14, decimal_places=2, allow_null=True
    )
    max_installment = serializers.DecimalField(
        source="order.connection_cost_max_installment",
        max_digits=14,
        decimal_places=2,
        allow_null=True,
    )
    invoicing_starts = serializers.CharField(source="order.connection_cost_invoicing_starts")
    currency = serializers.CharField(source="order.connection_cost_currency")
    installments = serializers.IntegerField(source="installment_count")

    class Meta:
        model = ConnectionCharge
        fields = [
            "id",
            "order",
            "order_reference",
            "status",
            "blocked_reason",
            "provider",
            "deposit_invoice",
            "total",
            "deposit",
            "max_installment",
            "invoicing_starts",
            "currency",
            "installments",
            "generated_at",
            "generated_stage",
        ]


# --- views ------------------------------------------------------------------------------------


def _invoice(pk: int) -> Invoice:
    return get_object_or_404(invoices_with_outstanding(), pk=pk)


def _detail(pk: int) -> dict:
    invoice = get_object_or_404(
        invoices_with_outstanding()
        .select_related("provider", "customer")
        .prefetch_related(
            "lines", Prefetch("payments"), Prefetch("credit_notes", Invoice.objects.only("pk"))
        ),
        pk=pk,
    )
    return InvoiceDetailSerializer(invoice).data


class InvoiceList(generics.ListAPIView):
    """Invoices, newest first."""

    permission_classes = [IsFinance]
    serializer_class = InvoiceSerializer
    pagination_class = FinancePagination

    def get_queryset(self):
        data = validated(InvoiceFilterSerializer, self.request.query_params.dict())
        queryset = invoices_with_outstanding().select_related("provider", "customer")
        return invoices_filtered(queryset, data).order_by("-issue_date", "-id")

    @extend_schema(
        summary="List invoices",
        parameters=[
            OpenApiParameter("q", str, description="Number, customer name/email or ISP."),
            OpenApiParameter("status", str, enum=InvoiceStatus.values),
            OpenApiParameter("kind", str, enum=InvoiceKind.values),
            OpenApiParameter("provider", int, description="Billing provider id."),
            OpenApiParameter("overdue", bool, description="Only issued ones past due, owed."),
        ],
        responses={200: InvoiceSerializer(many=True), **ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class InvoiceDetail(APIView):
    permission_classes = [IsFinance]

    @extend_schema(
        summary="One invoice with its rows and payments",
        responses={200: InvoiceDetailSerializer, 403: ERRORS[403], 404: NOT_FOUND},
    )
    def get(self, request, pk: int):
        return Response(_detail(pk))


def _money_received(request, pk: int, record) -> Response:
    """A payment or a refund (`record`: the service) of the invoice; 201 with the invoice."""
    invoice = _invoice(pk)
    data = validated(PaymentInputSerializer, request.data)
    record(
        invoice=invoice,
        amount=data["amount"],
        method=data["method"],
        reference=data["reference"],
        actor=request.user,
        at=data["received_at"],
    )
    return Response(_detail(pk), status=status.HTTP_201_CREATED)


class InvoicePayment(APIView):
    permission_classes = [IsFinance]

    @extend_schema(
        summary="Record a payment (partial or full; never more than is owed)",
        request=PaymentInputSerializer,
        responses={201: InvoiceDetailSerializer, **ERRORS, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, pk: int):
        return _money_received(request, pk, invoice_services.payment_record)


class InvoiceRefund(APIView):
    permission_classes = [IsFinance]

    @extend_schema(
        summary="Record a refund (at most what was paid)",
        request=PaymentInputSerializer,
        responses={201: InvoiceDetailSerializer, **ERRORS, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, pk: int):
        return _money_received(request, pk, invoice_services.refund_record)


class InvoiceCreditNote(APIView):
    permission_classes = [IsFinance]

    @extend_schema(
        summary="Issue a credit note on the invoice",
        request=CreditNoteInputSerializer,
        responses={201: InvoiceDetailSerializer, **ERRORS, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, pk: int):
        invoice = _invoice(pk)
        data = validated(CreditNoteInputSerializer, request.data)
        note = invoice_services.credit_note_create(
            invoice=invoice, amount=data["amount"], reason=data["reason"], actor=request.user
        )
        return Response(_detail(note.pk), status=status.HTTP_201_CREATED)


class InvoiceVoid(APIView):
    permission_classes = [IsFinance]

    @extend_schema(
        summary="Void the invoice (only without payments; its number stays taken)",
        request=VoidInputSerializer,
        responses={200: InvoiceDetailSerializer, **ERRORS, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, pk: int):
        invoice = _invoice(pk)
        data = validated(VoidInputSerializer, request.data)
        invoice_services.invoice_void(invoice=invoice, reason=data["reason"], actor=request.user)
        return Response(_detail(pk))


class ConnectionChargeList(generics.ListAPIView):
    """Connection charges, newest first; blocked ones carry their reason."""

    permission_classes = [IsFinance]
    serializer_class = ConnectionChargeSerializer
    pagination_class = FinancePagination

    def get_queryset(self):
        queryset = ConnectionCharge.objects.select_related("order").annotate(
            installment_count=Count("installments")
        )
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in ConnectionChargeStatus.values:
                raise DomainError(
                    f"status must be one of {', '.join(ConnectionChargeStatus.values)}",
                    field="status",
                )
            queryset = queryset.filter(status=wanted)
        return queryset.order_by("-created_at", "-id")

    @extend_schema(
        summary="List connection charges",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=ConnectionChargeStatus.values)
        ],
        responses={200: ConnectionChargeSerializer(many=True), **ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("invoices/", InvoiceList.as_view(), name="invoices"),
    path("invoices/<int:pk>/", InvoiceDetail.as_view(), name="invoice"),
    path("invoices/<int:pk>/payments/", InvoicePayment.as_view(), name="invoice-payments"),
    path("invoices/<int:pk>/refunds/", InvoiceRefund.as_view(), name="invoice-refunds"),
    path(
        "invoices/<int:pk>/credit-notes/", InvoiceCreditNote.as_view(), name="invoice-credit-notes"
    ),
    path("invoices/<int:pk>/void/", InvoiceVoid.as_view(), name="invoice-void"),
    path("connection-charges/", ConnectionChargeList.as_view(), name="connection-charges"),
]
