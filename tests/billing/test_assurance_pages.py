"""The finance pages and API of revenue assurance, overrides and settlement: what they show,
their forms and actions, clear 400s, and that only finance may use them (an ISP user and a
planner get 403)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import user_create
from billing.assurance import exceptions_detect
from billing.lifecycle import ExceptionStatus, OverrideStatus, StatementStatus
from billing.models import BillingException, PriceOverride, SettlementStatement
from billing.settlement import statements_generate
from tests.billing.test_assurance_support import at, live_service, subscription_for

pytestmark = pytest.mark.django_db

FINANCE_PAGES = [
    "/billing/exceptions/",
    "/billing/overrides/",
    "/billing/settlement/",
]
FINANCE_API = [
    ("get", "/api/billing/exceptions/"),
    ("post", "/api/billing/exceptions/1/resolve/"),
    ("get", "/api/billing/overrides/"),
    ("post", "/api/billing/overrides/"),
    ("post", "/api/billing/overrides/1/approve/"),
    ("post", "/api/billing/overrides/1/reject/"),
    ("get", "/api/billing/statements/"),
    ("post", "/api/billing/statements/generate/"),
]


@pytest.fixture
def approver(owner):
    return user_create(
        username="controller", organisation=owner, role=Role.OPERATOR_ADMIN, password="x-pass-123"
    )


@pytest.fixture
def isp_user(town):
    return user_create(username="isp-ops", organisation=town.isps[0], role=Role.ISP_USER)


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def found(town, billing):
    """One free rider and one subscription off the catalog, detected."""
    rider = live_service(town, 0, isp=1, when=at(2024, 5, 1, 8))
    priced = live_service(town, 1, isp=1, when=at(2024, 5, 1, 8))
    subscription = subscription_for(priced, billing, monthly_price=Decimal("40.00"))
    exceptions_detect(on=dt.date(2024, 5, 10), now=at(2024, 5, 10, 12))
    return {"rider": rider, "subscription": subscription}


# --- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["isp_user", "planner"])
def test_only_finance_opens_the_pages_and_the_api(request, billing, who):
    client = client_of(request.getfixturevalue(who))

    for url in [*FINANCE_PAGES, "/billing/subscriptions/1/override/", "/billing/settlement/1/"]:
        assert client.get(url).status_code == 403, url
    for method, url in FINANCE_API:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 403, (method, url)


def test_anonymous_users_are_sent_to_sign_in(client, billing):
    response = client.get("/billing/exceptions/")

    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- exceptions -----------------------------------------------------------------------------------


def test_the_exception_page_counts_by_kind_filters_and_resolves(found, finance):
    client = client_of(finance)

    page = client.get("/billing/exceptions/")
    html = page.content.decode()

    assert page.status_code == 200
    assert 'data-kind="free_rider"' in html and found["rider"].reference in html
    assert 'class="card exception-card red"' in html
    filtered = client.get("/billing/exceptions/", {"kind": "pricing_policy"}).content.decode()
    assert found["rider"].reference not in filtered
    assert "against the catalog price" in filtered

    exception = BillingException.objects.get(kind="free_rider")
    response = client.post(
        f"/billing/exceptions/{exception.pk}/resolve/", {"resolution": "subscription made"}
    )

    exception.refresh_from_db()
    assert response.status_code == 302
    assert exception.status == ExceptionStatus.RESOLVED
    assert exception.resolved_by == finance


def test_resolving_without_a_note_says_so(found, finance):
    client = client_of(finance)
    exception = BillingException.objects.get(kind="free_rider")

    response = client.post(f"/billing/exceptions/{exception.pk}/resolve/", {}, follow=True)

    assert "Say how the exception was resolved" in response.content.decode()
    exception.refresh_from_db()
    assert exception.status == ExceptionStatus.OPEN


def test_the_exception_api_lists_filters_and_resolves(
    found, finance, django_assert_max_num_queries
):
    api = client_of(finance)

    with django_assert_max_num_queries(6):
        rows = api.get("/api/billing/exceptions/", {"severity": "red"}).json()["results"]

    assert [row["kind"] for row in rows] == ["free_rider"]
    bad = api.get("/api/billing/exceptions/", {"kind": "nonsense"})
    assert bad.status_code == 400 and "kind must be one of" in bad.json()["detail"]

    missing = api.post(f"/api/billing/exceptions/{rows[0]['id']}/resolve/", {}, format="json")
    assert missing.status_code == 400 and missing.json()["field"] == "resolution"
    done = api.post(
        f"/api/billing/exceptions/{rows[0]['id']}/resolve/", {"resolution": "ok"}, format="json"
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    again = api.post(
        f"/api/billing/exceptions/{rows[0]['id']}/resolve/", {"resolution": "ok"}, format="json"
    )
    assert again.status_code == 409


# --- overrides ------------------------------------------------------------------------------------


def test_the_override_form_applies_within_the_limit_and_shows_refusals(found, finance):
    client = client_of(finance)
    subscription = found["subscription"]
    url = f"/billing/subscriptions/{subscription.pk}/override/"

    assert client.get(url).status_code == 200
    refused = client.post(url, {"field": "price", "new_value": "45.00", "reason_code": ""})
    assert refused.status_code == 400
    assert "needs a reason code" in refused.content.decode()
    assert not PriceOverride.objects.exists()

    response = client.post(
        url, {"field": "price", "new_value": "45.00", "reason_code": "retention", "note": "x"}
    )

    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.monthly_price == Decimal("45.00")
    assert PriceOverride.objects.get().status == OverrideStatus.APPLIED


def test_the_override_page_lists_pending_and_an_approver_approves(found, finance, approver):
    subscription = found["subscription"]
    client_of(finance).post(
        f"/billing/subscriptions/{subscription.pk}/override/",
        {"field": "discount", "new_value": "20.00", "reason_code": "goodwill"},
    )
    override = PriceOverride.objects.get()
    assert override.status == OverrideStatus.PENDING

    own = client_of(finance).get("/billing/overrides/").content.decode()
    assert "another approver decides" in own
    # finance alone may not approve
    client_of(finance).post(f"/billing/overrides/{override.pk}/approve/")
    override.refresh_from_db()
    assert override.status == OverrideStatus.PENDING

    response = client_of(approver).post(f"/billing/overrides/{override.pk}/approve/")

    override.refresh_from_db()
    subscription.refresh_from_db()
    assert response.status_code == 302
    assert override.status == OverrideStatus.APPLIED and override.approved_by == approver
    assert subscription.discount == Decimal("20.00")


def test_the_override_api_creates_approves_and_rejects(found, finance, approver):
    subscription = found["subscription"]
    api = client_of(finance)

    missing = api.post(
        "/api/billing/overrides/",
        {"subscription": subscription.pk, "field": "price", "new_value": "20.00"},
        format="json",
    )
    assert missing.status_code == 400 and missing.json()["field"] == "reason_code"
    unknown = api.post(
        "/api/billing/overrides/",
        {"subscription": 0, "field": "price", "new_value": "20", "reason_code": "goodwill"},
        format="json",
    )
    assert unknown.status_code == 404

    created = api.post(
        "/api/billing/overrides/",
        {
            "subscription": subscription.pk,
            "field": "price",
            "new_value": "20.00",
            "reason_code": "social_tariff",
        },
        format="json",
    )
    assert created.status_code == 201 and created.json()["status"] == "pending"
    override_id = created.json()["id"]
    own = api.post(f"/api/billing/overrides/{override_id}/approve/", format="json")
    assert own.status_code == 403

    rejected = client_of(approver).post(f"/api/billing/overrides/{override_id}/reject/")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["approved_by"] == "controller"
    listed = api.get("/api/billing/overrides/", {"status": "rejected"}).json()["results"]
    assert [row["id"] for row in listed] == [override_id]


# --- settlement -----------------------------------------------------------------------------------


def test_the_settlement_page_generates_lists_and_downloads(town, billing, finance):
    service = live_service(town, 0, isp=1, when=at(2024, 3, 1, 9))
    client = client_of(finance)

    response = client.post("/billing/settlement/generate/", {"month": "2024-04"})

    assert response.status_code == 302
    statement = SettlementStatement.objects.get()
    assert statement.status == StatementStatus.ISSUED
    html = client.get("/billing/settlement/", {"month": "2024-04"}).content.decode()
    assert f'data-statement="{statement.pk}"' in html and "kpi-ok" in html
    detail = client.get(f"/billing/settlement/{statement.pk}/").content.decode()
    assert service.reference in detail
    csv = client.get(f"/billing/settlement/{statement.pk}.csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert service.reference in csv.content.decode()
    pdf = client.get(f"/billing/settlement/{statement.pk}.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    bad = client.post("/billing/settlement/generate/", {"month": "April"}, follow=True)
    assert "Give the month to settle as YYYY-MM" in bad.content.decode()


def test_the_variance_is_coloured(town, billing, finance):
    live_service(town, 0, isp=1, when=at(2024, 3, 1, 9))
    statements_generate(month=dt.date(2024, 4, 1))
    SettlementStatement.objects.update(expected_total=Decimal("40.00"))

    html = client_of(finance).get("/billing/settlement/").content.decode()

    assert "kpi-bad" in html


def test_the_statement_api_generates_and_lists(town, billing, finance):
    live_service(town, 0, isp=1, when=at(2024, 3, 1, 9))
    api = client_of(finance)

    bad = api.post("/api/billing/statements/generate/", {"month": "soon"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "month"
    future = api.post("/api/billing/statements/generate/", {"month": "2999-01"}, format="json")
    assert future.status_code == 400 and "has not begun" in future.json()["detail"]

    done = api.post("/api/billing/statements/generate/", {"month": "2024-04"}, format="json")
    assert done.json() == {"statements": 1, "issued": 1, "lines": 1, "unchanged": 0}

    rows = api.get("/api/billing/statements/", {"month": "2024-04"}).json()["results"]
    assert len(rows) == 1
    assert rows[0]["actual_total"] == rows[0]["expected_total"] == "18.00"
    assert rows[0]["variance"] == "0.00" and rows[0]["status"] == "issued"
