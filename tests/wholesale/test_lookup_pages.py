"""The customers' pages under /lookup/ through Django's test client: each page renders for
each answer, refusals become messages (never a 500), every form needs its CSRF token, and
no other customer's name or e-mail ever appears on an address's page."""

import re
from datetime import date
from decimal import Decimal
from html import unescape
from urllib.parse import quote

import pytest
from django.test import Client

from areas.services import area_set_expected_connection, interest_register, signup_record
from gis_core.services import addresses_retire
from tests.wholesale.conftest import build
from tests.wholesale.factories import OfferingFactory
from wholesale.lifecycle import BookingStatus, OrderStatus
from wholesale.models import Booking, Customer, InterestRegistration, Order
from wholesale.services import (
    booking_create,
    connection_cost_terms_set,
    isp_profile_set,
    signup_place,
)

pytestmark = pytest.mark.django_db

ERIKA = {"name": "Erika Mustermann", "email": "erika@example.org", "phone": "+49 30 123"}


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def strict_client():
    """A browser that sends no CSRF token unless the page gave it one."""
    return Client(enforce_csrf_checks=True)


def _text(response) -> str:
    """The page's visible words, tags dropped and spaces collapsed."""
    body = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _cost(town, area_phase="in_deployment", **extra):
    terms = {"total": "5000", "deposit": "1000", "max_installment": "500", **extra}
    return connection_cost_terms_set(area=town.areas[area_phase], billed_by=town.billing, **terms)


def _sign_up(town, address, offering=None, **overrides):
    return signup_place(
        address=address,
        offering=offering,
        connection_only=offering is None,
        consent=True,
        **{**ERIKA, **overrides},
    )


# --- /lookup/ -------------------------------------------------------------------------------


