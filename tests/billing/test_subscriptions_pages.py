"""The finance pages and API of subscriptions and runs: what they show, no N+1, starting
today's run, and the door closed to ISP users and planners."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.roles import Role
from accounts.services import user_create
from billing.lifecycle import RunKind, RunStatus
from billing.models import BillingRun, Subscription
from billing.runs import billing_run_daily
from tests.billing.test_subscriptions_support import activate, at

pytestmark = pytest.mark.django_db

START = at(2026, 3, 14, 9, 30)


@pytest.fixture
def subscription(town, billing):
    return Subscription.objects.get(service=activate(town, START))


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


def _urls(subscription, run):
    return [
        "/billing/subscriptions/",
        f"/billing/subscriptions/{subscription.pk}/",
        "/billing/runs/",
        "/api/billing/subscriptions/",
        f"/api/billing/subscriptions/{subscription.pk}/",
        "/api/billing/runs/",
        f"/api/billing/runs/{run.pk}/",
    ]


def test_finance_sees_subscriptions_and_runs(finance_client, subscription):
    run = billing_run_daily(on=dt.date(2026, 4, 1))
    for url in _urls(subscription, run):
        assert finance_client.get(url).status_code == 200, url
    page = finance_client.get(f"/billing/subscriptions/{subscription.pk}/").content.decode()
    assert "Spree 500" in page and "ISP1-2026-000002" in page
    body = finance_client.get(f"/api/billing/subscriptions/{subscription.pk}/").json()
    assert [len(body["segments"]), len(body["invoices"])] == [1, 2]
    assert body["monthly_price"] == "39.90"
    runs = finance_client.get("/api/billing/runs/").json()["results"]
    assert runs[0]["status"] == RunStatus.DONE
    assert runs[0]["counts"]["steps"]["subscriptions"]["invoices"] == 1


def test_the_lists_filter_and_ask_a_fixed_number_of_queries(
    finance_client, town, billing, django_assert_max_num_queries
):
    for n in range(5):
        activate(town, START, n=n, isp=n % 2)
    blocked = Subscription.objects.order_by("pk").first()
    Subscription.objects.filter(pk=blocked.pk).update(billing_blocked=True)
    with django_assert_max_num_queries(8):
        response = finance_client.get("/billing/subscriptions/")
    assert response.content.decode().count("data-subscription=") == 5
    with django_assert_max_num_queries(6):
        body = finance_client.get("/api/billing/subscriptions/?blocked=true").json()
    assert [row["id"] for row in body["results"]] == [blocked.pk]
    isp = town.isps[1].pk
    body = finance_client.get(f"/api/billing/subscriptions/?isp={isp}&status=active").json()
    assert body["count"] == 2
    page = finance_client.get(f"/billing/subscriptions/?isp={isp}").content.decode()
    assert page.count("data-subscription=") == 2


def test_starting_todays_run_queues_it_once(
    finance_client, subscription, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = finance_client.post("/api/billing/runs/")
    assert response.status_code == 202
    run = BillingRun.objects.get()
    assert (run.kind, run.period) == (RunKind.DAILY, timezone.localdate())
    assert response.json()["id"] == run.pk and len(callbacks) == 1

    billing_run_daily(on=run.period)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = finance_client.post("/billing/runs/start/", follow=True)
    assert callbacks == [] and "done already" in response.content.decode()
    assert BillingRun.objects.count() == 1


@pytest.mark.parametrize("who", ["isp", "planner"])
def test_isp_users_and_planners_are_refused(client, who, town, subscription, planner):
    user = planner
    if who == "isp":
        user = user_create(
            username="isp-user",
            organisation=town.isps[0],
            role=Role.ISP_USER,
            password="isp-pass-123",
        )
    run = billing_run_daily(on=dt.date(2026, 4, 1))
    client.force_login(user)
    for url in _urls(subscription, run):
        assert client.get(url).status_code == 403, url
    assert client.post("/api/billing/runs/").status_code == 403
    assert client.post("/billing/runs/start/").status_code == 403
    assert BillingRun.objects.count() == 1
