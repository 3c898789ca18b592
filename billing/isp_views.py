"""The ISPs' settlement statements in their portal (/isp/statements/): an ISP user sees the
issued statements of their own ISP only (another ISP's id is a 404, as for one that does not
exist); the owner's staff see every ISP's, read-only, as elsewhere in the portal."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.models import Organisation
from accounts.roles import OrganisationKind
from billing.lifecycle import StatementStatus
from billing.models import BillingArrangement, SettlementStatement
from billing.pages.assurance import csv_response, pdf_response
from billing.settlement import statement_lines
from wholesale.portal.views import isp_portal_required
from wholesale.selectors import isp_scope

PAGE_SIZE = 50


def statements_for(user) -> QuerySet[SettlementStatement]:
    """The issued statements the user may see: their ISP's, or every ISP's for owner staff."""
    statements = SettlementStatement.objects.filter(status=StatementStatus.ISSUED).select_related(
        "isp", "provider", "invoice"
    )
    isp_id = isp_scope(user)
    return statements if isp_id is None else statements.filter(isp_id=isp_id)


class StatementFilterForm(forms.Form):
    year = forms.IntegerField(min_value=2000, max_value=2999, required=False)
    isp = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(kind=OrganisationKind.ISP).order_by("name"),
        required=False,
        empty_label="every ISP",
    )


@require_GET
@isp_portal_required
def statement_list(request):
    """The ISP's monthly statements, newest first, with their downloads."""
    staff = isp_scope(request.user) is None
    form = StatementFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    statements = statements_for(request.user).order_by("-month", "isp__name", "id")
    if data.get("year"):
        statements = statements.filter(month__year=data["year"])
    if staff and data.get("isp"):
        statements = statements.filter(isp=data["isp"])
    page = Paginator(statements, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "billing/isp_statement_list.html",
        {"form": form, "page": page, "page_query": query.urlencode(), "staff": staff},
    )


@require_GET
@isp_portal_required
def statement_detail(request, pk: int):
    """One statement with its lines (a service's days, one-time fees, promotions)."""
    statement = get_object_or_404(statements_for(request.user), pk=pk)
    arrangement = BillingArrangement.objects.filter(isp_id=statement.isp_id).first()
    page = Paginator(statement_lines(statement), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/isp_statement_detail.html",
        {
            "statement": statement,
            "page": page,
            "page_query": "",
            "staff": isp_scope(request.user) is None,
            "full_hours": arrangement.full_day_min_hours if arrangement else "",
            "half_hours": arrangement.half_day_min_hours if arrangement else "",
        },
    )


@require_GET
@isp_portal_required
def statement_csv(request, pk: int):
    return csv_response(get_object_or_404(statements_for(request.user), pk=pk))


@require_GET
@isp_portal_required
def statement_pdf(request, pk: int):
    return pdf_response(get_object_or_404(statements_for(request.user), pk=pk))