def test_the_search_page_renders_the_box_and_the_map_without_a_query(client, town):
    response = client.get("/lookup/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="address-q"' in html and 'name="q"' in html
    assert 'role="status"' in html and 'aria-live="polite"' in html
    assert 'id="lookup-map"' in html
    assert "data-server-results" not in html
    config = response.context["page_config"]
    assert config["searchUrl"] == "/api/addresses/search"
    assert config["nearestUrl"] == "/api/addresses/nearest"
    assert config["addressUrl"] == "/lookup/address/{id}/"
    west, south, east, north = config["extent"]
    assert west <= 13.40 and east >= 13.432 and south <= 52.50 and north >= 52.502
    assert {area["phase"] for area in config["areas"]} == set(town.areas)


def test_a_search_without_javascript_lists_the_matches_as_links(client, town):
    home = town.address("live", street="Föhrer Straße", house_number="10", postcode="13353")

    response = client.get("/lookup/", {"q": "fohrer str 10"})

    assert response.status_code == 200
    assert f'href="/lookup/address/{home.pk}/"' in response.content.decode()
    assert "found for “fohrer str 10”" in _text(response)


def test_a_misspelt_search_lists_the_close_match_and_what_it_may_have_meant(client, town):
    home = town.address("live", street="Föhrer Straße", house_number="10", postcode="13353")

    response = client.get("/lookup/", {"q": "Fohrerstrase 10"})

    assert f'href="/lookup/address/{home.pk}/"' in response.content.decode()
    assert "Did you mean Föhrer Straße 10" in _text(response)


def test_a_search_that_finds_nothing_says_so_and_links_the_streets_it_may_mean(client, town):
    town.address("live", street="Föhrer Straße", house_number="10", postcode="13353")

    near = client.get("/lookup/", {"q": "Fohrer Strase 99"})
    nowhere = client.get("/lookup/", {"q": "Xylophonweg 3"})

    assert "No address matches “Fohrer Strase 99”" in _text(near)
    assert near.context["result"].did_you_mean
    suggestion = near.context["result"].did_you_mean[0]
    assert "Föhrer Straße" in suggestion
    assert f'href="?q={quote(suggestion)}"' in near.content.decode()
    assert "No address matches “Xylophonweg 3”" in _text(nowhere)
    assert "Check the spelling of the street" in _text(nowhere)


def test_a_too_short_search_is_explained_not_run(client, town):
    response = client.get("/lookup/", {"q": " a "})

    assert response.status_code == 200
    assert response.context["result"] is None
    assert "Type at least 2 letters or digits" in _text(response)


# --- an address's answer ----------------------------------------------------------------------


def test_an_available_address_shows_every_offer_with_a_sign_up_link(client, town):
    home = build(town.address("live"), "connected")
    isp_profile_set(isp=town.isps[0], logo="oanm/isp/spree-net.svg")

    response = client.get(f"/lookup/address/{home.pk}/")

    assert response.status_code == 200
    html, text = response.content.decode(), _text(response)
    assert 'data-state="available"' in html
    assert "Available now" in text
    assert "Spree Net" in text and "Kiez Online" in text
    assert "€39.90" in text and "€49.00" in text
    for offering in town.offerings:
        assert f"/lookup/address/{home.pk}/signup/?offering={offering.pk}" in html
    assert "/static/oanm/isp/spree-net.svg" in html
    assert "data-cost" not in html  # no terms, no connection cost box
    assert "Register interest" not in text


def test_offers_sort_by_price_or_speed(client, town):
    home = build(town.address("live"), "connected")
    fast = OfferingFactory(
        isp=town.isps[1], name="Kiez 2000", monthly_price=Decimal("79.00"), setup_fee="0"
    )
    fast.product.download_mbps = 2000  # the offering's speeds are its product's
    fast.product.save(update_fields=["download_mbps"])

    by_price = client.get(f"/lookup/address/{home.pk}/")
    by_speed = client.get(f"/lookup/address/{home.pk}/", {"sort": "speed"})

    names = [row["name"] for row in by_price.context["offerings"]]
    assert names == ["Spree 500", "Kiez 1000", "Kiez 2000"]
    assert by_speed.context["offerings"][0]["name"] == "Kiez 2000"
    assert 'option value="speed" selected' in by_speed.content.decode()


def test_being_built_shows_the_window_and_the_connection_cost_before_the_offers(client, town):
    area_set_expected_connection(
        area=town.areas["in_deployment"], first_day=date(2027, 3, 1), last_day=date(2027, 5, 31)
    )
    _cost(town, invoicing_starts="deployment")
    home = town.address("in_deployment")

    response = client.get(f"/lookup/address/{home.pk}/")

    html, text = response.content.decode(), _text(response)
    assert "Being built" in text
    assert "Expected connection: 1 March 2027 to 31 May 2027" in text
    assert "Total €5,000.00" in text
    assert "Deposit at signup €1,000.00" in text
    assert "Remaining after the deposit €4,000.00" in text
    assert "10 monthly installments of €500.00" in text
    assert f"Billed by {town.billing.name}" in text
    assert "Invoicing starts" in text
    # the connection cost comes before every subscription price
    assert html.index("data-cost") < html.index("data-offer-list")
    assert html.index("Total") < html.index("€39.90")


def test_gathering_interest_shows_the_neighbours_against_the_target_and_a_nudge(client, town):
    area = town.areas["demand_aggregation"]
    homes = [town.address("demand_aggregation", n) for n in range(10)]
    for home in homes[:2]:
        signup_record(address=home, order_key=f"order:test-{home.pk}")

    response = client.get(f"/lookup/address/{homes[5].pk}/")

    text = _text(response)
    demand = response.context["demand"]
    assert "Gathering interest" in text
    assert demand["orders"] == 2
    needed = demand["needed"]
    assert needed == 2 + response.context["answer"]["demand"]["orders_to_target"]
    assert f"2 of the {needed} neighbours needed have signed up in {area.name}" in text
    assert 'aria-valuenow="2"' in response.content.decode()
    assert f"{needed - 2} more signup" in text
    assert f"/lookup/address/{homes[5].pk}/interest/" in response.content.decode()


def test_planned_offers_interest_and_outside_says_so_plainly(client, town):
    planned = client.get(f"/lookup/address/{town.address('planning').pk}/")
    outside = client.get(f"/lookup/address/{town.address(None).pk}/")

    assert "Planned" in _text(planned)
    assert planned.context["answer"]["can_register_interest"] is True
    assert "Register interest" in _text(planned)
    assert 'data-state="outside"' in outside.content.decode()
    assert "Outside our network" in _text(outside)
    assert "data-offer-list" not in outside.content.decode()


def test_a_retired_address_says_so_with_no_offer_signup_or_interest(client, town):
    _cost(town)
    home = build(town.address("in_deployment"), "connected")
    addresses_retire(address_ids=[home.pk], reason="feature gone from IQGeo")

    response = client.get(f"/lookup/address/{home.pk}/")

    body, text = response.content.decode(), _text(response)
    assert response.status_code == 200
    assert 'data-state="retired"' in body
    assert "No longer in our records" in text
    assert "This address is no longer in the network's records." in text
    assert "Search for your address again" in text
    assert "IQGeo" not in text
    for absent in ("data-offer-list", "data-signup", 'data-action="interest"', "/signup/"):
        assert absent not in body
    assert "/interest/" not in body and "data-connection-only" not in body
    assert "Connection cost" not in text


def test_a_retired_addresses_forms_are_closed_with_a_message(client, town):
    home = town.address("demand_aggregation")
    addresses_retire(address_ids=[home.pk], reason="gone")
    headline = "This address is no longer in the network's records."

    signup = client.post(
        f"/lookup/address/{home.pk}/signup/",
        {"offering": town.offerings[0].pk, "consent": "on", **ERIKA},
        follow=True,
    )
    interest = client.post(
        f"/lookup/address/{home.pk}/interest/",
        {"name": "E", "email": "e@example.org", "consent": "on"},
        follow=True,
    )

    for response in (signup, interest):
        assert response.redirect_chain[-1][0] == f"/lookup/address/{home.pk}/"
        assert _messages(response) == [headline]
    assert Order.objects.count() == 0
    assert InterestRegistration.objects.count() == 0


def test_an_order_at_an_address_retired_since_says_it_is_looked_into(client, town):
    order = _sign_up(town, town.address("demand_aggregation"), town.offerings[0])
    addresses_retire(address_ids=[order.address_id], reason="gone")

    response = client.get(f"/lookup/orders/{order.manage_token}/")

    assert response.status_code == 200
    text = _text(response)
    assert order.reference in text
    assert "Your address is no longer in the network's records." in text
    assert response.context["slots"] == []


def test_an_unknown_address_is_a_404_page(client, town):
    assert client.get("/lookup/address/987654321/").status_code == 404


def test_no_other_customers_name_or_email_appears_on_the_address_page(client, town):
    _cost(town)
    home = town.address("in_deployment", units=6, premises_type="mdu_flat")
    neighbour = town.address("in_deployment", 1)
    _sign_up(town, home, town.offerings[0], unit="Flat 1", name="Zora Geheim", email="zg@x.org")
    _sign_up(
        town, neighbour, town.offerings[1], name="Yusuf Verborgen", email="yusuf@hidden.example"
    )
    interest_register(address=home, source="web")

    for page in (
        f"/lookup/address/{home.pk}/",
        f"/lookup/address/{home.pk}/?sort=speed",
        f"/lookup/address/{home.pk}/signup/?offering={town.offerings[0].pk}",
        f"/lookup/address/{neighbour.pk}/",
        f"/lookup/?q={home.street}",
    ):
        body = client.get(page).content.decode()
        for secret in ("Zora", "Geheim", "zg@x.org", "Yusuf", "Verborgen", "yusuf@hidden"):
            assert secret not in body, (page, secret)
        assert "+49 30 123" not in body
        assert "manage_token" not in body and "/lookup/orders/" not in body


# --- signup -------------------------------------------------------------------------------------


def test_the_signup_form_summarises_the_connection_cost_before_the_subscription(client, town):
    _cost(town)
    home = town.address("in_deployment")
    offering = town.offerings[0]

    response = client.get(f"/lookup/address/{home.pk}/signup/", {"offering": offering.pk})

    assert response.status_code == 200
    html, text = response.content.decode(), _text(response)
    assert "1. Connection cost" in text and "2. Your subscription" in text
    assert html.index("data-cost-total") < html.index("data-chosen") < html.index("€39.90")
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'autocomplete="email"' in html and 'autocomplete="tel"' in html
    assert "<a href='#terms'>terms</a>" in html
    assert 'name="unit"' not in html  # a single-family home names no flat


def test_a_signup_places_the_order_and_lands_on_its_page(client, town):
    _cost(town)
    home = town.address("in_deployment")
    offering = town.offerings[1]

    response = client.post(
        f"/lookup/address/{home.pk}/signup/",
        {"offering": offering.pk, "consent": "on", **ERIKA},
    )

    order = Order.objects.get(address=home)
    assert response.status_code == 302
    assert response["Location"] == f"/lookup/orders/{order.manage_token}/"
    assert order.offering == offering and order.customer.email == "erika@example.org"
    assert order.connection_cost_total == Decimal("5000.00")
    page = client.get(response["Location"])
    assert order.reference in _text(page)
    assert any(order.reference in message for message in _messages(page))


def test_a_connection_only_signup_where_it_is_enabled(client, town):
    _cost(town, connection_only_enabled=True)
    home = town.address("in_deployment")

    answer_page = client.get(f"/lookup/address/{home.pk}/")
    assert f"/lookup/address/{home.pk}/signup/?connection_only=1" in answer_page.content.decode()
    response = client.post(
        f"/lookup/address/{home.pk}/signup/?connection_only=1",
        {"connection_only": "1", "consent": "on", **ERIKA},
    )

    order = Order.objects.get(address=home)
    assert response.status_code == 302
    assert order.offering is None and order.isp is None


def test_connection_only_where_it_is_not_enabled_goes_back_with_a_message(client, town):
    home = town.address("in_deployment")

    response = client.get(f"/lookup/address/{home.pk}/signup/?connection_only=1", follow=True)

    assert response.redirect_chain[-1][0] == f"/lookup/address/{home.pk}/"
    assert _messages(response) == ["A connection on its own is not offered at this address."]


def test_a_second_signup_at_the_same_address_is_a_message_not_a_duplicate(client, town):
    home = town.address("in_deployment")
    _sign_up(town, home, town.offerings[0])

    response = client.post(
        f"/lookup/address/{home.pk}/signup/",
        {"offering": town.offerings[1].pk, "consent": "on", **ERIKA, "email": "other@x.org"},
    )

    assert response.status_code == 200
    (message,) = _messages(response)
    assert message.startswith("A signup for this address") and "already in progress" in message
    assert message in _text(response)
    assert Order.objects.filter(address=home).count() == 1


def test_a_flat_in_an_mdu_must_be_named_and_is_kept_on_the_order(client, town):
    building = town.address("in_deployment", units=8, premises_type="mdu_flat")
    url = f"/lookup/address/{building.pk}/signup/?offering={town.offerings[0].pk}"

    missing = client.post(url, {"offering": town.offerings[0].pk, "consent": "on", **ERIKA})
    assert missing.status_code == 200
    assert "Please say which flat" in _text(missing)
    assert not Order.objects.filter(address=building).exists()

    done = client.post(
        url, {"offering": town.offerings[0].pk, "consent": "on", "unit": "Flat 7", **ERIKA}
    )
    assert done.status_code == 302
    assert Order.objects.get(address=building).unit == "Flat 7"


def test_missing_consent_or_details_are_shown_on_the_form_and_nothing_is_written(client, town):
    home = town.address("in_deployment")

    response = client.post(
        f"/lookup/address/{home.pk}/signup/",
        {"offering": town.offerings[0].pk, "name": "", "email": "not-an-email", "phone": ""},
    )

    assert response.status_code == 200
    text = _text(response)
    assert "Please tick the box to agree to the terms." in text
    assert "Enter a valid email address." in text
    assert 'aria-invalid="true"' in response.content.decode()
    assert Order.objects.count() == 0 and Customer.objects.count() == 0


def test_an_offering_not_sold_at_the_address_is_refused_with_a_message(client, town):
    elsewhere = OfferingFactory(name="Elsewhere 100")  # its ISP serves no area of the town
    home = town.address("in_deployment")

    response = client.get(
        f"/lookup/address/{home.pk}/signup/", {"offering": elsewhere.pk}, follow=True
    )

    assert _messages(response) == ["Please choose one of the offers available at this address."]
    assert Order.objects.count() == 0


def test_signup_is_closed_where_the_address_cannot_sign_up(client, town):
    home = town.address(None)

    response = client.get(
        f"/lookup/address/{home.pk}/signup/?offering={town.offerings[0].pk}", follow=True
    )

    assert response.redirect_chain[-1][0] == f"/lookup/address/{home.pk}/"
    assert _messages(response) == ["This address cannot be signed up for yet."]


# --- interest -------------------------------------------------------------------------------


def test_registering_interest_counts_and_a_repeat_is_a_message(client, town):
    home = town.address("planning")
    data = {"name": "Erika Mustermann", "email": "erika@example.org", "consent": "on"}

    first = client.post(f"/lookup/address/{home.pk}/interest/", data, follow=True)
    second = client.post(f"/lookup/address/{home.pk}/interest/", data)

    assert first.redirect_chain[-1][0] == f"/lookup/address/{home.pk}/"
    assert "your interest is noted" in _messages(first)[0]
    assert InterestRegistration.objects.filter(address=home).count() == 1
    assert second.status_code == 200
    assert "You have already registered interest" in _text(second)


def test_the_interest_form_needs_consent(client, town):
    home = town.address("planning")

    response = client.post(
        f"/lookup/address/{home.pk}/interest/", {"name": "E", "email": "e@example.org"}
    )

    assert "Please tick the box so we may contact you." in _text(response)
    assert InterestRegistration.objects.count() == 0


# --- CSRF ---------------------------------------------------------------------------------------


def test_every_form_needs_its_csrf_token(strict_client, town):
    _cost(town)
    home = town.address("in_deployment")
    signup_url = f"/lookup/address/{home.pk}/signup/?offering={town.offerings[0].pk}"
    data = {"offering": town.offerings[0].pk, "consent": "on", **ERIKA}

    assert strict_client.post(signup_url, data).status_code == 403
    assert (
        strict_client.post(
            f"/lookup/address/{home.pk}/interest/",
            {"name": "E", "email": "e@x.org", "consent": "on"},
        ).status_code
        == 403
    )
    assert Order.objects.count() == 0

    page = strict_client.get(signup_url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = strict_client.post(signup_url, {**data, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    order = Order.objects.get()

    manage = f"/lookup/orders/{order.manage_token}/"
    (slot,) = town.slots("in_deployment", count=1)
    assert strict_client.post(manage, {"action": "book", "slot": slot.pk}).status_code == 403
    assert not Booking.objects.exists()


# --- the order's page -----------------------------------------------------------------------


def test_an_unknown_order_link_is_a_404(client, town):
    assert client.get("/lookup/orders/not-a-real-token-at-all/").status_code == 404


def test_the_order_page_shows_the_reference_status_next_step_and_the_signed_cost(client, town):
    _cost(town)
    order = _sign_up(town, town.address("in_deployment"), town.offerings[0])
    _cost(town, deposit=None)  # later changes to the terms do not reach the order

    response = client.get(f"/lookup/orders/{order.manage_token}/")

    text = _text(response)
    assert order.reference in text
    assert order.get_status_display() in text
    assert "the fibre is being built in your area" in text
    assert "Installation times for your area are not open yet" in text
    assert "Deposit at signup €1,000.00" in text
    assert "Spree Net" in text and "€39.90" in text
    assert "24 months, 30 days' notice" in _text(client.get(f"/lookup/address/{order.address_id}/"))


def test_booking_moving_and_cancelling_the_installation(client, town):
    first, second = town.slots("in_deployment", count=2, capacity=1)
    order = _sign_up(town, town.address("in_deployment"), town.offerings[0])
    url = f"/lookup/orders/{order.manage_token}/"

    page = client.get(url)
    assert f'value="{first.pk}"' in page.content.decode()
    assert "Pick a time for the installation" in _text(page)

    booked = client.post(url, {"action": "book", "slot": first.pk}, follow=True)
    assert Order.objects.get(pk=order.pk).active_booking.slot == first
    assert "Booked:" in _text(booked)
    (message,) = _messages(booked)
    assert message.startswith("Your installation is booked for ")
    assert "Pick a time for the installation in your home below" in _text(booked)
    assert f'value="{first.pk}"' not in booked.content.decode()  # not offered again

    moved = client.post(url, {"action": "book", "slot": second.pk}, follow=True)
    assert Order.objects.get(pk=order.pk).active_booking.slot == second
    assert _messages(moved)[0].startswith("Your installation is moved to ")
    assert "Move the appointment" in _text(moved)

    cancelled = client.post(url, {"action": "cancel"}, follow=True)
    assert _messages(cancelled) == [
        "Your installation appointment is cancelled. You can book another time below."
    ]
    assert Order.objects.get(pk=order.pk).active_booking is None
    assert Booking.objects.filter(order=order, status=BookingStatus.CANCELLED).count() == 1
    assert "Pick a time for the installation" in _text(cancelled)


def test_a_full_slot_is_a_message_not_an_error(client, town):
    (slot,) = town.slots("in_deployment", count=1, capacity=1)
    mine = _sign_up(town, town.address("in_deployment"), town.offerings[0])
    other = _sign_up(
        town, town.address("in_deployment", 1), town.offerings[1], email="someone@x.org"
    )
    booking_create(order=other, slot=slot)

    response = client.post(
        f"/lookup/orders/{mine.manage_token}/", {"action": "book", "slot": slot.pk}
    )

    assert response.status_code == 200
    (message,) = _messages(response)
    assert "fully booked" in message
    assert Order.objects.get(pk=mine.pk).active_booking is None


def test_booking_is_not_offered_before_the_area_is_in_deployment(client, town):
    order = _sign_up(town, town.address("demand_aggregation"), town.offerings[0])

    response = client.get(f"/lookup/orders/{order.manage_token}/")

    assert "once the build in your area has started" in _text(response)
    assert "once enough neighbours have signed up" in _text(response)
    assert "data-slot-form" not in response.content.decode()
    assert order.status == OrderStatus.AWAITING_INFRASTRUCTURE
