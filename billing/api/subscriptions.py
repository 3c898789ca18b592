"""Finance API: subscriptions and billing runs (read), and starting today's run.

GET  /api/billing/subscriptions/          ?status=&isp=&blocked=
GET  /api/billing/subscriptions/<id>/     with segments, promotion, invoices, overrides
GET  /api/billing/runs/                   newest first
GET  /api/billing/runs/<id>/              its status and counts (polled while it runs)
POST /api/billing/runs/                   start today's daily run on a worker; returns it
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from accounts.permissions import IsFinance
from billing.models import BillingRun, Invoice, PriceOverride, Subscription, SubscriptionSegment
from billing.runs import billing_run_start, runs_list
from billing.subscriptions import subscription_detail, subscriptions_filtered

# --- serializers ------------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer):
    isp_name = serializers.CharField(source="isp.name", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    order_reference = serializers.CharField(source="order.reference", read_only=True)
    service_reference = serializers.CharField(
        source="service.reference", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "status",
            "isp",
            "isp_name",
            "order",
            "order_reference",
            "service",
            "service_reference",
            "customer",
            "provider",
            "product",
            "product_name",
            "monthly_price",
            "catalog_price",
            "discount",
            "currency",
            "started_at",
            "ended_at",
            "billed_until",
            "promotion",
            "promotion_ends_at",
            "billing_blocked",
        ]
        read_only_fields = fields


class SegmentSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = SubscriptionSegment
        fields = ["id", "product", "product_name", "monthly_price", "starts_at", "ends_at"]
        read_only_fields = fields


class SubscriptionInvoiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = ["id", "number", "status", "issue_date", "period_start", "period_end", "total"]
        read_only_fields = fields


class SubscriptionOverrideSerializer(serializers.ModelSerializer):
    class Meta:
        model = PriceOverride
        fields = ["id", "field", "old_value", "new_value", "reason_code", "status", "requested_at"]
        read_only_fields = fields


class SubscriptionDetailSerializer(SubscriptionSerializer):
    promotion_name = serializers.CharField(
        source="promotion.name", read_only=True, allow_null=True, default=None
    )
    segments = SegmentSerializer(many=True, read_only=True)
    invoices = SubscriptionInvoiceSerializer(many=True, read_only=True)
    overrides = SubscriptionOverrideSerializer(many=True, read_only=True)

    class Meta(SubscriptionSerializer.Meta):
        fields = [
            *SubscriptionSerializer.Meta.fields,
            "promotion_name",
            "segments",
            "invoices",
            "overrides",
        ]
        read_only_fields = fields


class BillingRunSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "kind",
            "period",
            "status",
            "started_at",
            "finished_at",
            "duration_seconds",
            "counts",
            "error",
        ]
        read_only_fields = fields


# --- views ------------------------------------------------------------------------------------

SUBSCRIPTION_FILTERS = [
    OpenApiParameter("status", str, description="active or ended"),
    OpenApiParameter("isp", int, description="the ISP's organisation id"),
    OpenApiParameter("blocked", bool, description="held back from billing (true/false)"),
]


class SubscriptionList(generics.ListAPIView):
    """The subscriptions, newest first, filtered by status, ISP and blocked."""

    permission_classes = [IsFinance]
    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        params = self.request.query_params
        return subscriptions_filtered(
            status=params.get("status", ""),
            isp=params.get("isp", ""),
            blocked=params.get("blocked", ""),
        )

    @extend_schema(parameters=SUBSCRIPTION_FILTERS, summary="List subscriptions")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SubscriptionDetail(generics.RetrieveAPIView):
    """One subscription with its segments, promotion, invoices and overrides."""

    permission_classes = [IsFinance]
    serializer_class = SubscriptionDetailSerializer

    def get_queryset(self):
        return subscription_detail()

    @extend_schema(summary="One subscription")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RunList(generics.ListAPIView):
    """The billing runs, newest first; POST starts today's daily run on a worker."""

    permission_classes = [IsFinance]
    serializer_class = BillingRunSerializer

    def get_queryset(self):
        return runs_list()

    @extend_schema(summary="List billing runs")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={202: BillingRunSerializer, 200: BillingRunSerializer},
        summary="Start today's billing run",
        description="Makes (or finds) today's daily run and hands it to a worker; "
        "200 with the run when it is done already.",
    )
    def post(self, request, *args, **kwargs):
        run, to_start = billing_run_start(actor=request.user)
        code = status.HTTP_202_ACCEPTED if to_start else status.HTTP_200_OK
        return Response(BillingRunSerializer(run).data, status=code)


class RunDetail(generics.RetrieveAPIView):
    """One billing run: its status and counts (the runs page polls it while it runs)."""

    permission_classes = [IsFinance]
    serializer_class = BillingRunSerializer
    queryset = BillingRun.objects.all()

    @extend_schema(summary="One billing run")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("subscriptions/", SubscriptionList.as_view(), name="subscriptions"),
    path("subscriptions/<int:pk>/", SubscriptionDetail.as_view(), name="subscription"),
    path("runs/", RunList.as_view(), name="runs"),
    path("runs/<int:pk>/", RunDetail.as_view(), name="run"),
]
