"""The ISP's view of its settlement statements: its own issued statements only, in the portal
(list, detail, CSV, PDF) and the ISP API (token scope `read`, pages, CSV); another ISP's
statement is a 404; the owner's staff see every ISP's, read-only."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.services import user_create
from billing.models import SettlementStatement
from billing.settlement import statements_generate
from tests.billing.test_assurance_support import at, live_service
from wholesale.onboarding import isp_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def statements(town, billing):
    """April 2024 issued for both ISPs, May 2024 issued too; a draft of this month."""
    mine = live_service(town, 0, isp=0, when=at(2024, 3, 1, 9))
    theirs = live_service(town, 1, isp=1, when=at(2024, 3, 1, 9))
    statements_generate(month=dt.date(2024, 4, 1))
    statements_generate(month=dt.date(2024, 5, 1))
    return {
        "mine": SettlementStatement.objects.get(isp=town.isps[0], month="2024-04-01"),
        "theirs": SettlementStatement.objects.get(isp=town.isps[1], month="2024-04-01"),
        "my_service": mine,
        "their_service": theirs,
    }


@pytest.fixture
def isp_client(town):
    user = user_create(username="spree-ops", organisation=town.isps[0], role=Role.ISP_USER)
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def token_client(town):
    user = user_create(username="spree-crm", organisation=town.isps[0], role=Role.ISP_USER)
    _, secret = isp_token_create(user=user, name="CRM", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_the_portal_lists_the_isps_own_statements_only(statements, isp_client):
    html = isp_client.get("/isp/statements/").content.decode()

    assert html.count("data-statement=") == 2  # April and May, its own
    assert f'data-statement="{statements["mine"].pk}"' in html
    assert f'data-statement="{statements["theirs"].pk}"' not in html
    assert 'href="/isp/statements/"' in html  # the portal's nav links here


def test_the_portal_shows_its_statement_and_downloads(statements, isp_client):
    mine, service = statements["mine"], statements["my_service"]

    detail = isp_client.get(f"/isp/statements/{mine.pk}/")
    csv = isp_client.get(f"/isp/statements/{mine.pk}.csv")
    pdf = isp_client.get(f"/isp/statements/{mine.pk}.pdf")

    assert detail.status_code == 200 and service.reference in detail.content.decode()
    assert csv.status_code == 200 and service.reference in csv.content.decode()
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_another_isps_statement_is_not_found_in_the_portal(statements, isp_client):
    theirs = statements["theirs"].pk

    for url in (f"/isp/statements/{theirs}/", f"/isp/statements/{theirs}.csv"):
        assert isp_client.get(url).status_code == 404
    assert isp_client.get(f"/isp/statements/{theirs}.pdf").status_code == 404


def test_a_draft_is_not_shown_to_the_isp(town, billing, isp_client):
    live_service(town, 0, isp=0, when=at(2024, 3, 1, 9))
    statements_generate(month=dt.date(2024, 4, 1), issue=False)
    draft = SettlementStatement.objects.get()

    assert isp_client.get(f"/isp/statements/{draft.pk}/").status_code == 404
    assert "data-statement=" not in isp_client.get("/isp/statements/").content.decode()


def test_owner_staff_see_every_isps_statements(statements, planner):
    client = APIClient()
    client.force_login(planner)

    html = client.get("/isp/statements/").content.decode()

    assert html.count("data-statement=") == 4
    assert client.get(f"/isp/statements/{statements['theirs'].pk}/").status_code == 200


def test_the_api_lists_the_isps_own_statements_with_a_read_token(
    statements, token_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        body = token_client.get("/api/isp/statements/", {"limit": 1}).json()

    assert body["count"] == 2 and len(body["results"]) == 1
    row = body["results"][0]
    assert row["month"] == "2024-05-01" and row["isp"]["name"] == "Spree Net"
    assert row["invoice_number"].startswith("WFN-")


def test_the_api_shows_one_statement_its_lines_and_csv(statements, token_client):
    mine, service = statements["mine"], statements["my_service"]

    detail = token_client.get(f"/api/isp/statements/{mine.pk}/").json()
    csv = token_client.get(f"/api/isp/statements/{mine.pk}/csv/")

    assert [line["service"] for line in detail["lines"]] == [service.reference]
    assert detail["lines"][0]["full_days"] == 30
    assert csv["Content-Type"].startswith("text/csv") and service.reference in csv.content.decode()


def test_another_isps_statement_is_not_found_in_the_api(statements, token_client):
    theirs = statements["theirs"].pk

    assert token_client.get(f"/api/isp/statements/{theirs}/").status_code == 404
    assert token_client.get(f"/api/isp/statements/{theirs}/csv/").status_code == 404


def test_a_token_without_the_read_scope_is_refused(town, statements):
    user = user_create(username="spree-bot", organisation=town.isps[0], role=Role.ISP_USER)
    _, secret = isp_token_create(user=user, name="bot", scopes=["orders"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert client.get("/api/isp/statements/").status_code == 403


def test_finance_pages_are_forbidden_to_isp_users(statements, isp_client):
    assert isp_client.get(f"/billing/settlement/{statements['mine'].pk}/").status_code == 403
    assert isp_client.get("/api/billing/statements/").status_code == 403
