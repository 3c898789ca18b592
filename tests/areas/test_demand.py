"""The demand book (interests and signups) and the opt-in to deploy at the target: an area that
opted in moves into deployment exactly when its take rate reaches the target, and only then."""

from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from areas.events import AREA_PHASE_CHANGED
from areas.lifecycle import AreaPhase
from areas.models import Area, AreaFigures, AreaPhaseChange, Interest, Signup
from areas.services import (
    AUTO_DEPLOY_REASON,
    area_deploy,
    area_go_live,
    area_split,
    area_start_demand_aggregation,
    area_update,
    interest_register,
    interest_withdraw,
    signup_record,
    signup_withdraw,
)
from common.errors import Conflict, NotFound
from common.models import DomainEvent, OutboxMessage
from gis_core.models import Address
from tests.accounts.factories import UserFactory
from tests.areas.factories import AreaFactory, square
from tests.areas.recount import assert_figures_true, stored
from tests.gis_core.factories import AddressFactory
from tests.wholesale.factories import OrderFactory
from wholesale.services import order_cancel

WEST = square(13.33, 52.55, 0.01)


def _homes(count: int) -> list[Address]:
    return [
        AddressFactory(location=Point(13.331 + n * 0.0001, 52.551, srid=4326)) for n in range(count)
    ]


def _area(*, target: str = "0.5", phase: str = AreaPhase.DEMAND_AGGREGATION, opted_in=True):
    """An area of the given phase over WEST, opted in to deploy at its target or not."""
    area = AreaFactory(boundary=WEST, target_take_rate=target)
    if phase != AreaPhase.PLANNING:
        area = area_start_demand_aggregation(area=area)
    if phase in (AreaPhase.IN_DEPLOYMENT, AreaPhase.LIVE):
        area = area_deploy(area=area)
    if phase == AreaPhase.LIVE:
        area = area_go_live(area=area)
    if opted_in:
        area = area_update(area=area, deploys_at_target=True)
    return area


def _phase(area: Area) -> str:
    return Area.objects.get(pk=area.pk).phase


def _book() -> tuple:
    """The demand book and the figures, to compare before and after a refusal."""
    return (
        list(Interest.objects.order_by("pk").values_list("pk", "withdrawn_at")),
        list(Signup.objects.order_by("pk").values_list("pk", "order_key", "withdrawn_at")),
        list(AreaFigures.objects.order_by("pk").values_list("pk", "interests", "orders")),
        DomainEvent.objects.count(),
        OutboxMessage.objects.count(),
    )


# --- the book -------------------------------------------------------------------------------


def test_an_interest_is_recorded_with_its_source_and_time(db):
    area = _area(opted_in=False)
    (home,) = _homes(1)
    at = timezone.now().replace(microsecond=0)

    interest = interest_register(address=home, source="door-to-door", at=at)

    stored_interest = Interest.objects.get()
    assert (stored_interest.pk, stored_interest.address, stored_interest.source) == (
        interest.pk,
        home,
        "door-to-door",
    )
    assert (stored_interest.registered_at, stored_interest.withdrawn_at) == (at, None)
    assert (stored(area)["interests"], stored(area)["addresses_with_interest"]) == (1, 1)


def test_withdrawing_an_interest_keeps_it_in_the_book(db):
    area = _area(opted_in=False)
    (home,) = _homes(1)
    interest = interest_register(address=home)

    before = timezone.now()
    withdrawn = interest_withdraw(interest=interest)

    assert before <= Interest.objects.get().withdrawn_at == withdrawn.withdrawn_at
    assert not withdrawn.is_live
    assert stored(area)["interests"] == 0


def test_an_interest_cannot_be_withdrawn_twice_and_nothing_changes(db):
    _area(opted_in=False)
    (home,) = _homes(1)
    interest = interest_withdraw(interest=interest_register(address=home))
    before = _book()

    with pytest.raises(Conflict) as raised:
        interest_withdraw(interest=interest)

    assert (raised.value.message, raised.value.code) == (
        "this interest was already withdrawn",
        "already_withdrawn",
    )
    assert _book() == before


