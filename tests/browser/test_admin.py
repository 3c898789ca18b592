"""The admin in a real browser with no internet: pages render, maps draw, bad input is refused."""

import pytest

from areas.services import area_create
from gis_core.models import Address
from gis_core.services import address_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[13.33, 52.54], [13.35, 52.54], [13.35, 52.56], [13.33, 52.56], [13.33, 52.54]]
    ],
}


@pytest.fixture
def town(admin_user):
    area = area_create(name="Wedding Mitte", code="13353", boundary=SQUARE)
    address = address_create(
        location={"type": "Point", "coordinates": [13.3487766, 52.5415883]},
        street="Föhrer Straße",
        house_number="10",
        postcode="13353",
        city="Berlin",
        country="DE",
    )
    return area, address


def test_admin_index_lists_every_app(login, town):
    page = login("admin", "admin-pass-123")
    body = page.text_content("#content")
    for heading in ("Accounts", "Addresses", "Areas", "Infrastructure"):
        assert heading in body
    assert page.js_errors == []
    assert page.outside_requests == []


def test_address_page_draws_its_location_on_an_offline_map(login, town):
    _, address = town
    page = login("admin", "admin-pass-123")
    page.goto(f"/admin/gis_core/address/{address.pk}/change/")
    page.wait_for_selector("#id_location_map canvas")
    assert "Föhrer Straße 10, 13353 Berlin" in page.text_content("#content")
    assert '"type": "Point"' in page.input_value("#id_location")
    assert page.js_errors == []
    assert page.outside_requests == []


def test_area_list_shows_phase_and_homes(login, town):
    page = login("admin", "admin-pass-123")
    page.goto("/admin/areas/area/")
    row = page.locator("#result_list tbody tr").first
    assert "13353" in row.text_content()
    assert "planning" in row.text_content()
    assert row.locator("td.field-homes").text_content() == "1"


def test_area_phase_action_moves_the_area_and_records_history(login, town):
    area, _ = town
    page = login("admin", "admin-pass-123")
    page.goto("/admin/areas/area/")
    page.check("#result_list tbody input.action-select")
    page.select_option("select[name=action]", "area_start_demand_aggregation")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "1 area(s) moved." in page.text_content(".messagelist")
    area.refresh_from_db()
    assert area.phase == "demand_aggregation"
    assert list(area.phase_history.values_list("from_phase", "to_phase")) == [
        ("planning", "demand_aggregation")
    ]


def test_illegal_address_move_shows_a_message_and_changes_nothing(login, town):
    _, address = town
    page = login("admin", "admin-pass-123")
    page.goto("/admin/gis_core/address/")
    page.check("#result_list tbody input.action-select")
    page.select_option("select[name=action]", "address_connect")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "cannot move from planned to connected" in page.text_content(".messagelist")
    address.refresh_from_db()
    assert address.status == "planned"
    assert address.status_history.count() == 0


def test_address_form_refuses_a_missing_street_with_a_message(login, town):
    _, address = town
    page = login("admin", "admin-pass-123")
    page.goto(f"/admin/gis_core/address/{address.pk}/change/")
    page.wait_for_selector("#id_location_map canvas")
    page.fill("#id_street", "   ")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    assert "This field is required." in page.text_content("#content") or "needs a street" in (
        page.text_content("#content")
    )
    assert Address.objects.get(pk=address.pk).street == "Föhrer Straße"


def test_area_page_draws_its_boundary_and_history(login, town):
    area, _ = town
    page = login("admin", "admin-pass-123")
    page.goto(f"/admin/areas/area/{area.pk}/change/")
    page.wait_for_selector("#id_boundary_map canvas")
    assert '"type": "MultiPolygon"' in page.input_value("#id_boundary")
    assert page.locator("#id_boundary_map .ol-layer canvas").count() >= 1
    assert page.js_errors == []
    assert page.outside_requests == []
