"""The serviceability answer: every state by address and by point, from the real state of
the network (address status, area phase, slots, ISPs serving the area, offerings in their
validity, connection-cost terms), in one query."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import Organisation
from areas.services import area_set_expected_connection
from common.errors import DomainError, NotFound
from tests.gis_core.factories import AddressFactory
from tests.wholesale.conftest import CORNERS, OUTSIDE, build
from tests.wholesale.factories import IspFactory, OfferingFactory, OrderFactory, serve
from wholesale.serviceability import serviceability_at_point, serviceability_for_address
from wholesale.services import connection_cost_terms_set, offering_withdraw

pytestmark = pytest.mark.django_db


def _suspend(isp) -> None:
    """Given: an ISP that is no longer active ([wholesale] adds the suspension service)."""
    Organisation.objects.filter(pk=isp.pk).update(is_active=False)


def _names(answer) -> list[str]:
    return [offering["name"] for offering in answer.offerings]


def test_a_connected_address_has_fibre_available_with_every_offering_of_its_area(town):
    home = build(town.address("in_deployment"), "connected")

    answer = serviceability_for_address(home.pk)

    assert answer.state == "available"
    assert answer.headline == "Fibre is available at this address now."
    assert answer.address == {
        "id": home.pk,
        "label": home.label,
        "lon": pytest.approx(home.location.x),
        "lat": pytest.approx(home.location.y),
    }
    assert answer.area["code"] == "t-in_deployment"
    assert answer.area["boundary"]["type"] == "MultiPolygon"
    assert _names(answer) == ["Spree 500", "Kiez 1000"]  # cheapest first
    first = answer.offerings[0]
    assert first == {
        "id": town.offerings[0].pk,
        "isp": {"id": town.isps[0].pk, "name": "Spree Net", "logo_url": None},
        "name": "Spree 500",
        "download_mbps": 500,
        "upload_mbps": 100,
        "monthly_price": "39.90",
        "currency": "EUR",
        "setup_fee": "0.00",
        "contract_months": 24,
        "notice_days": 30,
        "terms": "24 months, then monthly with 30 days' notice.",
    }
    assert answer.can_sign_up is True
    assert answer.can_register_interest is False
    assert answer.window is None and answer.demand is None


def test_an_area_in_deployment_is_being_built_with_its_expected_window(town):
    area_set_expected_connection(
        area=town.areas["in_deployment"], first_day=date(2027, 3, 1), last_day=date(2027, 5, 31)
    )
    home = town.address("in_deployment")

    answer = serviceability_for_address(home.pk)

    assert answer.state == "being_built"
    assert answer.window == {"from": "2027-03-01", "until": "2027-05-31"}
    assert "between 2027-03-01 and 2027-05-31" in answer.detail
    assert answer.can_sign_up is True
    assert answer.booking_open is False  # no slots yet


def test_without_a_set_window_the_window_comes_from_the_areas_slots(town):
    slots = town.slots("in_deployment", count=3, days=2)
    home = town.address("in_deployment")

    answer = serviceability_for_address(home.pk)

    first, last = (timezone.localtime(slot.starts_at).date() for slot in (slots[0], slots[-1]))
    assert answer.window == {"from": first.isoformat(), "until": last.isoformat()}
    assert answer.booking_open is True


def test_full_or_past_slots_do_not_open_booking(town):
    (slot,) = town.slots("in_deployment", count=1)
    home = build(town.address("in_deployment"), "in_deployment")
    from wholesale.services import booking_create

    booking_create(order=OrderFactory(address=town.address("in_deployment", 1)), slot=slot)

    assert serviceability_for_address(home.pk).booking_open is False


def test_an_address_in_deployment_is_being_built_whatever_its_areas_phase(town):
    home = build(town.address("demand_aggregation"), "in_deployment")

    answer = serviceability_for_address(home.pk)

    assert answer.state == "being_built"
    assert answer.demand is None


def test_an_unconnected_home_in_a_live_area_is_being_built(town):
    assert serviceability_for_address(town.address("live").pk).state == "being_built"


def test_an_area_gathering_demand_says_how_far_it_is_from_its_target(town):
    homes = [town.address("demand_aggregation", n) for n in range(10)]
    OrderFactory(address=homes[0])
    OrderFactory(address=homes[1])

    answer = serviceability_for_address(homes[5].pk)

    assert answer.state == "gathering_interest"
    # 10 homes, a 40 % target: 4 needed, 2 signed up
    assert answer.demand == {
        "homes": 10,
        "orders": 2,
        "take_rate": "0.2000",
        "target_take_rate": "0.4000",
        "orders_to_target": 2,
    }
    assert answer.detail.startswith("2 of 10 homes have signed up; 2 more")
    assert answer.can_sign_up is True
    assert answer.can_register_interest is True


def test_an_area_in_planning_is_planned_interest_only(town):
    home = town.address("planning")

    answer = serviceability_for_address(home.pk)

    assert answer.state == "planned"
    assert answer.can_sign_up is False
    assert answer.can_register_interest is True
    assert answer.demand["homes"] == 1
    assert _names(answer) == ["Spree 500", "Kiez 1000"]  # what will be on offer


def test_an_address_in_no_area_is_outside(town):
    home = town.address(None)

    answer = serviceability_for_address(home.pk)

    assert answer.state == "outside"
    assert answer.area is None and answer.offerings == [] and answer.connection_cost is None
    assert answer.headline == "This address is outside our network."
    assert answer.can_sign_up is False
    assert answer.can_register_interest is True


def test_an_unknown_address_is_not_found():
    with pytest.raises(NotFound):
        serviceability_for_address(987654321)


def test_a_point_answers_for_the_nearest_address_within_30_metres(town):
    home = town.address("demand_aggregation")
    town.address("demand_aggregation", 3)  # ~20 m further east

    # ~11 m north of the home
    answer = serviceability_at_point(lon=home.location.x, lat=home.location.y + 0.0001)

    assert answer.address["id"] == home.pk
    assert answer.state == "gathering_interest"


def test_a_point_far_from_any_address_answers_for_its_area_only(town):
    home = town.address("in_deployment")

    # ~45 m south of the only address
    answer = serviceability_at_point(lon=home.location.x, lat=home.location.y - 0.0004)

    assert answer.address is None
    assert answer.area["code"] == "t-in_deployment"
    assert answer.state == "being_built"
    assert answer.can_sign_up is False  # a signup needs an address
    assert "this spot" not in answer.headline


@pytest.mark.parametrize("phase", ["planning", "demand_aggregation", "live"])
def test_every_phase_answers_by_point_as_by_address(town, phase):
    home = town.address(phase)
    by_point = serviceability_at_point(lon=home.location.x, lat=home.location.y)
    assert by_point.as_dict() == serviceability_for_address(home.pk).as_dict()


def test_a_point_outside_every_area_is_outside(town):
    answer = serviceability_at_point(lon=OUTSIDE[0], lat=OUTSIDE[1])

    assert answer.state == "outside"
    assert answer.address is None and answer.area is None
    assert answer.headline == "This spot is outside our network."
    assert answer.can_register_interest is False


@pytest.mark.parametrize(
    ("lon", "lat", "field"),
    [("x", 52.5, "lon"), (13.4, "y", "lat"), (181, 52.5, "lon"), (13.4, -91, "lat"),
     ("nan", 52.5, "lon"), (13.4, "inf", "lat")],
)  # fmt: skip
def test_a_bad_point_is_refused_naming_the_coordinate(lon, lat, field):
    with pytest.raises(DomainError) as refused:
        serviceability_at_point(lon=lon, lat=lat)
    assert refused.value.field == field


def test_offerings_are_those_of_isps_serving_the_area_within_their_validity(town):
    today = timezone.localdate()
    elsewhere = IspFactory(name="Elsewhere Net")
    OfferingFactory(isp=elsewhere, name="not here")  # serves no area
    serve(elsewhere, town.areas["live"])
    spree = town.isps[0]
    OfferingFactory(isp=spree, name="expired", valid_to=today - timedelta(days=1))
    OfferingFactory(isp=spree, name="from tomorrow", valid_from=today + timedelta(days=1))
    OfferingFactory(isp=spree, name="last day today", valid_to=today, monthly_price=Decimal(60))
    OfferingFactory(isp=spree, name="only live", areas=[town.areas["live"]])
    OfferingFactory(isp=spree, name="here too", areas=[town.areas["planning"]], monthly_price=70)
    withdrawn = OfferingFactory(isp=spree, name="withdrawn")
    offering_withdraw(offering=withdrawn, last_day=today - timedelta(days=2))
    home = town.address("planning")

    assert _names(serviceability_for_address(home.pk)) == [
        "Spree 500",
        "Kiez 1000",
        "last day today",
        "here too",
    ]
    live = _names(serviceability_for_address(town.address("live").pk))
    assert "only live" in live and "not here" in live and "here too" not in live


def test_a_suspended_isps_offerings_disappear(town):
    _suspend(town.isps[1])
    home = town.address("planning")
    assert _names(serviceability_for_address(home.pk)) == ["Spree 500"]


def test_the_connection_cost_shows_total_deposit_and_installments(town):
    connection_cost_terms_set(
        area=town.areas["in_deployment"],
        total="5000",
        deposit="1000",
        max_installment="500",
        invoicing_starts="deployment",
        billed_by=town.billing,
    )
    home = town.address("in_deployment")

    answer = serviceability_for_address(home.pk).as_dict()

    assert answer["connection_cost"] == {
        "total": "5000.00",
        "deposit": "1000.00",
        "remaining_after_deposit": "4000.00",
        "max_installment": "500.00",
        "installments": 10,
        "installment_amount": "500.00",
        "invoicing_starts": "deployment",
        "invoicing_starts_label": "when the build of your connection is scheduled",
        "billed_by": "Wedding Fibre Netz",
        "currency": "EUR",
    }
    assert answer["connection_only_available"] is False


def test_an_addresses_own_terms_win_over_its_areas(town):
    area_terms = {"total": "5000", "deposit": "1000", "max_installment": "500"}
    connection_cost_terms_set(
        area=town.areas["in_deployment"], billed_by=town.billing, **area_terms
    )
    special = town.address("in_deployment")
    neighbour = town.address("in_deployment", 1)
    connection_cost_terms_set(
        address=special,
        total="1200",
        max_installment="100",
        billed_by=town.billing,
        connection_only_enabled=True,
    )

    mine = serviceability_for_address(special.pk)
    theirs = serviceability_for_address(neighbour.pk)

    assert mine.connection_cost.as_dict()["total"] == "1200.00"
    assert mine.connection_cost.as_dict()["deposit"] is None
    assert mine.connection_cost.as_dict()["installments"] == 12
    assert mine.connection_only_available is True
    assert theirs.connection_cost.as_dict()["total"] == "5000.00"
    assert theirs.connection_only_available is False


def test_no_offerings_and_no_connection_only_means_no_signup(town):
    _suspend(town.isps[0])
    _suspend(town.isps[1])
    answer = serviceability_for_address(town.address("in_deployment").pk)
    assert answer.state == "being_built" and answer.can_sign_up is False


def test_an_answer_is_one_query(town, django_assert_num_queries):
    connection_cost_terms_set(area=town.areas["live"], total="300", billed_by=town.billing)
    town.slots("live")
    home = town.address("live")
    with django_assert_num_queries(1):
        serviceability_for_address(home.pk)
    with django_assert_num_queries(1):
        serviceability_at_point(lon=home.location.x, lat=home.location.y)
    with django_assert_num_queries(1):
        serviceability_at_point(lon=home.location.x, lat=home.location.y - 0.001)


def test_the_answer_never_names_who_lives_or_ordered_there(town):
    from wholesale.services import signup_place

    home = town.address("demand_aggregation")
    order = signup_place(
        address=home,
        offering=town.offerings[0],
        connection_only=False,
        name="Erika Mustermann",
        email="erika@example.org",
        phone="+49 30 1234567",
        consent=True,
    )

    text = str(serviceability_for_address(home.pk).as_dict())

    for secret in ("Erika", "erika@example.org", "1234567", order.reference, order.manage_token):
        assert secret not in text


def test_a_retired_parent_area_is_never_the_answer(town):
    # a point in no active area but in nothing else either stays outside
    lon, lat = CORNERS["planning"]
    home = AddressFactory(location=Point(lon - 0.01, lat, srid=4326))
    assert serviceability_for_address(home.pk).state == "outside"


def test_a_retired_address_answers_that_it_is_no_longer_in_the_records(town):
    from gis_core.services import addresses_retire

    connection_cost_terms_set(area=town.areas["live"], total="300", billed_by=town.billing)
    home = build(town.address("live"), "connected")
    addresses_retire(address_ids=[home.pk], reason="feature gone from IQGeo")

    answer = serviceability_for_address(home.pk)

    assert answer.state == "retired"
    assert answer.headline == "This address is no longer in the network's records."
    assert "Search for your address again" in answer.detail
    assert "IQGeo" not in answer.headline + answer.detail  # the reason is the operators' note
    assert answer.address["id"] == home.pk and answer.address["label"] == home.label
    assert answer.area is None and answer.window is None and answer.demand is None
    assert answer.offerings == [] and answer.connection_cost is None
    assert answer.can_sign_up is False
    assert answer.can_register_interest is False
    assert answer.connection_only_available is False
    assert answer.booking_open is False


def test_a_retired_address_is_one_query_and_answers_again_once_reinstated(
    town, django_assert_num_queries
):
    from gis_core.services import addresses_reinstate, addresses_retire

    home = town.address("demand_aggregation")
    addresses_retire(address_ids=[home.pk], reason="gone")
    with django_assert_num_queries(1):
        assert serviceability_for_address(home.pk).state == "retired"

    addresses_reinstate(address_ids=[home.pk])

    assert serviceability_for_address(home.pk).state == "gathering_interest"
