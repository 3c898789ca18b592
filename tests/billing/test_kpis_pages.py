"""The finance overview, the KPI dashboard, the drill-down pages and the KPI API: the same
figures on the page and from the API, bad months refused with a message, and only finance
staff let in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from accounts.services import user_create
from billing import kpis
from tests.billing.test_kpis_figures import _statement, at, invoice, order, pay
from tests.billing.test_kpis_figures import charge as fee

pytestmark = pytest.mark.django_db
MONTH = "2025-08"


@pytest.fixture
def history(town, billing):
    """August 2025: two statements (variance 0.4 %), revenue with an open balance, an order
    outside every area."""
    _statement(billing, town.isps[0], dt.date(2025, 8, 1), "1000.00", "1003.00")
    _statement(billing, town.isps[1], dt.date(2025, 8, 1), "1000.00", "995.00")
    first = invoice(billing, dt.date(2025, 8, 4), [fee("300.00")])
    pay(first, "100.00", at(2025, 8, 10))
    order(town, placed_at=at(2025, 8, 5), phase=None)
    order(town, placed_at=at(2025, 8, 6))
    return first


@pytest.fixture
def signed_in(client, finance):
    client.force_login(finance)
    return client


def test_the_api_gives_the_figures_of_the_page(signed_in, history):
    page = signed_in.get(f"/billing/kpis/?month={MONTH}")
    api = signed_in.get(f"/api/billing/kpis/?month={MONTH}")
    assert page.status_code == 200 and api.status_code == 200
    data = api.json()
    assert data["month"] == MONTH and len(data["kpis"]) == len(kpis.KPIS)
    figures = {figure.key: figure for figure in page.context["figures"]}
    for item in data["kpis"]:
        figure = figures[item["key"]]
        assert item["status"] == figure.status
        assert (Decimal(item["value"]) if item["value"] else None) == (
            None if figure.value is None else figure.value.quantize(Decimal("0.0001"))
        )
        assert len(item["trend"]) == 12 and item["trend"][-1]["month"] == MONTH
        assert item["page_url"] == f"/billing/kpis/{item['key']}/?month={MONTH}"
    settlement = next(k for k in data["kpis"] if k["key"] == "settlement-variance")
    assert (settlement["value"], settlement["status"]) == ("0.4000", "ok")
    assert (settlement["numerator"], settlement["denominator"]) == ("8.00", "2000.00")
    quality = next(k for k in data["kpis"] if k["key"] == "data-quality-failures")
    assert (quality["value"], quality["status"]) == ("50.0000", "bad")
    html = page.content.decode()
    assert 'data-kpi="settlement-variance" data-status="ok"' in html
    assert "0.40 %" in html and 'id="chart-settlement-variance"' in html
    assert "/billing/kpis/settlement-variance/?month=2025-08" in html


def test_the_drill_down_lists_the_rows_behind_page_and_api(signed_in, history):
    page = signed_in.get(f"/billing/kpis/data-quality-failures/?month={MONTH}")
    assert page.status_code == 200
    assert [row[-1] for row in page.context["rows"]] == [kpis.REASONS["address"]]
    api = signed_in.get(f"/api/billing/kpis/data-quality-failures/rows/?month={MONTH}").json()
    assert api["count"] == 1 and api["results"][0]["reason"] == kpis.REASONS["address"]
    dso = signed_in.get(f"/api/billing/kpis/dso/rows/?month={MONTH}").json()
    assert dso["results"] == [
        {"invoice": history.number, "issued": "2025-08-04", "total": "300.00",
         "balance": "200.00", "disputed": False}
    ]  # fmt: skip


def test_the_overview_shows_cards_money_and_exceptions(signed_in, history):
    response = signed_in.get("/billing/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<a class="kpi-card ') == len(kpis.KPIS)
    assert 'data-figure="invoiced"' in html and "0 red" in html
    assert "/billing/invoices/" in html and "/billing/settlement/" in html


@pytest.mark.parametrize("month", ["2025-13", "soon", "2999-01"])
def test_a_bad_month_is_refused_with_a_message(signed_in, month):
    page = signed_in.get(f"/billing/kpis/?month={month}")
    assert page.status_code == 400
    assert "month" in page.content.decode().lower() or "begun" in page.content.decode()
    api = signed_in.get(f"/api/billing/kpis/?month={month}")
    assert api.status_code == 400 and api.json()["field"] == "month"
    rows = signed_in.get(f"/api/billing/kpis/dso/rows/?month={month}")
    assert rows.status_code == 400


def test_unknown_kpis_and_bad_paging_are_refused(signed_in):
    assert signed_in.get("/billing/kpis/nonsense/").status_code == 404
    assert signed_in.get("/api/billing/kpis/nonsense/rows/").status_code == 404
    assert signed_in.get("/api/billing/kpis/dso/rows/?limit=9999").status_code == 400
    assert signed_in.get("/billing/kpis/dso/?page=x").status_code == 400


@pytest.mark.parametrize(
    "path",
    ["/billing/", "/billing/kpis/", "/billing/kpis/dso/", "/api/billing/kpis/",
     "/api/billing/kpis/dso/rows/"],
)  # fmt: skip
def test_only_finance_staff_get_in(client, town, planner, path):
    isp_user = user_create(username="isp-1", organisation=town.isps[0], role=Role.ISP_USER)
    for user in (planner, isp_user):
        client.force_login(user)
        assert client.get(path).status_code == 403
    client.logout()
    response = client.get(path)
    if path.startswith("/api/"):
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 302 and "login" in response["Location"]


def test_the_api_reads_in_one_statement_per_group(
    signed_in, history, django_assert_max_num_queries
):
    with django_assert_max_num_queries(len(kpis.QUERIES) + 6):
        assert signed_in.get(f"/api/billing/kpis/?month={MONTH}").status_code == 200
