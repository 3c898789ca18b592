"""The public lookup API: serviceability, signups, interests and an order's booking; every
refusal is a 400/404/409 with a code and the field at fault, never a 500; throttled with a
clear 429; nothing about other customers in any answer."""

import pytest
from django.test import Client
from django.test.utils import override_settings
from rest_framework.settings import api_settings

from tests.wholesale.conftest import build
from tests.wholesale.factories import OrderFactory
from wholesale.models import InterestRegistration, Order
from wholesale.services import connection_cost_terms_set

pytestmark = pytest.mark.django_db

SIGNUP = {
    "name": "Erika Mustermann",
    "email": "erika@example.org",
    "phone": "+49 30 123",
    "consent": True,
    "connection_only": False,
    "unit": "",
}


@pytest.fixture
def client():
    return Client()


def _post(client, url, data, **extra):
    return client.post(url, data, content_type="application/json", **extra)


def test_serviceability_by_address_is_the_answer_as_a_dict(client, town):
    from wholesale.serviceability import serviceability_for_address

    home = build(town.address("in_deployment"), "connected")
    response = client.get("/api/serviceability/", {"address": home.pk})
    assert response.status_code == 200
    assert response.json() == serviceability_for_address(home.pk).as_dict()
    assert response.json()["state"] == "available"


def test_a_retired_address_answers_200_retired_and_takes_no_signup_or_interest(client, town):
    from gis_core.services import addresses_retire

    home = build(town.address("in_deployment"), "connected")
    addresses_retire(address_ids=[home.pk], reason="feature gone")

    answer = client.get("/api/serviceability/", {"address": home.pk})
    signup = _post(
        client, "/api/signups/", {**SIGNUP, "address": home.pk, "offering": town.offerings[0].pk}
    )
    interest = _post(
        client,
        "/api/interests/",
        {"address": home.pk, "name": "Max", "email": "max@example.org", "consent": True},
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "retired"
    assert body["headline"] == "This address is no longer in the network's records."
    assert body["offerings"] == [] and body["area"] is None and body["connection_cost"] is None
    assert body["can_sign_up"] is False and body["can_register_interest"] is False
    assert signup.status_code == 400
    assert signup.json()["code"] == "address_retired" and signup.json()["field"] == "address"
    assert interest.status_code == 400
    assert interest.json()["code"] == "address_retired" and interest.json()["field"] == "address"
    assert Order.objects.count() == 0
    assert not InterestRegistration.objects.exists()


def test_serviceability_by_point(client, town):
    home = town.address("demand_aggregation")
    response = client.get("/api/serviceability/", {"lat": home.location.y, "lon": home.location.x})
    assert response.status_code == 200
    assert response.json()["address"]["id"] == home.pk
    assert response.json()["state"] == "gathering_interest"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "address"),
        ({"address": "abc"}, "address"),
        ({"address": "1", "lat": "52.5", "lon": "13.4"}, "address"),
        ({"lat": "52.5"}, "lon"),
        ({"lon": "13.4"}, "lat"),
        ({"lat": "north", "lon": "13.4"}, "lat"),
        ({"lat": "52.5", "lon": "200"}, "lon"),
        ({"lat": "95", "lon": "13.4"}, "lat"),
    ],
)
def test_serviceability_refuses_bad_questions_naming_the_field(client, query, field):
    response = client.get("/api/serviceability/", query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["field"] == field and body["detail"]


def test_serviceability_of_an_unknown_address_is_404(client, db):
    response = client.get("/api/serviceability/", {"address": 99999999})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_serviceability_endpoint_asks_the_database_once(
    client, town, django_assert_max_num_queries
):
    home = town.address("live")
    with django_assert_max_num_queries(1):
        assert client.get("/api/serviceability/", {"address": home.pk}).status_code == 200


def test_a_signup_returns_its_reference_manage_token_and_connection_cost(client, town):
    connection_cost_terms_set(
        area=town.areas["in_deployment"],
        total="5000",
        deposit="1000",
        max_installment="500",
        billed_by=town.billing,
    )
    home = town.address("in_deployment")

    response = _post(
        client, "/api/signups/", {**SIGNUP, "address": home.pk, "offering": town.offerings[0].pk}
    )

    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get(reference=body["reference"])
    assert body["manage_token"] == order.manage_token
    assert body["manage_url"].endswith(f"/lookup/orders/{order.manage_token}/")
    assert body["status"] == "awaiting_infrastructure"
    assert body["connection_cost"]["installments"] == 10
    assert body["connection_cost"]["remaining_after_deposit"] == "4000.00"


def test_a_duplicate_signup_is_409(client, town):
    home = town.address("in_deployment")
    data = {**SIGNUP, "address": home.pk, "offering": town.offerings[0].pk}
    assert _post(client, "/api/signups/", data).status_code == 201

    response = _post(client, "/api/signups/", {**data, "email": "someone@example.org"})

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_signup"
    assert "Erika" not in response.content.decode()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"address": None}, "address"),
        ({"address": "x"}, "address"),
        ({"address": 99999999}, "address"),
        ({"offering": 99999999}, "offering"),
        ({"offering": "cheap"}, "offering"),
        ({"email": "nope"}, "email"),
        ({"name": ""}, "name"),
        ({"consent": False}, "consent"),
        ({"consent": "maybe"}, "consent"),
        ({"unit": "u" * 61}, "unit"),
        ({"spam": 1}, "spam"),
        ({"connection_only": True}, "connection_only"),
    ],
)
def test_signup_refusals_are_400_naming_the_field(client, town, change, field):
    home = town.address("in_deployment")
    data = {**SIGNUP, "address": home.pk, "offering": town.offerings[0].pk, **change}
    data = {key: value for key, value in data.items() if value is not None}

    response = _post(client, "/api/signups/", data)

    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert Order.objects.count() == 0


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '"text"'])
def test_a_body_that_is_not_an_object_is_400(client, db, body):
    response = client.post("/api/signups/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in ("invalid", "parse_error")


def test_interest_is_registered_once(client, town):
    home = town.address("planning")
    data = {"address": home.pk, "name": "Max", "email": "max@example.org", "consent": True}

    first = _post(client, "/api/interests/", data)
    second = _post(client, "/api/interests/", data)

    assert first.status_code == 201
    assert set(first.json()) == {"address", "registered_at", "detail"}
    assert second.status_code == 409 and second.json()["code"] == "duplicate_interest"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"consent": False}, "consent"), ({"email": "x"}, "email"), ({"address": 0}, "address")],
)
def test_interest_refusals_are_400(client, town, change, field):
    data = {"address": town.address("planning").pk, "name": "Max", "email": "m@example.org"}
    response = _post(client, "/api/interests/", {**data, "consent": True, **change})
    assert response.status_code == 400 and response.json()["field"] == field


