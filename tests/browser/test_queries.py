"""The saved-query builder in a real headless Chromium, with no internet: build a query with a
nested group and a drawn area, run it, see the table and the map, save, star and export."""

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from common.models import SavedQuery, SavedQueryFavourite
from tests.common.queries_town import build_town

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture
def town(owner, planner):
    return build_town(owner)


@pytest.fixture
def sign_in(page):
    """Sign a user in through the site's own login page (/accounts/login/)."""

    def sign_in_as(username: str, password: str):
        page.goto("/accounts/login/?next=/queries/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/queries/")
        return page

    return sign_in_as


def wait_for_run(page, previous: str = "") -> str:
    """Wait until the builder has shown a new result; returns its run number."""
    page.wait_for_function(
        "previous => document.body.dataset.ran && document.body.dataset.ran !== previous",
        arg=previous,
    )
    return page.evaluate("document.body.dataset.ran")


def drag_rectangle(page, condition, south_west, north_east):
    """Draw a rectangle on a condition's drawing map, between two (lon, lat) corners."""
    condition.locator(".leaflet-draw-draw-rectangle").click()
    corners = page.evaluate(
        """([element, sw, ne]) => {
            const map = element.leafletMap;
            const box = element.getBoundingClientRect();
            const at = ([lon, lat]) => {
                const p = map.latLngToContainerPoint([lat, lon]);
                return [box.left + p.x, box.top + p.y];
            };
            return [at(sw), at(ne)];
        }""",
        [condition.locator(".q-draw-map").element_handle(), south_west, north_east],
    )
    (x1, y1), (x2, y2) = corners
    page.mouse.move(x1, y1)
    page.mouse.down()
    page.mouse.move((x1 + x2) / 2, (y1 + y2) / 2, steps=4)
    page.mouse.move(x2, y2, steps=4)
    page.mouse.up()


def test_build_a_nested_query_run_save_star_and_export(page, sign_in, town, planner):
    sign_in("planner", "x-pass-123")
    assert page.locator("#mine").text_content().count("You have not saved a query yet") == 1
    page.click('.q-new a:text-is("Addresses")')
    page.wait_for_url("**/queries/new/?source=addresses")
    ran = wait_for_run(page)
    assert page.text_content("#q-count") == "5 rows"

    # status is planned …
    page.click(".q-root > .q-group-foot .q-add-condition")
    status = page.locator(".q-root > .q-group-body > .q-condition").nth(0)
    status.locator(".q-field").select_option("status")
    status.locator(".q-operator").select_option("in")
    assert status.locator("input[value=planned]").is_checked()  # "is planned" carried over
    # … and (the area's take rate is at least 40 % or it lies inside the drawn area)
    page.click(".q-root > .q-group-foot .q-add-group")
    group = page.locator(".q-root .q-group").nth(0)
    assert group.locator(".q-group-op").input_value() == "or"
    take_rate = group.locator(".q-condition").nth(0)
    take_rate.locator(".q-field").select_option("area_take_rate")
    take_rate.locator(".q-operator").select_option("gte")
    take_rate.locator("input").fill("40")
    group.locator(".q-add-condition").click()
    inside = group.locator(".q-condition").nth(1)
    inside.locator(".q-field").select_option("location")
    inside.locator(".q-draw-toggle").click()
    page.wait_for_selector(".q-draw-map .q-context-label")
    page.wait_for_timeout(600)  # the map zooms to the areas
    drag_rectangle(page, inside, (13.33003, 52.55003), (13.33097, 52.55097))  # west
    assert inside.locator(".q-geo-note").text_content() == "1 area drawn"

    page.click("#q-run")
    ran = wait_for_run(page, ran)
    assert page.text_content("#q-count") == "2 rows"
    rows = page.locator("#q-table tbody tr")
    assert [rows.nth(i).locator("td").first.text_content() for i in range(2)] == [
        "Müllerstraße 2, 13353 Berlin",
        "Seestraße 7, 13353 Berlin",
    ]
    assert page.text_content("#q-map-note") == "2 on the map."
    assert page.locator("#q-map canvas").count() >= 1
    assert (
        page.evaluate(
            "() => { let n = 0; document.getElementById('q-map').leafletMap.eachLayer("
            "l => { if (l instanceof L.CircleMarker) n++; }); return n; }"
        )
        == 2
    )

    # sort by homes, biggest first
    page.click("#q-table thead button:has-text('homes')")
    ran = wait_for_run(page, ran)
    page.click("#q-table thead button:has-text('homes')")
    ran = wait_for_run(page, ran)
    assert page.locator("#q-table tbody tr").first.locator("td").first.text_content() == (
        "Müllerstraße 2, 13353 Berlin"
    )

    # save it
    page.click("#q-save")
    page.fill("#q-save-name", "Planned near demand")
    page.fill("#q-save-description", "Where to knock on doors next")
    page.click("#q-save-confirm")
    page.wait_for_url(re.compile(r".*/queries/\d+/$"))
    wait_for_run(page)
    saved = SavedQuery.objects.get()
    assert (saved.owner, saved.name, saved.source) == (planner, "Planned near demand", "addresses")
    where = saved.definition["where"]
    assert where["conditions"][0] == {
        "field": "status",
        "operator": "in",
        "value": ["planned"],
    }
    nested = where["conditions"][1]
    assert nested["op"] == "or"
    assert nested["conditions"][0] == {
        "field": "area_take_rate",
        "operator": "gte",
        "value": 0.4,
    }
    assert nested["conditions"][1]["operator"] == "within"
    assert nested["conditions"][1]["value"]["type"] == "Polygon"
    assert saved.definition["order_by"] == ["-units"]
    assert page.text_content("#q-name") == "Planned near demand"
    assert page.text_content("#q-count") == "2 rows"

    # star it
    page.click("#q-star")
    page.wait_for_selector("#q-star.on")
    assert SavedQueryFavourite.objects.filter(saved_query=saved, user=planner).exists()

    # export what the table shows
    with page.expect_download() as download_info:
        page.click("#q-export-xlsx")
    download = download_info.value
    assert re.fullmatch(r"planned-near-demand-\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename)
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["address", "postcode", "premises", "homes", "status", "area"],
        [
            "Müllerstraße 2, 13353 Berlin",
            "13353",
            "flat in a multi-dwelling unit",
            6,
            "planned",
            "west",
        ],
        ["Seestraße 7, 13353 Berlin", "13353", "business", 1, "planned", "east"],
    ]

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "queries-builder.png"), full_page=True)

    page.goto("/queries/")
    assert "Planned near demand" in page.text_content("#favourites")
    assert page.js_errors == []
    assert page.outside_requests == []


