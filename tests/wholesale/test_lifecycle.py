"""The order lifecycle: the map allows exactly the documented moves; legal moves leave one
history row and one event; illegal ones are refused with the allowed moves named and change
nothing."""

import pytest
from django.utils import timezone

from common.errors import InvalidTransition
from common.models import DomainEvent, OutboxMessage
from tests.accounts.factories import UserFactory
from tests.wholesale.factories import OrderFactory
from wholesale.events import ORDER_STATUS_CHANGED
from wholesale.lifecycle import LIVE_ORDER_STATUSES, ORDER_TRANSITIONS, OrderStatus
from wholesale.models import Order, OrderStatusChange
from wholesale.services import order_cancel, order_transition

S = OrderStatus


def _move(to: str):
    """The lifecycle's one helper, for the moves no public service makes yet (the wholesale
    issue adds activation and termination); cancellation goes through `order_cancel`."""

    def move(*, order: Order, actor=None, reason: str = "") -> Order:
        if to == S.CANCELLED:
            return order_cancel(order=order, actor=actor, reason=reason)
        return order_transition(order=order, to=to, actor=actor, reason=reason)

    return move


# From a new order (awaiting the infrastructure at a planned address) to each status.
PATH_TO = {
    S.AWAITING_INFRASTRUCTURE: [],
    S.READY_FOR_ACTIVATION: [S.READY_FOR_ACTIVATION],
    S.ACTIVE: [S.READY_FOR_ACTIVATION, S.ACTIVE],
    S.TERMINATED: [S.READY_FOR_ACTIVATION, S.ACTIVE, S.TERMINATED],
    S.CANCELLED: [S.CANCELLED],
}

LEGAL_MOVES = [
    (S.AWAITING_INFRASTRUCTURE, S.READY_FOR_ACTIVATION),
    (S.AWAITING_INFRASTRUCTURE, S.CANCELLED),
    (S.READY_FOR_ACTIVATION, S.ACTIVE),
    (S.READY_FOR_ACTIVATION, S.CANCELLED),
    (S.ACTIVE, S.TERMINATED),
]

REFUSALS = {
    (S.ACTIVE, S.CANCELLED): (
        "order cannot move from active to cancelled (allowed from active: terminated)"
    ),
    (S.CANCELLED, S.CANCELLED): (
        "order cannot move from cancelled to cancelled (cancelled is final)"
    ),
    (S.TERMINATED, S.CANCELLED): (
        "order cannot move from terminated to cancelled (terminated is final)"
    ),
    (S.AWAITING_INFRASTRUCTURE, S.ACTIVE): (
        "order cannot move from awaiting_infrastructure to active"
        " (allowed from awaiting_infrastructure: cancelled, ready_for_activation)"
    ),
    (S.READY_FOR_ACTIVATION, S.AWAITING_INFRASTRUCTURE): (
        "order cannot move from ready_for_activation to awaiting_infrastructure"
        " (allowed from ready_for_activation: active, cancelled)"
    ),
    (S.CANCELLED, S.READY_FOR_ACTIVATION): (
        "order cannot move from cancelled to ready_for_activation (cancelled is final)"
    ),
    (S.ACTIVE, S.RECEIVED): (
        "order cannot move from active to received (allowed from active: terminated)"
    ),
}


def _order_in(status: str) -> Order:
    order = OrderFactory()
    for step in PATH_TO[status]:
        order = _move(step)(order=order, reason="getting there")
    return Order.objects.get(pk=order.pk)


def _status_events(order: Order) -> list[dict]:
    return [
        payload
        for payload in DomainEvent.objects.filter(topic=ORDER_STATUS_CHANGED)
        .order_by("occurred_at")
        .values_list("payload", flat=True)
        if payload["order_id"] == order.pk
    ]


def _counts() -> tuple[int, int, int]:
    return (
        OrderStatusChange.objects.count(),
        DomainEvent.objects.count(),
        OutboxMessage.objects.count(),
    )


