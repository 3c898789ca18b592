"""The area phase lifecycle: legal moves leave history and an event; illegal ones change nothing."""

import pytest
from django.utils import timezone

from areas import services
from areas.events import AREA_PHASE_CHANGED
from areas.lifecycle import AreaPhase
from areas.models import Area, AreaPhaseChange
from common.errors import DomainError, InvalidTransition
from common.models import DomainEvent, OutboxMessage
from tests.accounts.factories import UserFactory
from tests.areas.factories import AreaFactory

P = AreaPhase

LEGAL_MOVES = [
    (services.area_start_demand_aggregation, P.PLANNING, P.DEMAND_AGGREGATION),
    (services.area_return_to_planning, P.DEMAND_AGGREGATION, P.PLANNING),
    (services.area_deploy, P.DEMAND_AGGREGATION, P.IN_DEPLOYMENT),
    (services.area_go_live, P.IN_DEPLOYMENT, P.LIVE),
]

PATH_TO = {
    P.PLANNING: [],
    P.DEMAND_AGGREGATION: [services.area_start_demand_aggregation],
    P.IN_DEPLOYMENT: [services.area_start_demand_aggregation, services.area_deploy],
    P.LIVE: [services.area_start_demand_aggregation, services.area_deploy, services.area_go_live],
}

REFUSALS = {
    (P.PLANNING, P.IN_DEPLOYMENT): (
        "area cannot move from planning to in_deployment"
        " (allowed from planning: demand_aggregation)"
    ),
    (P.PLANNING, P.LIVE): (
        "area cannot move from planning to live (allowed from planning: demand_aggregation)"
    ),
    (P.PLANNING, P.PLANNING): (
        "area cannot move from planning to planning (allowed from planning: demand_aggregation)"
    ),
    (P.DEMAND_AGGREGATION, P.LIVE): (
        "area cannot move from demand_aggregation to live"
        " (allowed from demand_aggregation: in_deployment, planning)"
    ),
    (P.IN_DEPLOYMENT, P.PLANNING): (
        "area cannot move from in_deployment to planning (allowed from in_deployment: live)"
    ),
    (P.IN_DEPLOYMENT, P.DEMAND_AGGREGATION): (
        "area cannot move from in_deployment to demand_aggregation"
        " (allowed from in_deployment: live)"
    ),
    (P.LIVE, P.PLANNING): "area cannot move from live to planning (live is final)",
    (P.LIVE, P.IN_DEPLOYMENT): "area cannot move from live to in_deployment (live is final)",
}

SERVICE_TO = {
    P.PLANNING: services.area_return_to_planning,
    P.DEMAND_AGGREGATION: services.area_start_demand_aggregation,
    P.IN_DEPLOYMENT: services.area_deploy,
    P.LIVE: services.area_go_live,
}


def _area_in(phase: str) -> Area:
    area = AreaFactory()
    for move in PATH_TO[phase]:
        area = move(area=area)
    return Area.objects.get(pk=area.pk)


def _phase_events(area: Area) -> list[dict]:
    return [
        payload
        for payload in DomainEvent.objects.filter(topic=AREA_PHASE_CHANGED)
        .order_by("occurred_at")
        .values_list("payload", flat=True)
        if payload["area_id"] == area.pk
    ]


def _counts() -> tuple[int, int, int]:
    return (
        AreaPhaseChange.objects.count(),
        DomainEvent.objects.count(),
        OutboxMessage.objects.count(),
    )


def test_a_new_area_is_in_planning_with_no_history(db):
    area = AreaFactory()
    assert (area.phase, area.phase_changed_at) == (P.PLANNING, None)
    assert AreaPhaseChange.objects.count() == 0


@pytest.mark.parametrize(
    ("move", "source", "target"),
    LEGAL_MOVES,
    ids=[f"{source}-to-{target}" for _, source, target in LEGAL_MOVES],
)
def test_a_legal_phase_move_leaves_one_history_row_and_one_event(db, move, source, target):
    # given an area in the source phase and a planner
    area = _area_in(source)
    planner = UserFactory()
    history_before = AreaPhaseChange.objects.filter(area=area).count()
    events_before = len(_phase_events(area))

    # when the service moves it
    before = timezone.now()
    moved = move(area=area, actor=planner, reason="board decision 12")
    after = timezone.now()

    # then it is in the target phase, with one history row and one event
    stored = Area.objects.get(pk=area.pk)
    assert moved.phase == stored.phase == target
    assert before <= stored.phase_changed_at <= after
    history = list(AreaPhaseChange.objects.filter(area=area).order_by("id"))
    assert len(history) == history_before + 1
    row = history[-1]
    assert (row.from_phase, row.to_phase, row.actor, row.reason, row.changed_at) == (
        source,
        target,
        planner,
        "board decision 12",
        stored.phase_changed_at,
    )
    events = _phase_events(area)
    assert len(events) == events_before + 1
    assert events[-1] == {
        "area_id": area.pk,
        "from_phase": source,
        "to_phase": target,
        "actor_id": planner.pk,
        "reason": "board decision 12",
    }


@pytest.mark.parametrize(
    ("source", "target"), list(REFUSALS), ids=[f"{s}-to-{t}" for s, t in REFUSALS]
)
def test_an_illegal_phase_move_is_refused_and_changes_nothing(db, source, target):
    area = _area_in(source)
    counts = _counts()

    with pytest.raises(InvalidTransition) as raised:
        SERVICE_TO[target](area=area, actor=UserFactory(), reason="try it")

    assert raised.value.message == REFUSALS[(source, target)]
    stored = Area.objects.get(pk=area.pk)
    assert (stored.phase, stored.phase_changed_at) == (source, area.phase_changed_at)
    assert _counts() == counts


def test_an_area_goes_from_planning_to_live_with_its_whole_history(db):
    area = AreaFactory()
    services.area_start_demand_aggregation(area=area)
    services.area_return_to_planning(area=area, reason="take rate too low")
    for move in PATH_TO[P.LIVE]:
        area = move(area=area)

    history = AreaPhaseChange.objects.filter(area=area).order_by("changed_at", "id")
    assert [(row.from_phase, row.to_phase) for row in history] == [
        (P.PLANNING, P.DEMAND_AGGREGATION),
        (P.DEMAND_AGGREGATION, P.PLANNING),
        (P.PLANNING, P.DEMAND_AGGREGATION),
        (P.DEMAND_AGGREGATION, P.IN_DEPLOYMENT),
        (P.IN_DEPLOYMENT, P.LIVE),
    ]
    assert [event["to_phase"] for event in _phase_events(area)] == [
        P.DEMAND_AGGREGATION,
        P.PLANNING,
        P.DEMAND_AGGREGATION,
        P.IN_DEPLOYMENT,
        P.LIVE,
    ]


def test_a_retired_area_cannot_change_phase(db):
    # given an area that was split (the split service, a later issue, retires it this way)
    area = _area_in(P.DEMAND_AGGREGATION)
    Area.objects.filter(pk=area.pk).update(is_active=False)
    counts = _counts()

    # when its phase is moved, then it is refused and nothing changes
    with pytest.raises(DomainError) as raised:
        services.area_deploy(area=area)

    assert raised.value.message == f"area {area.code} was split; change the phase of its parts"
    assert raised.value.code == "area_retired"
    assert Area.objects.get(pk=area.pk).phase == P.DEMAND_AGGREGATION
    assert _counts() == counts
