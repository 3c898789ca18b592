"""The ISPs' settlement statements through the ISP API (/api/isp/statements/): token auth,
scope `read`, limit/offset pages, their own issued statements only (another ISP's id is a
404); the owner's staff see every ISP's."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action

from billing.lifecycle import LineKind, StatementStatus
from billing.models import SettlementLine, SettlementStatement
from billing.settlement import statement_csv, statement_filename, statement_lines
from wholesale.isp_api.serializers import IspOrganisationRefSerializer
from wholesale.isp_api.views import ERRORS, NOT_FOUND, IspApiView
from wholesale.selectors import isp_scope


class IspStatementSerializer(serializers.ModelSerializer):
    """A monthly settlement statement: what the ISP owes the owner for the month."""

    isp = IspOrganisationRefSerializer()
    month = serializers.DateField(help_text="First day of the month settled.")
    amount = serializers.DecimalField(
        source="actual_total",
        max_digits=14,
        decimal_places=2,
        help_text="Sum of the lines, before tax.",
    )
    invoice_number = serializers.CharField(source="invoice.number", allow_null=True)
    invoice_total = serializers.DecimalField(
        source="invoice.total", max_digits=14, decimal_places=2, allow_null=True
    )
    issue_date = serializers.DateField(source="invoice.issue_date", allow_null=True)
    due_date = serializers.DateField(source="invoice.due_date", allow_null=True)

    class Meta:
        model = SettlementStatement
        fields = (
            "id",
            "isp",
            "month",
            "currency",
            "service_days",
            "amount",
            "invoice_number",
            "invoice_total",
            "issue_date",
            "due_date",
        )


class IspStatementLineSerializer(serializers.ModelSerializer):
    """A line: a service's days at its monthly rate, a one-time fee or a promotion."""

    kind = serializers.ChoiceField(choices=LineKind.choices)
    service = serializers.CharField(source="service.reference", allow_null=True)
    address = serializers.CharField(source="address.label", allow_null=True)
    product = serializers.CharField(source="product.name", allow_null=True)

    class Meta:
        model = SettlementLine
        fields = (
            "kind",
            "service",
            "address",
            "product",
            "description",
            "full_days",
            "half_days",
            "monthly_rate",
            "amount",
        )


class IspStatementDetailSerializer(IspStatementSerializer):
    """A statement with every line."""

    lines = serializers.SerializerMethodField()

    class Meta(IspStatementSerializer.Meta):
        fields = (*IspStatementSerializer.Meta.fields, "lines")

    @extend_schema_field(IspStatementLineSerializer(many=True))
    def get_lines(self, statement) -> list[dict]:
        return IspStatementLineSerializer(statement_lines(statement), many=True).data


def statements_for(user):
    """The issued statements the caller may see (its ISP's; every ISP's for owner staff)."""
    statements = SettlementStatement.objects.filter(status=StatementStatus.ISSUED).select_related(
        "isp", "invoice"
    )
    isp_id = isp_scope(user)
    return statements if isp_id is None else statements.filter(isp_id=isp_id)


@extend_schema(tags=["isp"])
class StatementViewSet(
    IspApiView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The ISP's monthly settlement statements: list, one with its lines, its CSV."""

    queryset = SettlementStatement.objects.none()  # the schema's model

    def get_queryset(self):
        return statements_for(self.request.user).order_by("-month", "isp_id", "-id")

    def get_serializer_class(self):
        return IspStatementSerializer if self.action == "list" else IspStatementDetailSerializer

    @extend_schema(
        summary="Your settlement statements, newest month first",
        responses={200: IspStatementSerializer, **ERRORS},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One statement with its lines",
        responses={200: IspStatementDetailSerializer, 404: NOT_FOUND, **ERRORS},
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="One statement as CSV (a row per line)",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV file."),
            404: NOT_FOUND,
            **ERRORS,
        },
    )
    @action(detail=True, methods=["get"], url_path="csv")
    def csv(self, request, pk=None):
        statement = self.get_object()
        response = HttpResponse(statement_csv(statement), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{statement_filename(statement, "csv")}"'
        )
        return response
