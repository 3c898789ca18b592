"""Finance pages: revenue-assurance exceptions, price overrides and settlement statements.

Every page is for the owner's finance staff (`finance_required`); every write is one named
service call from a POST form, its refusal shown as a message (never a 500), and a success
redirects (POST-redirect-GET).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Organisation
from accounts.permissions import finance_required
from accounts.roles import OrganisationKind
from billing.assurance import exception_resolve, exceptions_detect
from billing.invoicing import money
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
from billing.overrides import (
    approval_limit_percent,
    may_approve,
    price_override_approve,
    price_override_reject,
    price_override_request,
)
from billing.settlement import (
    statement_csv,
    statement_filename,
    statement_lines,
    statement_pdf,
    statements_generate,
)
from common.errors import DomainError

PAGE_SIZE = 50
# settlement variance against the expected total (DOMAIN.md board metrics)
VARIANCE_TARGET = Decimal("0.005")
VARIANCE_ALERT = Decimal("0.01")


def _page(request, queryset):
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def _refusal(request, error: DomainError) -> None:
    messages.error(request, error.message[:1].upper() + error.message[1:])


def _back(request, fallback: str) -> str:
    """Where a POST returns: the page it came from (ours only), else the fallback."""
    target = request.POST.get("next", "")
    return target if target.startswith("/billing/") else fallback


# --- exceptions -------------------------------------------------------------------------------


class ExceptionFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=[("", "any kind"), *ExceptionKind.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "any"), *Severity.choices], required=False)
    status = forms.ChoiceField(
        choices=[("", "any"), *ExceptionStatus.choices], required=False, initial="open"
    )
    isp = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(kind=OrganisationKind.ISP).order_by("name"),
        required=False,
        empty_label="any ISP",
    )


class ResolveForm(forms.Form):
    resolution = forms.CharField(max_length=500, label="How it was resolved")


@require_GET
@finance_required
def exception_list(request):
    """Open (or all) exceptions with filters, counts by kind as cards, a resolve form each."""
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = ExceptionStatus.OPEN
    form = ExceptionFilterForm(data)
    chosen = form.cleaned_data if form.is_valid() else {"status": ExceptionStatus.OPEN}
    rows = BillingException.objects.select_related(
        "service", "subscription", "isp", "resolved_by"
    ).order_by("-detected_at", "-id")
    for field in ("kind", "severity", "status"):
        if chosen.get(field):
            rows = rows.filter(**{field: chosen[field]})
    if chosen.get("isp"):
        rows = rows.filter(isp=chosen["isp"])
    open_counts = dict(
        BillingException.objects.filter(status=ExceptionStatus.OPEN)
        .values_list("kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    severity_of = {
        ExceptionKind.FREE_RIDER: Severity.RED,
        ExceptionKind.BILLING_WITHOUT_SERVICE: Severity.RED,
        ExceptionKind.ONT_BINDING: Severity.RED,
        ExceptionKind.PLAN_MISMATCH: Severity.AMBER,
        ExceptionKind.PRICING_POLICY: Severity.AMBER,
    }
    cards = [
        {
            "kind": kind,
            "label": label,
            "count": open_counts.get(kind, 0),
            "severity": severity_of[kind],
        }
        for kind, label in ExceptionKind.choices
    ]
    page, query = _page(request, rows)
    return render(
        request,
        "billing/exception_list.html",
        {
            "form": form,
            "cards": cards,
            "page": page,
            "page_query": query,
            "resolve_form": ResolveForm(),
        },
    )


@require_POST
@finance_required
def exception_resolve_view(request, pk: int):
    exception = get_object_or_404(BillingException, pk=pk)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say how the exception was resolved.")
    else:
        try:
            exception_resolve(
                exception=exception, resolution=form.cleaned_data["resolution"], actor=request.user
            )
            messages.success(request, f"Exception {exception.pk} resolved.")
        except DomainError as error:
            _refusal(request, error)
    return redirect(_back(request, reverse("billing:exceptions")))


@require_POST
@finance_required
def exceptions_check(request):
    """Run the revenue-assurance check now (the daily run does it too)."""
    counts = exceptions_detect(on=timezone.localdate())
    messages.success(
        request,
        f"Checked: {counts['raised']} raised, {counts['cleared']} cleared, {counts['open']} open.",
    )
    return redirect(reverse("billing:exceptions"))


# --- overrides --------------------------------------------------------------------------------


class OverrideForm(forms.Form):
    field = forms.ChoiceField(choices=OverrideField.choices, label="Change")
    new_value = forms.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, label="New value (per month)"
    )
    reason_code = forms.ChoiceField(
        choices=[("", "choose a reason"), *ReasonCode.choices], label="Reason", required=False
    )
    note = forms.CharField(max_length=500, required=False, widget=forms.Textarea({"rows": 2}))


@require_GET
@finance_required
def override_list(request):
    """Overrides waiting for approval (with approve/reject), then the history."""
    base = PriceOverride.objects.select_related(
        "subscription__order", "subscription__isp", "requested_by", "approved_by"
    )
    pending = list(base.filter(status=OverrideStatus.PENDING).order_by("requested_at", "id"))
    history = base.exclude(status=OverrideStatus.PENDING).order_by("-requested_at", "-id")
    page, query = _page(request, history)
    return render(
        request,
        "billing/override_list.html",
        {
            "pending": pending,
            "page": page,
            "page_query": query,
            "may_approve": may_approve(request.user),
            "limit": approval_limit_percent(),
        },
    )


@require_http_methods(["GET", "POST"])
@finance_required
def subscription_override(request, pk: int):
    """The form that asks for a price or discount change of one subscription."""
    subscription = get_object_or_404(
        Subscription.objects.select_related("order", "isp", "product", "customer"), pk=pk
    )
    form = OverrideForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                override = price_override_request(
                    subscription=subscription,
                    field=data["field"],
                    new_value=data["new_value"],
                    reason_code=data["reason_code"],
                    note=data["note"],
                    actor=request.user,
                )
            except DomainError as error:
                _refusal(request, error)
                if error.field in form.fields:
                    form.add_error(error.field, error.message)
                status = 400
            else:
                if override.status == OverrideStatus.PENDING:
                    messages.success(
                        request, f"Override {override.pk} waits for an approver (above the limit)."
                    )
                else:
                    messages.success(request, f"Override {override.pk} applied.")
                return redirect(reverse("billing:overrides"))
        else:
            status = 400
    overrides = subscription.overrides.select_related("requested_by", "approved_by")
    return render(
        request,
        "billing/override_form.html",
        {
            "subscription": subscription,
            "form": form,
            "overrides": overrides.order_by("-requested_at", "-id")[:20],
            "limit": approval_limit_percent(),
            "limit_price": money(
                subscription.catalog_price * (100 - approval_limit_percent()) / 100
            ),
        },
        status=status,
    )


def _decide(request, pk: int, decide, done: str):
    override = get_object_or_404(PriceOverride, pk=pk)
    try:
        decide(override=override, actor=request.user)
        messages.success(request, f"Override {override.pk} {done}.")
    except DomainError as error:
        _refusal(request, error)
    return redirect(reverse("billing:overrides"))


@require_POST
@finance_required
def override_approve(request, pk: int):
    return _decide(request, pk, price_override_approve, "approved and applied")


@require_POST
@finance_required
def override_reject(request, pk: int):
    return _decide(request, pk, price_override_reject, "rejected")


# --- settlement -------------------------------------------------------------------------------


class StatementFilterForm(forms.Form):
    month = forms.DateField(
        input_formats=["%Y-%m"], required=False, widget=forms.DateInput(attrs={"type": "month"})
    )
    isp = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(kind=OrganisationKind.ISP).order_by("name"),
        required=False,
        empty_label="any ISP",
    )
    status = forms.ChoiceField(choices=[("", "any"), *StatementStatus.choices], required=False)


class GenerateForm(forms.Form):
    month = forms.DateField(
        input_formats=["%Y-%m"], widget=forms.DateInput(attrs={"type": "month"})
    )


def variance_class(statement: SettlementStatement) -> str:
    """kpi-ok within 0.5 % of the expected total, kpi-bad above 1 %, kpi-warn between."""
    variance = abs(statement.variance)
    if not variance:
        return "kpi-ok"
    if not statement.expected_total:
        return "kpi-bad"
    share = variance / abs(statement.expected_total)
    if share <= VARIANCE_TARGET:
        return "kpi-ok"
    return "kpi-bad" if share > VARIANCE_ALERT else "kpi-warn"


@require_GET
@finance_required
def settlement_list(request):
    """Statements by month and ISP: expected vs actual, the variance coloured."""
    form = StatementFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    rows = SettlementStatement.objects.select_related("isp", "invoice").order_by(
        "-month", "isp__name"
    )
    if data.get("month"):
        rows = rows.filter(month=data["month"].replace(day=1))
    if data.get("isp"):
        rows = rows.filter(isp=data["isp"])
    if data.get("status"):
        rows = rows.filter(status=data["status"])
    page, query = _page(request, rows)
    for statement in page.object_list:
        statement.variance_class = variance_class(statement)
    last_month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return render(
        request,
        "billing/settlement_list.html",
        {
            "form": form,
            "page": page,
            "page_query": query,
            "generate_form": GenerateForm(initial={"month": last_month.strftime("%Y-%m")}),
        },
    )


@require_POST
@finance_required
def settlement_generate(request):
    form = GenerateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the month to settle as YYYY-MM.")
        return redirect(reverse("billing:settlement"))
    month = form.cleaned_data["month"]
    try:
        counts = statements_generate(month=month)
    except DomainError as error:
        _refusal(request, error)
    else:
        messages.success(
            request,
            f"{month:%B %Y}: {counts['statements']} statement(s) generated, {counts['issued']}"
            f" issued, {counts['unchanged']} issued before and left unchanged.",
        )
    return redirect(f"{reverse('billing:settlement')}?month={month:%Y-%m}")


def _statement(pk: int) -> SettlementStatement:
    return get_object_or_404(
        SettlementStatement.objects.select_related("isp", "provider", "invoice"), pk=pk
    )


@require_GET
@finance_required
def settlement_detail(request, pk: int):
    statement = _statement(pk)
    statement.variance_class = variance_class(statement)
    page, query = _page(request, statement_lines(statement))
    return render(
        request,
        "billing/settlement_detail.html",
        {"statement": statement, "page": page, "page_query": query},
    )


def csv_response(statement: SettlementStatement) -> HttpResponse:
    response = HttpResponse(statement_csv(statement), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{statement_filename(statement, "csv")}"'
    )
    return response


def pdf_response(statement: SettlementStatement) -> HttpResponse:
    response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="{statement_filename(statement, "pdf")}"'
    )
    return response


@require_GET
@finance_required
def settlement_csv(request, pk: int):
    return csv_response(_statement(pk))


@require_GET
@finance_required
def settlement_pdf(request, pk: int):
    return pdf_response(_statement(pk))


urlpatterns = [
    path("exceptions/", exception_list, name="exceptions"),
    path("exceptions/check/", exceptions_check, name="exceptions-check"),
    path("exceptions/<int:pk>/resolve/", exception_resolve_view, name="exception-resolve"),
    path("overrides/", override_list, name="overrides"),
    path("overrides/<int:pk>/approve/", override_approve, name="override-approve"),
    path("overrides/<int:pk>/reject/", override_reject, name="override-reject"),
    path("subscriptions/<int:pk>/override/", subscription_override, name="subscription-override"),
    path("settlement/", settlement_list, name="settlement"),
    path("settlement/generate/", settlement_generate, name="settlement-generate"),
    path("settlement/<int:pk>/", settlement_detail, name="statement"),
    path("settlement/<int:pk>.csv", settlement_csv, name="statement-csv"),
    path("settlement/<int:pk>.pdf", settlement_pdf, name="statement-pdf"),
]
