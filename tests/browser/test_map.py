"""The planners' area map (/map/) in a real headless Chromium with no internet.

A small town made here: three areas side by side in Wedding with a grid of addresses and
orders placed through `order_place`; the pages are driven as a planner would (clicks on the
map, drawing a split line with the mouse) and checked against the database.
"""

from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.gis.geos import Polygon
from django.utils import timezone

from accounts.roles import Role
from accounts.services import user_create
from areas.models import Area, AreaSplit
from areas.services import area_create, area_start_demand_aggregation, interest_register
from gis_core.models import Address
from gis_core.services import address_create
from wholesale.services import order_place

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

# West and east areas share a border at 13.336; the south area lies under both.
WEST = (13.330, 52.550, 13.336, 52.554)
EAST = (13.336, 52.550, 13.342, 52.554)
SOUTH = (13.330, 52.546, 13.342, 52.550)
NORTH = (13.330, 52.554, 13.342, 52.558)  # drawn by mistake in the delete tests


def grid(bbox, columns, rows):
    """Points spread evenly inside a bounding box, west to east, south to north."""
    west, south, east, north = bbox
    return [
        (
            west + (east - west) * (column + 0.5) / columns,
            south + (north - south) * (row + 0.5) / rows,
        )
        for row in range(rows)
        for column in range(columns)
    ]


def homes(points, street):
    return [
        address_create(
            location={"type": "Point", "coordinates": [lon, lat]},
            street=street,
            house_number=str(number),
            postcode="13353",
            city="Berlin",
            country="DE",
        )
        for number, (lon, lat) in enumerate(points, start=1)
    ]


@pytest.fixture
def town(planner):
    """West: 24 homes, 6 orders, all in its northern half; east: 12 homes, 1 order and
    3 interests (planning); south: 10 homes, 5 orders (50 % of a 40 % target: ready)."""
    west = area_create(name="Leopoldplatz", code="10001", boundary=Polygon.from_bbox(WEST))
    east = area_create(name="Sprengelkiez", code="10002", boundary=Polygon.from_bbox(EAST))
    south = area_create(name="Brüsseler Kiez", code="10003", boundary=Polygon.from_bbox(SOUTH))
    area_start_demand_aggregation(area=west, actor=planner)
    area_start_demand_aggregation(area=south, actor=planner)
    west_homes = homes(grid(WEST, 4, 6), "Müllerstraße")
    east_homes = homes(grid(EAST, 3, 4), "Sprengelstraße")
    south_homes = homes(grid(SOUTH, 5, 2), "Brüsseler Straße")
    for address in west_homes[-6:]:  # the top row
        order_place(address=address)
    order_place(address=east_homes[0])
    for address in east_homes[4:7]:
        interest_register(address=address)
    for address in south_homes[:5]:
        order_place(address=address)
    return {"west": west, "east": east, "south": south}


@pytest.fixture
def sign_in(page):
    """Sign in through the site's own login form, then open a page."""

    def open_as(username: str, password: str, path: str):
        page.goto(f"/accounts/login/?next={quote(path)}")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-map-ready=true]")
        return page

    return open_as


def as_planner(sign_in, path="/map/"):
    return sign_in("planner", "x-pass-123", path)


def screen_point(page, lon, lat):
    """The page coordinates of a place on the map."""
    return page.evaluate(
        """([lon, lat]) => {
            const map = oanmMap.map;
            const point = map.latLngToContainerPoint([lat, lon]);
            const box = map.getContainer().getBoundingClientRect();
            return [box.left + point.x, box.top + point.y];
        }""",
        [lon, lat],
    )


def wait_for_tiles(page, layer):
    """Wait until a tile layer has drawn every tile of the current view, and no stale one is left.

    Counting drawn paths is not enough: tiles of the zoom just left can satisfy it and be pruned
    under the pointer a moment later.
    """
    page.wait_for_function(
        """(name) => {
            const layer = name === "demand" ? oanmMap.demand.points() : oanmMap[name];
            const tiles = Object.values(layer._tiles);
            return tiles.length > 0 && tiles.every((tile) => tile.current && tile.loaded);
        }""",
        arg=layer,
    )