def test_a_signup_is_recorded_once_per_order(db):
    _area(opted_in=False)
    (home,) = _homes(1)
    signup_record(address=home, order_key="order:1")
    before = _book()

    with pytest.raises(Conflict) as raised:
        signup_record(address=home, order_key="order:1")

    assert (raised.value.message, raised.value.code) == (
        "a signup for order:1 is already recorded",
        "duplicate_signup",
    )
    assert _book() == before


def test_withdrawing_a_signup_twice_changes_nothing_the_second_time(db):
    area = _area(opted_in=False)
    (home,) = _homes(1)
    signup_record(address=home, order_key="order:7")
    first = signup_withdraw(order_key="order:7")
    before = _book()

    again = signup_withdraw(order_key="order:7")

    assert again.withdrawn_at == first.withdrawn_at
    assert _book() == before
    assert stored(area)["orders"] == 0


def test_withdrawing_the_signup_of_an_unknown_order_is_refused(db):
    before = _book()

    with pytest.raises(NotFound) as raised:
        signup_withdraw(order_key="order:404")

    assert (raised.value.message, raised.value.status_code) == (
        "no signup is recorded for order:404",
        404,
    )
    assert _book() == before


def test_a_signup_outside_every_area_is_kept_and_moves_no_figures(db):
    area = _area(opted_in=False)
    outside = AddressFactory(location=Point(13.36, 52.551, srid=4326))
    figures = _book()[2]

    signup = signup_record(address=outside, order_key="order:9")
    interest = interest_register(address=outside)

    assert (signup.address.area, interest.address.area) == (None, None)
    assert Signup.objects.get().order_key == "order:9"
    assert _book()[2] == figures
    assert _phase(area) == AreaPhase.DEMAND_AGGREGATION
    signup_withdraw(order_key="order:9")
    assert Signup.objects.get().withdrawn_at is not None
    assert_figures_true()


# --- deploying at the target ----------------------------------------------------------------


def test_an_opted_in_area_deploys_exactly_when_an_order_reaches_its_target(db):
    # given an opted-in area of 4 homes gathering demand for a 50 % target
    area = _area(target="0.5")
    homes = _homes(4)
    planner = UserFactory()

    # when the first order arrives (25 %), it keeps gathering
    OrderFactory(address=homes[0])
    assert _phase(area) == AreaPhase.DEMAND_AGGREGATION

    # and when the second arrives (50 %), it moves into deployment at once, saying why
    OrderFactory(address=homes[1], actor=planner)
    stored_area = Area.objects.get(pk=area.pk)
    assert stored_area.phase == AreaPhase.IN_DEPLOYMENT
    change = AreaPhaseChange.objects.filter(area=area).order_by("id").last()
    assert (change.from_phase, change.to_phase, change.actor, change.reason) == (
        AreaPhase.DEMAND_AGGREGATION,
        AreaPhase.IN_DEPLOYMENT,
        planner,
        AUTO_DEPLOY_REASON,
    )
    assert DomainEvent.objects.filter(topic=AREA_PHASE_CHANGED).order_by(
        "occurred_at"
    ).last().payload == {
        "area_id": area.pk,
        "from_phase": AreaPhase.DEMAND_AGGREGATION,
        "to_phase": AreaPhase.IN_DEPLOYMENT,
        "actor_id": planner.pk,
        "reason": AUTO_DEPLOY_REASON,
    }
    assert stored(area)["progress"] == Decimal(1)


def test_a_second_order_at_the_same_address_does_not_count_towards_the_target(db):
    area = _area(target="0.5")
    homes = _homes(4)
    OrderFactory(address=homes[0])

    OrderFactory(address=homes[0])

    assert (stored(area)["orders"], stored(area)["take_rate"]) == (2, Decimal("0.25"))
    assert _phase(area) == AreaPhase.DEMAND_AGGREGATION


def test_interest_alone_never_deploys_an_area(db):
    area = _area(target="0.5")
    for home in _homes(2):
        interest_register(address=home)

    assert stored(area)["interest_rate"] == Decimal(1)
    assert _phase(area) == AreaPhase.DEMAND_AGGREGATION


