"""The address lifecycle: every legal move leaves one history row and one event; illegal
moves are refused with the allowed ones named and change nothing."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.errors import InvalidTransition
from common.models import DomainEvent, OutboxMessage
from gis_core import services
from gis_core.events import ADDRESS_STATUS_CHANGED
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address, AddressStatusChange
from tests.accounts.factories import UserFactory
from tests.areas.factories import AreaFactory, square
from tests.gis_core.factories import AddressFactory

S = AddressStatus

# (service, from, to): every move the lifecycle allows, each through its named service.
LEGAL_MOVES = [
    (services.address_await_deployment, S.PLANNED, S.AWAITING_DEPLOYMENT),
    (services.address_return_to_planned, S.AWAITING_DEPLOYMENT, S.PLANNED),
    (services.address_start_deployment, S.AWAITING_DEPLOYMENT, S.IN_DEPLOYMENT),
    (services.address_stop_deployment, S.IN_DEPLOYMENT, S.AWAITING_DEPLOYMENT),
    (services.address_connect, S.IN_DEPLOYMENT, S.CONNECTED),
    (services.address_activate, S.CONNECTED, S.ACTIVATED),
    (services.address_deactivate, S.ACTIVATED, S.CONNECTED),
]

# How to reach each status from `planned`, through the services.
PATH_TO = {
    S.PLANNED: [],
    S.AWAITING_DEPLOYMENT: [services.address_await_deployment],
    S.IN_DEPLOYMENT: [services.address_await_deployment, services.address_start_deployment],
    S.CONNECTED: [
        services.address_await_deployment,
        services.address_start_deployment,
        services.address_connect,
    ],
    S.ACTIVATED: [
        services.address_await_deployment,
        services.address_start_deployment,
        services.address_connect,
        services.address_activate,
    ],
}

ALLOWED = {
    S.PLANNED: "awaiting_deployment",
    S.AWAITING_DEPLOYMENT: "in_deployment, planned",
    S.IN_DEPLOYMENT: "awaiting_deployment, connected",
    S.CONNECTED: "activated",
    S.ACTIVATED: "connected",
}

# (service, from, to) for moves the lifecycle refuses.
ILLEGAL_MOVES = [
    (services.address_connect, S.PLANNED, S.CONNECTED),
    (services.address_activate, S.PLANNED, S.ACTIVATED),
    (services.address_start_deployment, S.PLANNED, S.IN_DEPLOYMENT),
    (services.address_deactivate, S.PLANNED, S.CONNECTED),
    (services.address_return_to_planned, S.PLANNED, S.PLANNED),
    (services.address_activate, S.AWAITING_DEPLOYMENT, S.ACTIVATED),
    (services.address_connect, S.AWAITING_DEPLOYMENT, S.CONNECTED),
    (services.address_activate, S.IN_DEPLOYMENT, S.ACTIVATED),
    (services.address_return_to_planned, S.IN_DEPLOYMENT, S.PLANNED),
    (services.address_start_deployment, S.CONNECTED, S.IN_DEPLOYMENT),
    (services.address_return_to_planned, S.CONNECTED, S.PLANNED),
    (services.address_stop_deployment, S.CONNECTED, S.AWAITING_DEPLOYMENT),
    (services.address_return_to_planned, S.ACTIVATED, S.PLANNED),
    (services.address_start_deployment, S.ACTIVATED, S.IN_DEPLOYMENT),
    (services.address_activate, S.ACTIVATED, S.ACTIVATED),
]


def _address_in(status: str) -> Address:
    address = AddressFactory()
    for move in PATH_TO[status]:
        address = move(address=address, reason="setting the scene")
    return Address.objects.get(pk=address.pk)


def _status_events(address: Address) -> list[dict]:
    return [
        event.payload
        for event in DomainEvent.objects.filter(topic=ADDRESS_STATUS_CHANGED).order_by(
            "occurred_at"
        )
        if event.payload["address_id"] == address.pk
    ]


def test_a_new_address_is_planned_with_no_history(db):
    address = AddressFactory()

    assert address.status == S.PLANNED
    assert address.status_changed_at is None
    assert AddressStatusChange.objects.count() == 0


@pytest.mark.parametrize(
    ("move", "source", "target"),
    LEGAL_MOVES,
    ids=[f"{source}-to-{target}" for _, source, target in LEGAL_MOVES],
)
def test_a_legal_move_leaves_one_history_row_and_one_event(db, move, source, target):
    # given an address in the source status and a planner acting
    address = _address_in(source)
    actor = UserFactory()
    history_before = AddressStatusChange.objects.filter(address=address).count()
    events_before = len(_status_events(address))

    # when the service moves it
    before = timezone.now()
    moved = move(address=address, actor=actor, reason="ticket 4711")
    after = timezone.now()

    # then the address is in the target status since now
    stored = Address.objects.get(pk=address.pk)
    assert moved.status == stored.status == target
    assert before <= stored.status_changed_at <= after

    # and exactly one history row says who, when, from, to and why
    history = list(AddressStatusChange.objects.filter(address=address).order_by("id"))
    assert len(history) == history_before + 1
    row = history[-1]
    assert (row.from_status, row.to_status, row.actor, row.reason) == (
        source,
        target,
        actor,
        "ticket 4711",
    )
    assert row.changed_at == stored.status_changed_at

    # and exactly one event was published with ids and values
    events = _status_events(address)
    assert len(events) == events_before + 1
    assert events[-1] == {
        "address_id": address.pk,
        "from_status": source,
        "to_status": target,
        "area_id": None,
        "actor_id": actor.pk,
        "reason": "ticket 4711",
    }


@pytest.mark.parametrize(
    ("move", "source", "target"),
    ILLEGAL_MOVES,
    ids=[f"{move.__name__}-from-{source}" for move, source, _ in ILLEGAL_MOVES],
)
def test_an_illegal_move_is_refused_and_changes_nothing(db, move, source, target):
    # given an address in the source status
    address = _address_in(source)
    status_changed_at = address.status_changed_at
    history = AddressStatusChange.objects.count()
    events = DomainEvent.objects.count()
    outbox = OutboxMessage.objects.count()

    # when the service is asked for a move the lifecycle does not allow
    with pytest.raises(InvalidTransition) as raised:
        move(address=address, actor=UserFactory(), reason="try it")

    # then the refusal names the allowed moves, and nothing changed
    assert raised.value.message == (
        f"address cannot move from {source} to {target} (allowed from {source}: {ALLOWED[source]})"
    )
    assert raised.value.code == "invalid_transition"
    stored = Address.objects.get(pk=address.pk)
    assert (stored.status, stored.status_changed_at) == (source, status_changed_at)
    assert AddressStatusChange.objects.count() == history
    assert DomainEvent.objects.count() == events
    assert OutboxMessage.objects.count() == outbox


def test_the_whole_life_of_an_address_is_in_its_history(db):
    # given a new address, when it goes all the way and back from activated
    address = AddressFactory()
    for move in PATH_TO[S.ACTIVATED]:
        address = move(address=address)
    services.address_deactivate(address=address, reason="last service ended")

    # then its history tells the story in order, without an actor when none was given
    history = AddressStatusChange.objects.filter(address=address).order_by("changed_at", "id")
    assert [(row.from_status, row.to_status, row.actor_id) for row in history] == [
        (S.PLANNED, S.AWAITING_DEPLOYMENT, None),
        (S.AWAITING_DEPLOYMENT, S.IN_DEPLOYMENT, None),
        (S.IN_DEPLOYMENT, S.CONNECTED, None),
        (S.CONNECTED, S.ACTIVATED, None),
        (S.ACTIVATED, S.CONNECTED, None),
    ]
    assert [event["to_status"] for event in _status_events(address)] == [
        S.AWAITING_DEPLOYMENT,
        S.IN_DEPLOYMENT,
        S.CONNECTED,
        S.ACTIVATED,
        S.CONNECTED,
    ]


def test_a_move_works_from_a_stale_copy_of_the_address(db):
    # given two copies of the same address, one moved on by someone else
    address = AddressFactory()
    stale = Address.objects.get(pk=address.pk)
    services.address_await_deployment(address=address)

    # when the stale copy is moved on, then the service reads the current status
    moved = services.address_start_deployment(address=stale)

    assert moved.status == S.IN_DEPLOYMENT
    assert list(
        AddressStatusChange.objects.filter(address=address).values_list("from_status", flat=True)
    ) == [S.PLANNED, S.AWAITING_DEPLOYMENT]


def test_the_event_names_the_area_of_the_address(db):
    area = AreaFactory(boundary=square(13.32, 52.54, 0.02))
    address = AddressFactory()
    assert address.area == area

    services.address_await_deployment(address=address)

    assert _status_events(address)[-1]["area_id"] == area.pk


def test_the_status_column_refuses_values_outside_the_lifecycle(db):
    address = AddressFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.filter(pk=address.pk).update(status="demolished")
    assert Address.objects.get(pk=address.pk).status == S.PLANNED