def draw_line(page, points):
    """Draw a polyline with the mouse (leaflet-draw): click each point, then the last again."""
    for lon, lat in points:
        x, y = screen_point(page, lon, lat)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_timeout(150)
    page.mouse.click(*screen_point(page, *points[-1]))


def area_codes_on_map(page):
    return sorted(page.evaluate("() => oanmMap.areas.features().map((f) => f.properties.code)"))


def part_rows(page):
    return [
        [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in page.locator("[data-split-parts] tr").all()
    ]


def test_the_map_draws_every_active_area_with_a_legend_and_a_list(sign_in, town):
    page = as_planner(sign_in)
    assert page.locator("path.oanm-area").count() == 3
    assert page.locator("path.oanm-area-ready").count() == 1
    legend = page.locator(".areas-legend")
    assert legend.locator(".legend-title").inner_text() == "AREAS · PHASE"
    assert legend.locator("[data-phase=planning] .legend-count").inner_text() == "1"
    assert legend.locator("[data-phase=demand_aggregation] .legend-count").inner_text() == "2"
    assert legend.locator(".legend-ready .legend-count").inner_text() == "1"
    # the list, by take rate: south 50 %, west 25 %, east 8.3 %
    assert page.locator(".area-row .code").all_inner_texts() == ["10003", "10001", "10002"]
    assert page.locator(".area-row .rate").all_inner_texts() == ["50%", "25%", "8.3%"]
    assert page.locator(".area-row.ready .code").all_inner_texts() == ["10003"]
    assert page.js_errors == []
    assert page.outside_requests == []


def test_the_take_rate_gradient_has_its_own_legend(sign_in, town):
    page = as_planner(sign_in)
    fill_by_phase = page.locator("path.oanm-area-planning").get_attribute("fill")
    page.check("input[name=colour-by][value=take_rate]")
    legend = page.locator(".areas-legend")
    assert legend.locator(".legend-title").inner_text() == "AREAS · TAKE RATE"
    assert legend.locator(".legend-scale").inner_text().split() == ["0%", "target", "2×", "target"]
    assert legend.locator("[data-phase]").count() == 0
    # east: 1 order in 12 homes against a 40 % target → a fifth of the way, a pale colour
    fill_by_rate = page.locator("path.oanm-area-planning").get_attribute("fill")
    assert fill_by_phase == "#9aa5b1"
    assert fill_by_rate == page.evaluate("() => OANM.areasLayer.progressColour(0.2083)")
    page.check("input[name=colour-by][value=phase]")
    assert legend.locator(".legend-title").inner_text() == "AREAS · PHASE"
    assert page.js_errors == []


def test_clicking_an_area_opens_its_figures_and_links(sign_in, town):
    page = as_planner(sign_in, "/map/?addresses=off&demand=off")
    page.mouse.click(*screen_point(page, 13.3365, 52.5505))  # inside east, off its homes
    popup = page.locator(".area-popup")
    popup.wait_for()
    assert popup.locator("h3").inner_text() == "10002 Sprengelkiez"
    assert popup.locator("[data-figure=homes]").inner_text() == "12"
    assert popup.locator("[data-figure=interests]").inner_text() == "3 (25% of homes)"
    assert popup.locator("[data-figure=orders]").inner_text() == "1"
    assert popup.locator("[data-figure=take_rate]").inner_text() == "8.3% of 40% target"
    assert popup.locator(".progress-caption").inner_text() == "21% of the way to the target"
    assert popup.locator("a[data-action=open]").get_attribute("href") == (
        f"/areas/{town['east'].pk}/"
    )
    assert popup.locator("[data-phase]").all_inner_texts() == ["demand aggregation"]
    assert page.locator(".area-row.selected .code").inner_text() == "10002"
    assert page.js_errors == []
    assert page.outside_requests == []


def test_a_phase_move_from_the_popup_goes_through_the_api(sign_in, town):
    page = as_planner(sign_in, f"/map/?area={town['east'].pk}")
    popup = page.locator(".area-popup")
    popup.locator("[data-phase-reason]").fill("survey done")
    popup.locator("[data-phase=demand_aggregation]").click()
    page.wait_for_selector(".map-flash.success")
    assert page.inner_text(".map-flash") == "Area 10002 moved to demand aggregation."
    east = Area.objects.get(pk=town["east"].pk)
    assert east.phase == "demand_aggregation"
    assert list(east.phase_history.values_list("to_phase", "reason")) == [
        ("demand_aggregation", "survey done")
    ]
    assert page.locator(".areas-legend [data-phase=planning] .legend-count").inner_text() == "0"
    assert popup.locator("[data-phase]").all_inner_texts() == ["in deployment", "planning"]
    assert page.js_errors == []


def test_a_refused_phase_move_shows_the_reason_and_changes_nothing(sign_in, town, admin_user):
    page = as_planner(sign_in, f"/map/?area={town['east'].pk}")
    # meanwhile someone else moves the area on
    area_start_demand_aggregation(area=town["east"], actor=admin_user)
    with page.expect_response(lambda r: r.url.endswith("/phase/")) as answer:
        page.click(".area-popup [data-phase=demand_aggregation]")
    assert answer.value.status == 409
    error = page.locator(".area-popup [data-popup-error]")
    error.wait_for()
    assert error.inner_text() == answer.value.json()["detail"]
    assert Area.objects.get(pk=town["east"].pk).phase_history.count() == 1
    assert page.js_errors == []


def test_splitting_by_drawing_a_line_previews_then_replaces_the_area(sign_in, town):
    west = town["west"]
    page = as_planner(sign_in, f"/map/?area={west.pk}&split=1&addresses=off&demand=off")
    assert page.inner_text("[data-split-area]") == "10001"
    # a line from outside the west edge to outside the east edge, between the 4th and 5th row
    draw_line(page, [(13.3295, 52.5528), (13.3330, 52.5528), (13.3365, 52.5528)])
    page.wait_for_selector("[data-split-preview]:not([hidden])")
    assert [row[1:] for row in part_rows(page)] == [["8", "6", "75%"], ["16", "0", "0%"]]
    assert page.locator("path.split-part").count() == 2
    assert Area.objects.count() == 3  # a preview writes nothing

    page.fill("[data-split-reason]", "demand is heavier in the north")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-split-preview.png"))
    page.click("[data-split-confirm]")
    page.wait_for_selector(".map-flash.success")

    west.refresh_from_db()
    assert west.is_active is False
    north, south = Area.objects.filter(parent=west).order_by("pk")
    assert page.inner_text(".map-flash") == (
        f"Area 10001 was split into {north.code} and {south.code}."
    )
    assert (north.figures.homes, north.figures.orders) == (8, 6)
    assert (south.figures.homes, south.figures.orders) == (16, 0)
    assert AreaSplit.objects.get(parent=west).reason == "demand is heavier in the north"
    assert area_codes_on_map(page) == sorted(["10002", "10003", north.code, south.code])
    assert page.locator("path.oanm-area").count() == 4
    assert page.locator("path.split-part").count() == 0
    assert page.locator("#split-panel").is_hidden()
    page.screenshot(path=str(ARTIFACTS / "map-split-done.png"))
    assert page.js_errors == []
    assert page.outside_requests == []


def test_a_half_split_from_the_panel(sign_in, town):
    west = town["west"]
    page = as_planner(sign_in, f"/map/?area={west.pk}&split=1&addresses=off&demand=off")
    page.click("[data-split-mode=half]")
    page.click("[data-half-axis=north-south]")
    page.wait_for_selector("[data-split-preview]:not([hidden])")
    assert [row[1:] for row in part_rows(page)] == [["12", "6", "50%"], ["12", "0", "0%"]]
    page.click("[data-split-confirm]")
    page.wait_for_selector(".map-flash.success")
    children = list(Area.objects.filter(parent=west).order_by("pk").values_list("code", flat=True))
    assert len(children) == 2
    assert area_codes_on_map(page) == sorted(["10002", "10003", *children])
    assert Area.objects.get(pk=west.pk).is_active is False
    assert page.js_errors == []


def test_a_share_of_orders_split_previews_from_the_slider(sign_in, town):
    page = as_planner(sign_in, f"/map/?area={town['south'].pk}&split=1&addresses=off&demand=off")
    page.click("[data-split-mode=share]")
    page.select_option("[data-share-axis]", "east-west")
    with page.expect_response(lambda r: r.url.endswith("/split/")) as answer:
        page.click("[data-share-preview]")
    assert answer.value.request.post_data_json == {
        "mode": "share",
        "share": 0.5,
        "axis": "east-west",
        "preview": True,
    }
    page.wait_for_selector("[data-split-preview]:not([hidden])")
    assert len(part_rows(page)) == 2
    assert Area.objects.filter(is_active=True).count() == 3
    assert page.js_errors == []


def test_a_bad_line_shows_the_apis_message_and_changes_nothing(sign_in, town):
    west = town["west"]
    page = as_planner(sign_in, f"/map/?area={west.pk}&split=1&addresses=off&demand=off")
    # a line that stays inside the area cannot cut it
    with page.expect_response(lambda r: r.url.endswith("/split/")) as answer:
        draw_line(page, [(13.3315, 52.5515), (13.3345, 52.5525)])
    assert answer.value.status == 400
    message = page.locator("[data-split-message].error")
    message.wait_for()
    assert message.inner_text() == answer.value.json()["detail"]
    assert page.locator("[data-split-preview]").is_hidden()
    assert Area.objects.filter(is_active=True).count() == 3
    assert AreaSplit.objects.count() == 0
    assert area_codes_on_map(page) == ["10001", "10002", "10003"]
    assert page.js_errors == []


def test_the_panel_client_previews_a_drawn_line_too(sign_in, town):
    """The same request the mouse makes, through the panel's own API client."""
    page = as_planner(sign_in, f"/map/?area={town['west'].pk}&split=1&addresses=off&demand=off")
    status = page.evaluate(
        """() => oanmMap.split.previewLine({type: "LineString",
            coordinates: [[13.3295, 52.5528], [13.3365, 52.5528]]}).then((r) => r.status)"""
    )
    assert status == 200
    assert [row[1:] for row in part_rows(page)] == [["8", "6", "75%"], ["16", "0", "0%"]]
    page.click("[data-split-cancel] >> nth=0")
    assert page.locator("#split-panel").is_hidden()
    assert page.locator("path.split-part").count() == 0
    assert Area.objects.filter(is_active=True).count() == 3
    assert page.js_errors == []


def test_search_and_sort_the_list_and_zoom_to_an_area(sign_in, town):
    page = as_planner(sign_in)
    page.select_option("[data-area-sort]", "code:asc")
    assert page.locator(".area-row .code").all_inner_texts() == ["10001", "10002", "10003"]
    page.fill("[data-area-search]", "sprengel")
    assert page.locator(".area-row .code").all_inner_texts() == ["10002"]
    assert page.inner_text("[data-area-count]") == "1 of 3"
    page.click(".area-row")
    page.locator(".area-popup").wait_for()
    assert page.locator(".area-popup h3").inner_text() == "10002 Sprengelkiez"
    centre = page.evaluate("() => oanmMap.map.getBounds().contains([52.552, 13.339])")
    assert centre is True
    assert page.js_errors == []


def test_owner_staff_who_are_not_operators_get_no_plan_changing_buttons(sign_in, town, owner):
    user_create(username="finance", organisation=owner, role=Role.FINANCE, password="x-pass-123")
    page = sign_in("finance", "x-pass-123", f"/map/?area={town['east'].pk}&split=1")
    popup = page.locator(".area-popup")
    popup.wait_for()
    assert popup.locator("a[data-action=open]").count() == 1
    assert popup.locator("[data-action=split]").count() == 0
    assert popup.locator("[data-action=delete]").count() == 0  # east is in planning
    assert popup.locator("[data-phase]").count() == 0
    assert page.locator("#split-panel").is_hidden()
    assert page.js_errors == []


def test_demand_as_a_heat_map_and_the_layer_switches(sign_in, town):
    page = as_planner(sign_in)
    page.check("input[name=demand-mode][value=heat]")
    assert page.locator(".demand-legend .legend-title").inner_text() == "DEMAND · HEAT MAP"
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
    page.uncheck("[data-layer=demand]")
    assert page.locator(".demand-legend").count() == 0
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 0
    page.uncheck("[data-layer=areas]")
    assert page.locator("path.oanm-area").count() == 0
    assert page.locator(".areas-legend").count() == 0
    page.check("[data-layer=areas]")
    assert page.locator("path.oanm-area").count() == 3
    assert page.js_errors == []
    assert page.outside_requests == []


def test_addresses_come_from_the_vector_tiles_coloured_by_status(sign_in, town):
    page = as_planner(sign_in, "/map/?demand=off")
    page.evaluate("() => oanmMap.map.setView([52.552, 13.333], 16, {animate: false})")
    wait_for_tiles(page, "addresses")
    assert page.locator(".leaflet-oanm-addresses-pane path").count() >= 24
    fills = page.eval_on_selector_all(
        ".leaflet-oanm-addresses-pane path", "(paths) => paths.map((p) => p.getAttribute('fill'))"
    )
    assert sorted(set(fills)) == ["#829ab1", "#f7c948"]  # planned, awaiting deployment
    # the south-west home of the west area has no order; the north-east one has
    page.mouse.click(*screen_point(page, 13.33075, 52.55033))
    popup = page.locator(".address-popup .leaflet-popup-content")
    popup.wait_for()
    assert popup.inner_text() == "Müllerstraße 1, 13353 Berlin\nplanned · single family"
    page.mouse.click(*screen_point(page, 13.33525, 52.55367))
    page.wait_for_function(
        "() => document.querySelector('.address-popup').innerText.startsWith('Müllerstraße 24')"
    )
    assert popup.inner_text() == (
        "Müllerstraße 24, 13353 Berlin\nawaiting deployment · single family"
    )
    assert page.js_errors == []
    assert page.outside_requests == []


def test_demand_points_come_from_the_vector_tiles(sign_in, town):
    page = as_planner(sign_in, "/map/?addresses=off")
    page.evaluate("() => oanmMap.map.setView([52.5505, 13.337], 17, {animate: false})")
    wait_for_tiles(page, "demand")
    assert page.locator(".leaflet-oanm-demand-pane path").count() >= 4
    page.mouse.click(*screen_point(page, 13.337, 52.5505))  # the order in the east
    popup = page.locator(".address-popup .leaflet-popup-content")
    popup.wait_for()
    assert popup.inner_text() == f"Order since {timezone.localdate().isoformat()}"
    assert page.js_errors == []
    assert page.outside_requests == []


def test_the_heat_map_counts_each_interest_and_order_once(sign_in, town):
    page = as_planner(sign_in, "/map/?demand=heat")
    # 12 orders and 3 interests in the town, wherever the tile borders fall
    page.wait_for_function("() => oanmMap.demand.heat.points === 15")
    page.uncheck("[data-demand-kind=interest]")
    page.wait_for_function("() => oanmMap.demand.heat.points === 12")
    assert page.inner_text(".demand-legend .legend-scale") == "fewer\norders\nmore"
    assert page.js_errors == []


def test_demand_of_the_selected_area_only(sign_in, town):
    east = town["east"]
    page = as_planner(sign_in, f"/map/?area={east.pk}&demand=heat")
    page.evaluate("() => oanmMap.map.fitBounds(oanmMap.areas.bounds(), {animate: false})")
    page.wait_for_function("() => oanmMap.demand.heat.points === 15")
    with page.expect_request(lambda r: "/tiles/demand/" in r.url and f"?area={east.pk}" in r.url):
        page.check("[data-demand-area-only]")
    page.wait_for_function("() => oanmMap.demand.heat.points === 4")  # 1 order, 3 interests
    assert page.js_errors == []


# --- deleting an area ------------------------------------------------------------------------


def deletes_sent(page):
    """Record the DELETE requests the page sends from now on."""
    sent = []
    page.on("request", lambda request: request.method == "DELETE" and sent.append(request.url))
    return sent


def test_deleting_an_area_in_planning_takes_it_off_the_map_and_the_list(sign_in, town):
    north = area_create(name="Versehen", code="10004", boundary=Polygon.from_bbox(NORTH))
    north_homes = homes(grid(NORTH, 2, 2), "Ungarnstraße")
    interest_register(address=north_homes[0])  # an interest is no signup: it may go
    ids = [home.pk for home in north_homes]
    assert [home.area_id for home in Address.objects.filter(pk__in=ids)] == [north.pk] * 4
    page = as_planner(sign_in, f"/map/?area={north.pk}&addresses=off&demand=off")
    popup = page.locator(".area-popup")
    popup.wait_for()
    assert popup.locator("[data-action=delete]").inner_text() == "Delete area…"
    sent = deletes_sent(page)
    questions = []

    # a dismissed confirm changes nothing
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    popup.locator("[data-action=delete]").click()
    page.wait_for_function("() => document.querySelector('.area-popup') !== null")
    assert sent == []
    assert questions == [
        "Delete area 10004 Versehen? It goes off the map and the lists (kept in history), its"
        " addresses go to the area around them, and its code stays taken."
    ]

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: r.request.method == "DELETE") as answer:
        popup.locator("[data-action=delete]").click()
    assert answer.value.status == 204
    assert answer.value.url.endswith(f"/api/areas/{north.pk}/")
    page.wait_for_function(f"() => oanmMap.areas.find({north.pk}) === null")
    page.wait_for_selector(".map-flash.success")
    assert page.inner_text(".map-flash") == "Area 10004 was deleted."
    assert area_codes_on_map(page) == ["10001", "10002", "10003"]
    assert page.locator("path.oanm-area").count() == 3
    assert sorted(page.locator(".area-row .code").all_inner_texts()) == ["10001", "10002", "10003"]
    page.locator(".area-popup").wait_for(state="detached")  # Leaflet fades it out
    north.refresh_from_db()
    assert north.is_active is False and north.deleted_at is not None
    # no other area holds them: they are in none now
    assert [home.area_id for home in Address.objects.filter(pk__in=ids)] == [None] * 4
    assert sent == [answer.value.url]
    assert page.js_errors == []
    assert page.outside_requests == []