def test_a_mistake_is_shown_at_the_condition_and_nothing_runs(page, sign_in, town):
    sign_in("planner", "x-pass-123")
    page.goto("/queries/new/?source=orders")
    ran = wait_for_run(page)
    page.click(".q-root > .q-group-foot .q-add-condition")
    condition = page.locator(".q-condition").nth(0)
    condition.locator(".q-field").select_option("placed_at")
    condition.locator(".q-operator").select_option("between")
    condition.locator("input").nth(0).fill("2026-01-01")
    page.click("#q-run")
    page.wait_for_selector(".q-condition.q-invalid")
    assert page.text_content("#q-error") == "placed needs a value"
    assert condition.locator(".q-condition-error").text_content() == "placed needs a value"
    assert page.evaluate("document.body.dataset.ran") == ran
    assert page.js_errors == []


def test_a_colleague_opens_a_shared_link_runs_it_and_saves_a_copy(page, sign_in, town, planner):
    from accounts.roles import Role
    from accounts.services import user_create
    from common.queries.services import saved_query_create, saved_query_share_link

    user_create(
        username="carla",
        organisation=town.owner,
        role=Role.PLANNER,
        password="x-pass-123",
        first_name="Carla",
    )
    saved = saved_query_create(
        owner=planner,
        name="East orders",
        definition={
            "source": "orders",
            "where": {
                "op": "and",
                "conditions": [{"field": "area", "operator": "eq", "value": town.east.pk}],
            },
        },
    )
    saved = saved_query_share_link(saved_query=saved, actor=planner, enabled=True)
    sign_in("carla", "x-pass-123")
    page.goto(f"/queries/shared/{saved.share_token}/")
    wait_for_run(page)
    assert page.text_content("#q-count") == "2 rows"
    assert page.is_hidden("#q-share") and page.is_hidden("#q-delete")
    assert page.text_content("#q-save") == "Save a copy"
    page.click("#q-star")
    page.wait_for_selector("#q-star.on")
    page.click("#q-save")
    assert page.input_value("#q-save-name") == "East orders (copy)"
    page.click("#q-save-confirm")
    page.wait_for_url(re.compile(r".*/queries/\d+/$"))
    copy = SavedQuery.objects.exclude(pk=saved.pk).get()
    assert (copy.owner.username, copy.name) == ("carla", "East orders (copy)")
    assert page.js_errors == []
    assert page.outside_requests == []
