"""The customers' door in a real headless Chromium with no internet: on the demo town, type an
address, pick it from the type-ahead with the keyboard, read the answer, pick an offering,
sign up and book an installation slot; every page fits a phone; a tap on the map and "use my
location" find the nearest addresses; misspellings get "did you mean"."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from gis_core.models import Address
from tests.wholesale.conftest import town  # noqa: F401  (the small marketplace fixture)
from wholesale.lifecycle import LIVE_ORDER_STATUSES
from wholesale.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PHONE = {"width": 375, "height": 812}


def _watched(page):
    """A page of our own context that records JS errors and requests leaving the machine,
    as conftest's `page` does."""
    page.js_errors = []
    page.outside_requests = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))

    def note_request(request):
        if not request.url.startswith(("http://localhost", "http://127.0.0.1", "data:", "blob:")):
            page.outside_requests.append(request.url)

    page.on("request", note_request)
    return page


@pytest.fixture
def new_page(browser, live_server):
    """Pages in contexts of our choosing (a phone, a granted location), closed at the end."""
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=live_server.url, **options)
        contexts.append(context)
        return _watched(context.new_page())

    yield make
    for context in contexts:
        context.close()


def _fits(page) -> None:
    """No horizontal scroll: nothing on the page is wider than the screen."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.evaluate("() => window.innerWidth")
    assert width <= viewport, f"{page.url}: {width}px wide on a {viewport}px screen"


def _active_option_id(page) -> str | None:
    active = page.get_attribute("#address-q", "aria-activedescendant")
    return page.get_attribute(f"#{active}", "data-address-id") if active else None


def test_a_customer_finds_the_address_signs_up_and_books_a_slot(page):
    ARTIFACTS.mkdir(exist_ok=True)
    call_command("demo_load", stdout=io.StringIO())
    ordered = Order.objects.filter(status__in=LIVE_ORDER_STATUSES).values("address")
    home = (
        Address.objects.filter(area__code="13353", units=1, unit="")
        .exclude(pk__in=ordered)
        .exclude(connection_cost_terms__isnull=False)
        .exclude(house_number="")
        .order_by("street", "house_number_normalised")
        .first()
    )
    typed = f"{home.street.lower().replace('straße', 'str')} {home.house_number}"

    # type the address as people do; the suggestions open under the box
    page.goto("/lookup/")
    page.click("#address-q")
    page.keyboard.type(typed, delay=40)
    page.wait_for_selector("#address-listbox [role=option]")
    assert page.get_attribute("#address-q", "aria-expanded") == "true"
    assert page.get_attribute("#address-q", "role") == "combobox"
    page.wait_for_function(
        "() => /address(es)? found/"
        ".test(document.querySelector('[data-search-status]').textContent)"
    )
    options = page.eval_on_selector_all(
        "#address-listbox [role=option]", "nodes => nodes.map(n => n.dataset.addressId)"
    )
    assert str(home.pk) in options

    # pick it with the arrow keys and Enter
    for _ in range(options.index(str(home.pk)) + 1):
        page.keyboard.press("ArrowDown")
    assert _active_option_id(page) == str(home.pk)
    page.screenshot(path=str(ARTIFACTS / "lookup-search.png"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/lookup/address/{home.pk}/")

    # the answer: being built, the connection cost before the offers, the map
    assert page.get_attribute("[data-state]", "data-state") == "being_built"
    assert page.text_content("[data-headline]").strip()
    assert page.text_content("[data-cost-total]").strip() == "€5,000.00"
    assert page.text_content("[data-cost-deposit]").strip() == "€1,000.00"
    assert page.text_content("[data-cost-remaining]").strip() == "€4,000.00"
    assert "10 monthly installments of €500.00" in page.text_content("[data-cost-installments]")
    cost_top = page.eval_on_selector("[data-cost]", "n => n.getBoundingClientRect().top")
    offers_top = page.eval_on_selector("[data-offer-list]", "n => n.getBoundingClientRect().top")
    assert cost_top < offers_top
    page.wait_for_selector("#address-map[data-ready=true] .leaflet-overlay-pane path")
    isps = page.eval_on_selector_all("[data-isp-name]", "nodes => nodes.map(n => n.textContent)")
    assert set(isps) == {"Spree Net", "Kiez Online", "Panke Glasfaser"}
    assert page.locator(".offer img.isp-logo").count() == len(isps)

    # sort by speed, then by price: the cards move, the URL says so
    def prices():
        return [
            float(value)
            for value in page.eval_on_selector_all(
                "[data-offer-list] .offer", "nodes => nodes.map(n => n.dataset.price)"
            )
        ]

    def speeds():
        return [
            int(value)
            for value in page.eval_on_selector_all(
                "[data-offer-list] .offer", "nodes => nodes.map(n => n.dataset.speed)"
            )
        ]

    assert prices() == sorted(prices())
    page.select_option("[data-offer-sort]", "speed")
    assert speeds() == sorted(speeds(), reverse=True)
    assert "sort=speed" in page.url
    page.select_option("[data-offer-sort]", "price")
    assert prices() == sorted(prices())
    page.screenshot(path=str(ARTIFACTS / "lookup-answer.png"), full_page=True)

    # pick the cheapest offer and sign up
    chosen = page.locator("[data-offer-list] .offer").first
    isp_name = chosen.locator("[data-isp-name]").text_content()
    chosen.locator("[data-signup]").click()
    page.wait_for_url(re.compile(r"/signup/\?offering=\d+"))
    assert page.text_content("#cost-title").strip() == "1. Connection cost"
    page.fill("#id_name", "Erika Mustermann")
    page.fill("#id_email", "erika@example.org")
    page.fill("#id_phone", "+49 30 1234567")
    page.check("#id_consent")
    page.screenshot(path=str(ARTIFACTS / "lookup-signup.png"), full_page=True)
    page.click("form[data-signup-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/lookup/orders/[\w-]{40,}/$"))

    order = Order.objects.get(address=home, status__in=LIVE_ORDER_STATUSES)
    assert order.isp.name == isp_name
    assert page.text_content("[data-order-reference]") == order.reference
    assert order.reference in page.text_content(".messages")

    # book the first free installation window
    page.locator("[data-slot-form] input[type=radio]").first.check()
    slot_id = int(page.locator("[data-slot-form] input[type=radio]").first.get_attribute("value"))
    page.click("[data-book]")
    page.wait_for_selector("[data-booked-slot]")
    assert Order.objects.get(pk=order.pk).active_booking.slot_id == slot_id
    page.screenshot(path=str(ARTIFACTS / "lookup-booked.png"), full_page=True)

    assert page.js_errors == []
    assert page.outside_requests == []


def test_every_page_fits_a_phone_screen(new_page, town):  # noqa: F811
    from wholesale.services import connection_cost_terms_set, signup_place

    connection_cost_terms_set(
        area=town.areas["in_deployment"],
        total="5000",
        deposit="1000",
        max_installment="500",
        billed_by=town.billing,
        connection_only_enabled=True,
    )
    town.slots("in_deployment", count=4)
    home = town.address(
        "in_deployment", street="Schwyzer Straße", house_number="12a", postcode="13349"
    )
    gathering = town.address("demand_aggregation")
    order = signup_place(
        address=town.address("in_deployment", 1),
        offering=town.offerings[1],
        connection_only=False,
        name="Zora Geheim",
        email="zora@example.org",
        phone="+49 30 1",
        consent=True,
    )
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)

    page.goto("/lookup/")
    page.fill("#address-q", "schwyzer 12a")
    page.wait_for_selector("#address-listbox [role=option]")
    _fits(page)
    page.screenshot(path=str(ARTIFACTS / "lookup-phone-search.png"))
    for url in (
        f"/lookup/address/{home.pk}/",
        f"/lookup/address/{gathering.pk}/",
        f"/lookup/address/{home.pk}/signup/?offering={town.offerings[0].pk}",
        f"/lookup/address/{home.pk}/interest/",
        f"/lookup/orders/{order.manage_token}/",
    ):
        response = page.goto(url)
        assert response.status in (200, 302), url
        _fits(page)
    page.goto(f"/lookup/address/{home.pk}/")
    page.screenshot(path=str(ARTIFACTS / "lookup-phone-answer.png"), full_page=True)
    assert page.js_errors == []
    assert page.outside_requests == []


def test_a_tap_on_the_map_and_my_location_list_the_nearest_addresses(new_page, town):  # noqa: F811
    near = town.address("live", street="Ofener Straße", house_number="1", postcode="13349")
    location = {"latitude": near.location.y, "longitude": near.location.x}
    page = new_page(
        viewport={"width": 1024, "height": 800}, geolocation=location, permissions=["geolocation"]
    )

    page.goto("/lookup/")
    page.wait_for_selector("#lookup-map[data-ready=true]")
    page.click("[data-use-location]")
    page.wait_for_selector("[data-nearest-list] a")
    first = page.locator("[data-nearest-list] a").first
    assert first.get_attribute("data-address-id") == str(near.pk)
    assert "near your location" in page.text_content("[data-search-status]")

    page.click("#lookup-map", position={"x": 200, "y": 150})
    page.wait_for_function(
        "() => /the place you tapped|No address of ours/.test("
        "document.querySelector('[data-search-status]').textContent)"
    )
    first = page.locator("[data-nearest-list] a").first
    first.click()
    page.wait_for_url(re.compile(r"/lookup/address/\d+/$"))
    assert page.js_errors == []
    assert page.outside_requests == []


def test_a_misspelt_street_offers_did_you_mean_which_searches_again(new_page, town):  # noqa: F811
    town.address("planning", street="Föhrer Straße", house_number="10", postcode="13353")
    page = new_page(viewport={"width": 1024, "height": 800})

    page.goto("/lookup/")
    page.click("#address-q")
    page.keyboard.type("Fohrer Strase 99", delay=30)
    page.wait_for_selector("[data-did-you-mean] button")
    status = page.text_content("[data-search-status]")
    assert "No address matches “Fohrer Strase 99”" in status and "Did you mean" in status
    assert page.get_attribute("#address-q", "aria-expanded") == "false"

    page.click("[data-did-you-mean] button")
    page.wait_for_selector("#address-listbox [role=option]")
    assert page.input_value("#address-q").startswith("Föhrer Straße")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/lookup/address/\d+/$"))
    assert page.get_attribute("[data-state]", "data-state") == "planned"

    # Escape closes the list, a second Escape clears the box
    page.goto("/lookup/")
    page.click("#address-q")
    page.keyboard.type("fohrer 10", delay=30)
    page.wait_for_selector("#address-listbox [role=option]")
    page.keyboard.press("Escape")
    assert page.is_hidden("#address-listbox")
    page.keyboard.press("Escape")
    assert page.input_value("#address-q") == ""
    assert page.js_errors == []
    assert page.outside_requests == []


def test_a_retired_address_says_so_on_a_phone_with_nothing_to_sign(new_page, town):  # noqa: F811
    from gis_core.services import addresses_retire

    home = town.address("in_deployment")
    addresses_retire(address_ids=[home.pk], reason="feature gone from IQGeo")
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)

    response = page.goto(f"/lookup/address/{home.pk}/")

    assert response.status == 200
    _fits(page)
    assert page.text_content("[data-headline]").strip() == (
        "This address is no longer in the network's records."
    )
    assert page.get_attribute("section.answer", "data-state") == "retired"
    assert page.locator("[data-signup], [data-action=interest], [data-offer-list]").count() == 0
    page.click("[data-action=search-again]")
    page.wait_for_url("**/lookup/")
    assert page.js_errors == []
    assert page.outside_requests == []
