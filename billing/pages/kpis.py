"""Finance pages: the finance overview (/billing/), the board KPIs with their trends
(/billing/kpis/) and the rows behind each KPI (/billing/kpis/<key>/)."""

from __future__ import annotations

import math

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.urls import path

from accounts.permissions import finance_required
from billing import kpis
from billing.api.kpis import figure_data
from common.errors import DomainError

ROWS_PER_PAGE = 50

FINANCE_PAGES = [
    ("Invoices", "/billing/invoices/", "issued, paid and void invoices, payments, credit notes"),
    ("Connection charges", "/billing/connections/", "deposits and installment plans"),
    ("Subscriptions", "/billing/subscriptions/", "the commercial contracts and their segments"),
    ("Exceptions", "/billing/exceptions/", "what revenue assurance found, to resolve"),
    ("Overrides", "/billing/overrides/", "manual price changes and their approvals"),
    ("Settlement", "/billing/settlement/", "the ISPs' monthly wholesale statements"),
    ("Runs", "/billing/runs/", "the daily and monthly billing runs"),
]


def _month(request):
    """The month asked for (?month=YYYY-MM), or this month with an error message and 400."""
    try:
        return kpis.parse_month(request.GET.get("month")), 200
    except DomainError as error:
        messages.error(request, str(error))
        return kpis.current_month(), 400


@finance_required
def overview(request):
    """The finance door: the KPIs' headline cards, this month's money, open exceptions."""
    month = kpis.current_month()
    figures = kpis.kpi_figures(month)
    context = {
        "month": month,
        "figures": figures,
        "totals": kpis.month_totals(month),
        "pages": FINANCE_PAGES,
    }
    return render(request, "billing/overview.html", context)


@finance_required
def kpi_dashboard(request):
    """Every KPI of the month: value, target/alert, colour, the 12-month trend, drill-down."""
    month, status = _month(request)
    figures = kpis.kpi_figures(month)
    context = {
        "month": month,
        "this_month": kpis.current_month(),
        "figures": figures,
        "charts": [figure_data(figure) for figure in figures],
    }
    return render(request, "billing/kpis.html", context, status=status)


@finance_required
def kpi_rows(request, key: str):
    """The rows behind one KPI of the month, a page at a time."""
    if key not in kpis.KPI_BY_KEY:
        raise Http404(f"there is no KPI “{key}”")
    month, status = _month(request)
    try:
        number = max(int(request.GET.get("page") or 1), 1)
    except ValueError:
        messages.error(request, "the page must be a whole number")
        number, status = 1, 400
    drill = kpis.kpi_rows(key, month, limit=ROWS_PER_PAGE, offset=(number - 1) * ROWS_PER_PAGE)
    pages = max(math.ceil(drill.total / ROWS_PER_PAGE), 1)
    figure = kpis.kpi_figures(month, keys=[key])[0]
    context = {
        "month": month,
        "drill": drill,
        "figure": figure,
        "rows": [[row[c] for c in drill.columns] for row in drill.rows],
        "number": number,
        "pages": pages,
        "first": (number - 1) * ROWS_PER_PAGE + 1 if drill.rows else 0,
        "last": (number - 1) * ROWS_PER_PAGE + len(drill.rows),
    }
    return render(request, "billing/kpis_rows.html", context, status=status)


urlpatterns = [
    path("", overview, name="overview"),
    path("kpis/", kpi_dashboard, name="kpis"),
    path("kpis/<slug:key>/", kpi_rows, name="kpi-rows"),
]
