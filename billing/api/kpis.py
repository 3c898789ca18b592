"""Finance API: the board KPIs of a month with their 12-month trends, and the rows behind
each (the same figures as the /billing/kpis/ page, from the same `billing.kpis` statements)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import path, reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsFinance
from billing import kpis
from common.api import ErrorSerializer
from common.errors import DomainError, NotFound

MONTH = OpenApiParameter(
    "month", str, description="The month, YYYY-MM (default: this month).", required=False
)


class TrendPointSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    value = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    status = serializers.ChoiceField(choices=kpis.KPI_STATUSES)


class KpiSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    unit = serializers.CharField(help_text="% or days")
    value = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    numerator = serializers.DecimalField(max_digits=20, decimal_places=2)
    denominator = serializers.DecimalField(max_digits=20, decimal_places=2)
    target = serializers.DecimalField(max_digits=8, decimal_places=2)
    alert = serializers.DecimalField(max_digits=8, decimal_places=2)
    target_text = serializers.CharField()
    alert_text = serializers.CharField()
    quarter_over_quarter = serializers.BooleanField(
        help_text="Target and alert apply to the rise over three months before (DSO)."
    )
    status = serializers.ChoiceField(choices=kpis.KPI_STATUSES)
    how = serializers.CharField()
    extra = serializers.DictField(child=serializers.CharField(allow_null=True))
    rows_url = serializers.CharField(help_text="The rows behind the figure (API).")
    page_url = serializers.CharField(help_text="The rows behind the figure (page).")
    trend = TrendPointSerializer(many=True)


class KpisSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    kpis = KpiSerializer(many=True)


class KpiRowsSerializer(serializers.Serializer):
    key = serializers.CharField()
    month = serializers.CharField()
    count = serializers.IntegerField()
    columns = serializers.ListField(child=serializers.CharField())
    results = serializers.ListField(child=serializers.DictField())


def _text(value) -> str | None:
    return None if value is None else str(value)


def figure_data(figure: kpis.Figure) -> dict:
    """One KPI as the API (and the page's chart data) gives it."""
    kpi, month = figure.kpi, f"{figure.month:%Y-%m}"
    return {
        "key": kpi.key,
        "title": kpi.title,
        "unit": kpi.unit,
        "value": figure.value,
        "numerator": figure.numerator,
        "denominator": figure.denominator,
        "target": kpi.target,
        "alert": kpi.alert,
        "target_text": kpi.target_text,
        "alert_text": kpi.alert_text,
        "quarter_over_quarter": kpi.quarter_over_quarter,
        "status": figure.status,
        "how": kpi.how,
        "extra": {name: _text(value) for name, value in figure.extra.items()},
        "rows_url": reverse("billing-api:kpi-rows", args=[kpi.key]) + f"?month={month}",
        "page_url": reverse("billing:kpi-rows", args=[kpi.key]) + f"?month={month}",
        "trend": [
            {"month": f"{p.month:%Y-%m}", "value": p.value, "status": p.status}
            for p in figure.trend
        ],
    }


class KpisView(APIView):
    """The board KPIs of a month, each with its 12-month trend."""

    permission_classes = [IsFinance]

    @extend_schema(
        operation_id="billing_kpis",
        parameters=[MONTH],
        responses={200: KpisSerializer, 400: OpenApiResponse(ErrorSerializer)},
        tags=["billing"],
    )
    def get(self, request):
        month = kpis.parse_month(request.query_params.get("month"))
        figures = kpis.kpi_figures(month)
        data = {"month": f"{month:%Y-%m}", "kpis": [figure_data(f) for f in figures]}
        return Response(KpisSerializer(data).data)


def _number(text: str | None, default: int, name: str, maximum: int) -> int:
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError:
        raise DomainError(f"{name} must be a whole number", field=name) from None
    if value < 0 or value > maximum:
        raise DomainError(f"{name} must be between 0 and {maximum}", field=name)
    return value


def _cell(value):
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class KpiRowsView(APIView):
    """The rows behind one KPI of a month (paginated by limit/offset)."""

    permission_classes = [IsFinance]

    @extend_schema(
        operation_id="billing_kpi_rows",
        parameters=[
            MONTH,
            OpenApiParameter("limit", int, required=False, description="At most 500."),
            OpenApiParameter("offset", int, required=False),
        ],
        responses={
            200: KpiRowsSerializer,
            400: OpenApiResponse(ErrorSerializer),
            404: OpenApiResponse(ErrorSerializer),
        },
        tags=["billing"],
    )
    def get(self, request, key: str):
        if key not in kpis.KPI_BY_KEY:
            raise NotFound(f"there is no KPI “{key}”")
        month = kpis.parse_month(request.query_params.get("month"))
        limit = _number(request.query_params.get("limit"), 100, "limit", 500)
        offset = _number(request.query_params.get("offset"), 0, "offset", 10**9)
        drill = kpis.kpi_rows(key, month, limit=limit, offset=offset)
        data = {
            "key": key,
            "month": f"{month:%Y-%m}",
            "count": drill.total,
            "columns": drill.columns,
            "results": [{c: _cell(row[c]) for c in drill.columns} for row in drill.rows],
        }
        return Response(KpiRowsSerializer(data).data)


urlpatterns = [
    path("kpis/", KpisView.as_view(), name="kpis"),
    path("kpis/<slug:key>/rows/", KpiRowsView.as_view(), name="kpi-rows"),
]