def test_an_area_past_planning_has_no_delete_action(sign_in, town):
    page = as_planner(sign_in, f"/map/?area={town['west'].pk}")
    popup = page.locator(".area-popup")
    popup.wait_for()
    assert popup.locator("h3 .code").inner_text() == "10001"  # in demand aggregation
    assert popup.locator("[data-action=split]").count() == 1
    assert popup.locator("[data-action=delete]").count() == 0
    # once moved back to planning, it has one
    popup.locator("[data-phase=planning]").click()
    page.wait_for_selector(".map-flash.success")
    page.locator(".area-popup [data-action=delete]").wait_for()
    assert page.js_errors == []


def test_a_refused_delete_shows_the_servers_message_and_changes_nothing(sign_in, town):
    east = town["east"]  # in planning, with one standing signup
    page = as_planner(sign_in, f"/map/?area={east.pk}&addresses=off&demand=off")
    popup = page.locator(".area-popup")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: r.request.method == "DELETE") as answer:
        popup.locator("[data-action=delete]").click()
    assert answer.value.status == 409
    assert answer.value.json()["code"] == "area_has_signups"
    error = popup.locator("[data-popup-error]")
    error.wait_for()
    assert error.inner_text() == answer.value.json()["detail"]
    assert error.inner_text() == (
        "area 10002 has 1 standing signup; it cannot be deleted while they stand"
    )
    assert popup.locator("[data-action=delete]").is_enabled()
    east.refresh_from_db()
    assert east.is_active is True and east.deleted_at is None
    assert area_codes_on_map(page) == ["10001", "10002", "10003"]
    assert page.js_errors == []