def test_booking_through_the_manage_link(client, town):
    first, second = town.slots("in_deployment", capacity=1)
    order = OrderFactory(address=town.address("in_deployment"))
    base = f"/api/orders/{order.manage_token}"

    slots = client.get(f"{base}/slots/").json()
    assert [slot["id"] for slot in slots["slots"]] == [first.pk, second.pk]
    assert slots["booking"] is None and slots["reference"] == order.reference

    booked = _post(client, f"{base}/booking/", {"slot": first.pk})
    assert booked.status_code == 201 and booked.json()["slot"]["id"] == first.pk

    moved = _post(client, f"{base}/booking/", {"slot": second.pk})
    assert moved.status_code == 200 and moved.json()["slot"]["id"] == second.pk
    assert client.get(f"{base}/slots/").json()["booking"]["id"] == moved.json()["id"]

    cancelled = client.delete(f"{base}/booking/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.delete(f"{base}/booking/").status_code == 404


def test_booking_refusals(client, town):
    (slot,) = town.slots("in_deployment", count=1, capacity=1)
    order = OrderFactory(address=town.address("in_deployment"))
    other = OrderFactory(address=town.address("in_deployment", 1))
    base = f"/api/orders/{order.manage_token}"
    assert (
        _post(client, f"/api/orders/{other.manage_token}/booking/", {"slot": slot.pk}).status_code
        == 201
    )

    full = _post(client, f"{base}/booking/", {"slot": slot.pk})
    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    assert _post(client, f"{base}/booking/", {"slot": 99999999}).json()["field"] == "slot"
    assert _post(client, f"{base}/booking/", {}).json()["field"] == "slot"
    assert _post(client, f"{base}/booking/", {"slot": "soon"}).status_code == 400
    assert client.get("/api/orders/not-a-token/slots/").status_code == 404
    assert _post(client, "/api/orders/not-a-token/booking/", {"slot": slot.pk}).status_code == 404


def test_throttling_answers_429_with_a_clear_message(client, town):
    home = town.address("live")
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "lookup": "3/min"}
    with override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": rates}):
        statuses = [
            client.get("/api/serviceability/", {"address": home.pk}).status_code for _ in range(3)
        ]
        refused = client.get("/api/serviceability/", {"address": home.pk})
        signup = _post(client, "/api/signups/", {**SIGNUP, "address": home.pk})
        # another client is not affected
        other = Client(REMOTE_ADDR="192.0.2.7").get("/api/serviceability/", {"address": home.pk})

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "throttled"
    assert body["detail"].startswith("Too many requests") and "try again in" in body["detail"]
    assert int(refused["Retry-After"]) >= 1
    assert signup.status_code == 429
    assert other.status_code == 200


def _rest_framework() -> dict:
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)


def test_a_session_authenticated_write_needs_the_csrf_token(town, planner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(planner)
    home = town.address("planning")
    data = {"address": home.pk, "name": "Max", "email": "m@example.org", "consent": True}
    assert _post(browser, "/api/interests/", data).status_code == 403
    # an anonymous caller needs no session and no token
    assert _post(Client(enforce_csrf_checks=True), "/api/interests/", data).status_code == 201


def test_the_lookup_endpoints_are_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/serviceability/",
        "/api/signups/",
        "/api/interests/",
        "/api/orders/{token}/slots/",
        "/api/orders/{token}/booking/",
    ):
        assert path in schema["paths"], path
    answer = schema["components"]["schemas"]["Serviceability"]["properties"]
    from wholesale.serviceability import Serviceability

    assert set(answer) == set(Serviceability(state="outside", headline="", detail="").as_dict())
