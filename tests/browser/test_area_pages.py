"""The area list and an area's page in a real headless Chromium with no internet."""

import re
from pathlib import Path

import pytest

from areas.lifecycle import AreaPhase
from areas.models import Area, AreaPhaseChange
from tests.areas.town import build_town

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture
def town(planner):
    return build_town()


@pytest.fixture
def sign_in(page):
    """Sign a user in through the site's own login page (planners are not admin staff)."""

    def sign_in(username: str, password: str):
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    return sign_in


def codes_on(page) -> list[str]:
    return page.eval_on_selector_all(
        "#area-table tbody tr[data-code]", "rows => rows.map(row => row.dataset.code)"
    )


def test_a_planner_sorts_filters_opens_an_area_and_moves_it_into_deployment(sign_in, town, planner):
    ARTIFACTS.mkdir(exist_ok=True)
    page = sign_in("planner", "x-pass-123")

    # the list, sorted by take rate: the largest first
    page.goto("/areas/")
    assert codes_on(page) == ["13347", "13349", "13351", "13353", "13405"]
    page.click("#area-table th[data-sort=take_rate] a")
    page.wait_for_url(re.compile(r"sort=-take_rate"))
    assert codes_on(page) == ["13353", "13349", "13405", "13351", "13347"]
    assert page.get_attribute("#area-table th[data-sort=take_rate]", "aria-sort") == "descending"

    # ticking a phase filters at once and keeps the sort
    page.click("label.phase-chip.phase-demand_aggregation")
    page.wait_for_url(re.compile(r"phase=demand_aggregation"))
    assert "sort=-take_rate" in page.url
    assert codes_on(page) == ["13349", "13351"]
    assert page.text_content("[data-total=homes]").strip() == "13"
    assert page.is_checked("label.phase-chip.phase-demand_aggregation input")
    page.screenshot(path=str(ARTIFACTS / "area-list.png"), full_page=True)

    # a click on the row opens the area
    page.click("#area-table tbody tr[data-code='13349'] td.name")
    area = town["13349"]
    page.wait_for_url(f"**/areas/{area.pk}/")
    assert page.text_content("h1 .area-code") == "13349"

    # its map draws the boundary with our own Leaflet, and its chart draws on a canvas
    page.wait_for_selector("#area-map .leaflet-overlay-pane path")
    assert page.locator("#area-map.leaflet-container").count() == 1
    assert page.locator("#area-map .leaflet-overlay-pane path").count() >= 1
    assert page.is_visible("#demand-chart")
    assert page.is_visible("#take-rate-chart")
    assert page.evaluate("() => !!document.getElementById('demand-chart').chart") is True
    assert page.evaluate(
        "() => document.getElementById('demand-chart').chart.data.datasets.map(d => d.label)"
    ) == ["Orders", "Interests"]
    assert (
        page.evaluate(
            "() => document.getElementById('demand-chart').chart.data.datasets[0].data.at(-1)"
        )
        == 4
    )
    box = page.locator("#demand-chart").bounding_box()
    assert box["width"] > 300 and box["height"] > 150

    # move it into deployment: the page asks first, then the phase has moved
    page.fill("#phase-form input[name=reason]", "target reached")
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click("#phase-form button[data-phase-to=in_deployment]")
    page.wait_for_selector(".message.success")
    assert dialogs == ["Move 13349 into in deployment? This cannot be undone."]
    assert page.text_content(".message.success").strip() == "13349 is now in phase in deployment."
    assert page.get_attribute("h1 [data-phase]", "data-phase") == "in_deployment"
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.IN_DEPLOYMENT
    change = AreaPhaseChange.objects.filter(area=area).latest("changed_at", "id")
    assert (change.to_phase, change.actor_id, change.reason) == (
        AreaPhase.IN_DEPLOYMENT,
        planner.pk,
        "target reached",
    )
    page.wait_for_selector("#area-map[data-ready=true]")
    page.screenshot(path=str(ARTIFACTS / "area-page.png"), full_page=True)

    assert page.js_errors == []
    assert page.outside_requests == []


def test_declining_the_confirmation_changes_nothing(sign_in, town):
    page = sign_in("planner", "x-pass-123")
    area = town["13349"]
    page.goto(f"/areas/{area.pk}/")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#phase-form button[data-phase-to=in_deployment]")
    page.wait_for_timeout(300)

    assert page.url.endswith(f"/areas/{area.pk}/")
    assert Area.objects.get(pk=area.pk).phase == AreaPhase.DEMAND_AGGREGATION
    assert page.js_errors == []


def test_deleting_an_area_in_planning_from_its_page_asks_first(sign_in, town):
    page = sign_in("planner", "x-pass-123")
    area = town["13347"]
    page.goto(f"/areas/{area.pk}/")
    posts = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    questions = []

    # declined: nothing is sent (the form's submit is stopped in the same task as the click)
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("#delete-form button[data-action=delete]")
    page.wait_for_function("() => document.readyState === 'complete'")
    assert posts == []
    assert Area.objects.get(pk=area.pk).deleted_at is None

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-form button[data-action=delete]")
    page.wait_for_selector(".message.success")
    assert questions == [
        "Delete area 13347? It goes off the map and the lists (kept in history), its addresses"
        " go to the area around them, and its code stays taken."
    ]
    assert page.url.endswith("/areas/")
    assert page.text_content(".message.success").strip() == (
        "Area 13347 was deleted; its page stays as history."
    )
    assert "13347" not in codes_on(page)
    assert Area.objects.get(pk=area.pk).deleted_at is not None
    assert page.js_errors == []