def test_the_map_allows_exactly_the_documented_moves():
    assert ORDER_TRANSITIONS.moves == {
        S.RECEIVED: {S.AWAITING_INFRASTRUCTURE, S.READY_FOR_ACTIVATION, S.CANCELLED},
        S.AWAITING_INFRASTRUCTURE: {S.READY_FOR_ACTIVATION, S.CANCELLED},
        S.READY_FOR_ACTIVATION: {S.ACTIVE, S.CANCELLED},
        S.ACTIVE: {S.TERMINATED},
        S.TERMINATED: set(),
        S.CANCELLED: set(),
    }
    assert set(ORDER_TRANSITIONS.moves) == set(S.values)


def test_an_order_can_be_cancelled_at_any_point_before_it_is_active_and_never_after():
    cancellable = {status for status in S.values if ORDER_TRANSITIONS.can(status, S.CANCELLED)}
    assert cancellable == {S.RECEIVED, S.AWAITING_INFRASTRUCTURE, S.READY_FOR_ACTIVATION}


def test_live_orders_are_those_neither_cancelled_nor_terminated():
    assert set(LIVE_ORDER_STATUSES) == set(S.values) - {S.CANCELLED, S.TERMINATED}


@pytest.mark.parametrize(
    ("source", "target"), LEGAL_MOVES, ids=[f"{s}-to-{t}" for s, t in LEGAL_MOVES]
)
def test_a_legal_move_leaves_one_history_row_and_one_event(db, source, target):
    # given an order in the source status and an ISP user
    order = _order_in(source)
    actor = UserFactory(isp=True)
    history_before = OrderStatusChange.objects.filter(order=order).count()
    events_before = len(_status_events(order))

    # when it is moved
    before = timezone.now()
    moved = _move(target)(order=order, actor=actor, reason="ticket 4711")
    after = timezone.now()

    # then it has the new status, one more history row and one more event
    stored = Order.objects.get(pk=order.pk)
    assert moved.status == stored.status == target
    assert before <= stored.status_changed_at <= after
    history = list(OrderStatusChange.objects.filter(order=order).order_by("id"))
    assert len(history) == history_before + 1
    row = history[-1]
    assert (row.from_status, row.to_status, row.actor, row.reason, row.changed_at) == (
        source,
        target,
        actor,
        "ticket 4711",
        stored.status_changed_at,
    )
    events = _status_events(order)
    assert len(events) == events_before + 1
    assert events[-1] == {
        "order_id": order.pk,
        "address_id": order.address_id,
        "isp_id": order.isp_id,
        "from_status": source,
        "to_status": target,
        "actor_id": actor.pk,
        "reason": "ticket 4711",
    }


@pytest.mark.parametrize(
    ("source", "target"), list(REFUSALS), ids=[f"{s}-to-{t}" for s, t in REFUSALS]
)
def test_an_illegal_move_is_refused_and_changes_nothing(db, source, target):
    order = _order_in(source)
    counts = _counts()

    with pytest.raises(InvalidTransition) as raised:
        _move(target)(order=order, actor=UserFactory(isp=True), reason="try it")

    assert raised.value.message == REFUSALS[(source, target)]
    assert raised.value.code == "invalid_transition"
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.status_changed_at) == (source, order.status_changed_at)
    assert _counts() == counts


def test_a_new_order_is_received_then_waits_for_the_infrastructure(db):
    order = OrderFactory()

    history = OrderStatusChange.objects.filter(order=order).order_by("id")
    assert [(row.from_status, row.to_status, row.reason) for row in history] == [
        ("", S.RECEIVED, "placed"),
        (S.RECEIVED, S.AWAITING_INFRASTRUCTURE, "address status"),
    ]
    assert [event["to_status"] for event in _status_events(order)] == [S.AWAITING_INFRASTRUCTURE]


def test_an_order_goes_from_placed_to_terminated_with_its_whole_history(db):
    order = _order_in(S.TERMINATED)

    history = OrderStatusChange.objects.filter(order=order).order_by("changed_at", "id")
    assert [(row.from_status, row.to_status) for row in history] == [
        ("", S.RECEIVED),
        (S.RECEIVED, S.AWAITING_INFRASTRUCTURE),
        (S.AWAITING_INFRASTRUCTURE, S.READY_FOR_ACTIVATION),
        (S.READY_FOR_ACTIVATION, S.ACTIVE),
        (S.ACTIVE, S.TERMINATED),
    ]
