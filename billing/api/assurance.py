"""Finance API: revenue-assurance exceptions, price overrides and settlement statements.

For the owner's finance staff (`IsFinance`). Lists are limit/offset pages; every write is an
explicit action endpoint that validates its input, calls one service and answers with the
changed object; refusals are JSON with a message and a code (400/403/404/409), never a 500.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsFinance
from billing.assurance import exception_resolve
from billing.lifecycle import (
    ExceptionKind,
    ExceptionStatus,
    OverrideField,
    OverrideStatus,
    ReasonCode,
    Severity,
    StatementStatus,
)
from billing.models import BillingException, PriceOverride, SettlementStatement, Subscription
from billing.overrides import price_override_approve, price_override_reject, price_override_request
from billing.settlement import statements_generate
from common.api import ErrorSerializer, StrictInputSerializer, validated
from common.errors import DomainError, NotFound

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input; `field` names the input."),
    403: OpenApiResponse(ErrorSerializer, description="Not the owner's finance staff."),
}
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such object.")
CONFLICT = OpenApiResponse(ErrorSerializer, description="Not possible in the object's state.")


def _choice(request, name: str, choices) -> str | None:
    """A query filter's value, or a 400 naming the values it takes."""
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    if value not in choices:
        raise DomainError(
            f"{name} must be one of {', '.join(choices)}, not {value!r}", code="invalid", field=name
        )
    return value


def _integer(request, name: str) -> int | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise DomainError(f"{name} must be an id, not {value!r}", code="invalid", field=name)
    return int(value)


# --- serializers ------------------------------------------------------------------------------


class ExceptionSerializer(serializers.ModelSerializer):
    """A revenue-assurance exception: what differs, about which subject, and its resolution."""

    kind = serializers.ChoiceField(choices=ExceptionKind.choices)
    severity = serializers.ChoiceField(choices=Severity.choices)
    status = serializers.ChoiceField(choices=ExceptionStatus.choices)
    resolved_by = serializers.CharField(source="resolved_by.username", allow_null=True)

    class Meta:
        model = BillingException
        fields = (
            "id",
            "kind",
            "severity",
            "status",
            "subject",
            "service",
            "subscription",
            "isp",
            "detail",
            "detected_at",
            "resolved_at",
            "resolved_by",
            "resolution",
        )


class ResolveInputSerializer(StrictInputSerializer):
    resolution = serializers.CharField(max_length=500, help_text="How it was resolved.")


class OverrideSerializer(serializers.ModelSerializer):
    """A price override: the audit row of a manual price or discount change."""

    field = serializers.ChoiceField(choices=OverrideField.choices)
    reason_code = serializers.ChoiceField(choices=ReasonCode.choices)
    status = serializers.ChoiceField(choices=OverrideStatus.choices)
    requested_by = serializers.CharField(source="requested_by.username")
    approved_by = serializers.CharField(
        source="approved_by.username", allow_null=True, help_text="Who approved or rejected."
    )

    class Meta:
        model = PriceOverride
        fields = (
            "id",
            "subscription",
            "field",
            "old_value",
            "new_value",
            "reason_code",
            "note",
            "status",
            "requested_by",
            "requested_at",
            "approved_by",
            "decided_at",
        )