def test_an_area_not_opted_in_stays_gathering_demand_above_its_target(db):
    area = _area(target="0.5", opted_in=False)
    homes = _homes(2)

    OrderFactory(address=homes[0])
    OrderFactory(address=homes[1])

    assert stored(area)["progress"] == Decimal(2)
    assert _phase(area) == AreaPhase.DEMAND_AGGREGATION


def test_an_opted_in_area_in_planning_does_not_deploy(db):
    area = _area(target="0.5", phase=AreaPhase.PLANNING)
    (home,) = _homes(1)

    OrderFactory(address=home)

    assert stored(area)["progress"] == Decimal(2)
    assert _phase(area) == AreaPhase.PLANNING


def test_opting_in_an_area_already_at_its_target_deploys_it_at_once(db):
    area = _area(target="0.5", opted_in=False)
    (home,) = _homes(1)
    OrderFactory(address=home)

    updated = area_update(area=area, deploys_at_target=True)

    assert (updated.phase, updated.deploys_at_target) == (AreaPhase.IN_DEPLOYMENT, True)
    assert AreaPhaseChange.objects.filter(area=area).order_by("id").last().reason == (
        AUTO_DEPLOY_REASON
    )


def test_lowering_the_target_to_the_take_rate_deploys_an_opted_in_area(db):
    area = _area(target="0.5")
    homes = _homes(4)
    OrderFactory(address=homes[0])

    area_update(area=area, target_take_rate="0.25")

    assert _phase(area) == AreaPhase.IN_DEPLOYMENT


def test_a_cancellation_after_deployment_leaves_the_area_in_deployment(db):
    area = _area(target="0.5")
    homes = _homes(2)
    order = OrderFactory(address=homes[0])
    assert _phase(area) == AreaPhase.IN_DEPLOYMENT

    order_cancel(order=order)

    assert (stored(area)["take_rate"], _phase(area)) == (Decimal(0), AreaPhase.IN_DEPLOYMENT)
    assert AreaPhaseChange.objects.filter(area=area, to_phase=AreaPhase.IN_DEPLOYMENT).count() == 1


@pytest.mark.parametrize("phase", [AreaPhase.IN_DEPLOYMENT, AreaPhase.LIVE])
def test_orders_in_an_area_already_built_change_no_phase(db, phase):
    area = _area(target="0.5", phase=phase)
    homes = _homes(2)
    history = AreaPhaseChange.objects.filter(area=area).count()

    OrderFactory(address=homes[0])

    assert _phase(area) == phase
    assert AreaPhaseChange.objects.filter(area=area).count() == history


def test_splitting_an_opted_in_area_deploys_the_part_that_has_reached_the_target(db):
    # given an opted-in area at 25 % of a 50 % target, its orders all in the north
    area = _area(target="0.5")
    north = [
        AddressFactory(location=Point(13.331 + n * 0.001, 52.558, srid=4326)) for n in range(2)
    ]
    south = [
        AddressFactory(location=Point(13.331 + n * 0.001, 52.552, srid=4326)) for n in range(6)
    ]
    OrderFactory(address=north[0])
    OrderFactory(address=north[1])
    assert (stored(area)["take_rate"], _phase(area)) == (
        Decimal("0.25"),
        AreaPhase.DEMAND_AGGREGATION,
    )

    # when it is split in half, north and south
    children = area_split(area=area, mode="half", axis="north-south").children

    # then the northern part (100 %) moves into deployment on its own; the south keeps
    # gathering, still opted in
    by_code = {child.code[-1]: Area.objects.get(pk=child.pk) for child in children}
    assert (by_code["n"].phase, by_code["n"].deploys_at_target) == (AreaPhase.IN_DEPLOYMENT, True)
    assert (by_code["s"].phase, by_code["s"].deploys_at_target) == (
        AreaPhase.DEMAND_AGGREGATION,
        True,
    )
    assert AreaPhaseChange.objects.filter(area=by_code["n"]).order_by("id").last().reason == (
        AUTO_DEPLOY_REASON
    )
    assert len(south) == stored(by_code["s"])["homes"]
