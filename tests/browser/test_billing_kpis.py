"""The board KPIs page in a real Chromium: finance signs in, every KPI's trend chart is drawn
by Chart.js on its canvas, nothing fails in the console and nothing leaves the machine."""

import pytest

from accounts.roles import OrganisationKind, Role
from accounts.services import organisation_create, user_create

pytestmark = pytest.mark.django_db(transaction=True)


def test_finance_sees_the_kpi_charts(page):
    owner = organisation_create(name="Wedding Fibre Netz", kind=OrganisationKind.OWNER)
    user_create(username="finance", organisation=owner, role=Role.FINANCE,
                password="finance-pass-123")  # fmt: skip
    console_errors = []
    # (the browser's own favicon request is no response of the page: `missing` covers those)
    page.on(
        "console",
        lambda m: (
            console_errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    missing = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.goto("/billing/kpis/")
    page.wait_for_url("**/accounts/login/?next=/billing/kpis/")
    page.fill("#id_username", "finance")
    page.fill("#id_password", "finance-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/billing/kpis/")
    page.wait_for_selector("canvas[data-chart='dso'][data-ready='true']", state="attached")
    canvases = page.locator("canvas[data-chart]")
    assert canvases.count() == 9
    assert page.locator("canvas[data-ready='true']").count() == 9
    width = page.evaluate("document.querySelector('#chart-settlement-variance').width")
    assert width > 100
    assert page.evaluate("Chart.getChart('chart-dso').data.datasets.length") == 2
    assert page.evaluate("Chart.getChart('chart-settlement-variance').data.datasets.length") == 3
    assert page.js_errors == [] and missing == [] and console_errors == []
    assert page.outside_requests == []