class OverrideInputSerializer(StrictInputSerializer):
    subscription = serializers.IntegerField(help_text="The subscription's id.")
    field = serializers.ChoiceField(choices=OverrideField.choices)
    new_value = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    reason_code = serializers.ChoiceField(
        choices=ReasonCode.choices, help_text="Required: why the price changes."
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class StatementSerializer(serializers.ModelSerializer):
    """A monthly settlement statement of one ISP, with expected vs actual."""

    isp_name = serializers.CharField(source="isp.name")
    status = serializers.ChoiceField(choices=StatementStatus.choices)
    variance = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", allow_null=True)

    class Meta:
        model = SettlementStatement
        fields = (
            "id",
            "isp",
            "isp_name",
            "month",
            "status",
            "currency",
            "service_days",
            "expected_total",
            "actual_total",
            "variance",
            "invoice",
            "invoice_number",
            "generated_at",
        )


class GenerateInputSerializer(StrictInputSerializer):
    month = serializers.DateField(
        input_formats=["%Y-%m", "%Y-%m-%d"], help_text="The month to settle: YYYY-MM."
    )


class GenerateResultSerializer(serializers.Serializer):
    statements = serializers.IntegerField(help_text="Statements generated or regenerated.")
    issued = serializers.IntegerField(help_text="Statements issued (an invoice each).")
    lines = serializers.IntegerField()
    unchanged = serializers.IntegerField(help_text="Issued before: left as they were.")


# --- exceptions -------------------------------------------------------------------------------


class ExceptionList(generics.ListAPIView):
    """Exceptions, newest first: filter by kind, severity, status (default: any), isp."""

    permission_classes = [IsFinance]
    serializer_class = ExceptionSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[BillingException]:
        rows = BillingException.objects.select_related("resolved_by").order_by(
            "-detected_at", "-id"
        )
        request = self.request
        for name, choices in (
            ("kind", ExceptionKind.values),
            ("severity", Severity.values),
            ("status", ExceptionStatus.values),
        ):
            value = _choice(request, name, choices)
            if value:
                rows = rows.filter(**{name: value})
        isp = _integer(request, "isp")
        if isp:
            rows = rows.filter(isp_id=isp)
        return rows

    @extend_schema(
        tags=["billing"],
        summary="Revenue-assurance exceptions",
        parameters=[
            OpenApiParameter("kind", enum=ExceptionKind.values),
            OpenApiParameter("severity", enum=Severity.values),
            OpenApiParameter("status", enum=ExceptionStatus.values),
            OpenApiParameter("isp", int),
        ],
        responses={200: ExceptionSerializer(many=True), **ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ExceptionResolve(APIView):
    permission_classes = [IsFinance]

    @extend_schema(
        tags=["billing"],
        summary="Mark an open exception resolved, with a note",
        request=ResolveInputSerializer,
        responses={200: ExceptionSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERRORS},
    )
    def post(self, request, pk: int):
        exception = get_object_or_404(BillingException, pk=pk)
        data = validated(ResolveInputSerializer, request.data)
        exception = exception_resolve(
            exception=exception, resolution=data["resolution"], actor=request.user
        )
        return Response(ExceptionSerializer(exception).data)


# --- overrides --------------------------------------------------------------------------------


class OverrideListCreate(generics.ListAPIView):
    """Price overrides, newest first (filter by status, subscription); POST asks for one."""

    permission_classes = [IsFinance]
    serializer_class = OverrideSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[PriceOverride]:
        rows = PriceOverride.objects.select_related("requested_by", "approved_by").order_by(
            "-requested_at", "-id"
        )
        value = _choice(self.request, "status", OverrideStatus.values)
        if value:
            rows = rows.filter(status=value)
        subscription = _integer(self.request, "subscription")
        if subscription:
            rows = rows.filter(subscription_id=subscription)
        return rows

    @extend_schema(
        tags=["billing"],
        summary="Price overrides (the audit rows)",
        parameters=[
            OpenApiParameter("status", enum=OverrideStatus.values),
            OpenApiParameter("subscription", int),
        ],
        responses={200: OverrideSerializer(many=True), **ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["billing"],
        summary="Ask for a price or discount change",
        description="Applied at once within the approval limit (201, status `applied`);"
        " above it the override waits for an approver (201, status `pending`).",
        request=OverrideInputSerializer,
        responses={201: OverrideSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERRORS},
    )
    def post(self, request, *args, **kwargs):
        data = validated(OverrideInputSerializer, request.data)
        subscription = Subscription.objects.filter(pk=data["subscription"]).first()
        if subscription is None:
            raise NotFound(f"no subscription {data['subscription']}", field="subscription")
        override = price_override_request(
            subscription=subscription,
            field=data["field"],
            new_value=data["new_value"],
            reason_code=data["reason_code"],
            note=data["note"],
            actor=request.user,
        )
        return Response(OverrideSerializer(override).data, status=status.HTTP_201_CREATED)


class OverrideDecision(APIView):
    permission_classes = [IsFinance]
    decide = staticmethod(price_override_approve)

    def post(self, request, pk: int):
        override = get_object_or_404(PriceOverride, pk=pk)
        override = self.decide(override=override, actor=request.user)
        return Response(OverrideSerializer(override).data)


class OverrideApprove(OverrideDecision):
    decide = staticmethod(price_override_approve)

    @extend_schema(
        tags=["billing"],
        summary="Approve a pending override (an operator admin, not the requester)",
        request=None,
        responses={200: OverrideSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERRORS},
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class OverrideReject(OverrideDecision):
    decide = staticmethod(price_override_reject)

    @extend_schema(
        tags=["billing"],
        summary="Reject a pending override (an operator admin, not the requester)",
        request=None,
        responses={200: OverrideSerializer, 404: NOT_FOUND, 409: CONFLICT, **ERRORS},
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


# --- statements -------------------------------------------------------------------------------


class StatementList(generics.ListAPIView):
    """Settlement statements, newest month first: filter by month (YYYY-MM), isp, status."""

    permission_classes = [IsFinance]
    serializer_class = StatementSerializer
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[SettlementStatement]:
        rows = SettlementStatement.objects.select_related("isp", "invoice").order_by(
            "-month", "isp_id"
        )
        month = self.request.query_params.get("month", "").strip()
        if month:
            data = validated(GenerateInputSerializer, {"month": month})
            rows = rows.filter(month=data["month"].replace(day=1))
        value = _choice(self.request, "status", StatementStatus.values)
        if value:
            rows = rows.filter(status=value)
        isp = _integer(self.request, "isp")
        if isp:
            rows = rows.filter(isp_id=isp)
        return rows

    @extend_schema(
        tags=["billing"],
        summary="Settlement statements with expected vs actual",
        parameters=[
            OpenApiParameter("month", str, description="YYYY-MM"),
            OpenApiParameter("status", enum=StatementStatus.values),
            OpenApiParameter("isp", int),
        ],
        responses={200: StatementSerializer(many=True), **ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class StatementsGenerate(APIView):
    permission_classes = [IsFinance]

    @extend_schema(
        tags=["billing"],
        summary="Generate the month's statements (issued once the month is over)",
        request=GenerateInputSerializer,
        responses={200: GenerateResultSerializer, **ERRORS},
    )
    def post(self, request):
        data = validated(GenerateInputSerializer, request.data)
        counts = statements_generate(month=data["month"])
        return Response(GenerateResultSerializer(counts).data)


urlpatterns = [
    path("exceptions/", ExceptionList.as_view(), name="exceptions"),
    path("exceptions/<int:pk>/resolve/", ExceptionResolve.as_view(), name="exception-resolve"),
    path("overrides/", OverrideListCreate.as_view(), name="overrides"),
    path("overrides/<int:pk>/approve/", OverrideApprove.as_view(), name="override-approve"),
    path("overrides/<int:pk>/reject/", OverrideReject.as_view(), name="override-reject"),
    path("statements/", StatementList.as_view(), name="statements"),
    path("statements/generate/", StatementsGenerate.as_view(), name="statements-generate"),
]
