"""Finance pages: subscriptions (list and detail) and billing runs (list, start today's)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Organisation
from accounts.permissions import finance_required
from accounts.roles import OrganisationKind
from billing.lifecycle import RunStatus, SubscriptionStatus
from billing.runs import DAILY_STEPS, billing_run_start, runs_list
from billing.subscriptions import subscription_detail, subscriptions_filtered

PAGE_SIZE = 50


def _page(request, queryset):
    paginator = Paginator(queryset, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


@finance_required
def subscription_list(request):
    """Subscriptions, newest first; filter by status, ISP and blocked."""
    status = request.GET.get("status", "")
    isp = request.GET.get("isp", "")
    blocked = request.GET.get("blocked", "")
    if status and status not in SubscriptionStatus.values:
        messages.warning(request, f"{status!r} is not a subscription status; showing all")
    page, query = _page(request, subscriptions_filtered(status=status, isp=isp, blocked=blocked))
    isps = Organisation.objects.filter(kind=OrganisationKind.ISP).order_by("name")
    return render(
        request,
        "billing/subscription_list.html",
        {
            "page": page,
            "page_query": query,
            "isps": isps,
            "statuses": SubscriptionStatus.choices,
            "filters": {"status": status, "isp": isp, "blocked": blocked},
            "is_filtered": bool(status or isp or blocked),
        },
    )


@finance_required
def subscription_view(request, pk: int):
    """One subscription: its plan stretches, invoices, promotion and manual overrides."""
    subscription = get_object_or_404(subscription_detail(), pk=pk)
    return render(request, "billing/subscription_detail.html", {"subscription": subscription})


@finance_required
@require_http_methods(["GET"])
def run_list(request):
    """The billing runs with their counts, duration and status; a button runs today's."""
    page, query = _page(request, runs_list().select_related("triggered_by"))
    order = {label: position for position, (label, _) in enumerate(DAILY_STEPS)}
    for run in page.object_list:  # the steps as they run (counts are stored unordered)
        steps = run.counts.get("steps", {})
        run.steps_in_order = sorted(steps.items(), key=lambda item: order.get(item[0], 99))
    running = next((run for run in page.object_list if run.status == RunStatus.RUNNING), None)
    return render(
        request,
        "billing/run_list.html",
        {"page": page, "page_query": query, "running": running},
    )


@finance_required
@require_POST
def run_start(request):
    """Start today's daily billing run on a worker (nothing if it is done already)."""
    run, started = billing_run_start(actor=request.user)
    if started:
        messages.success(request, f"Today's billing run ({run.period:%d %b %Y}) has started.")
    else:
        messages.info(request, f"Today's billing run ({run.period:%d %b %Y}) is done already.")
    return redirect("billing:runs")


urlpatterns = [
    path("subscriptions/", subscription_list, name="subscriptions"),
    path("subscriptions/<int:pk>/", subscription_view, name="subscription"),
    path("runs/", run_list, name="runs"),
    path("runs/start/", run_start, name="run-start"),
]
