"""Placing and cancelling orders: the address, the demand book and the figures follow; refused
or failed requests leave nothing behind (no order, signup, history row, event or outbox row)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from accounts.models import Organisation
from accounts.roles import OrganisationKind
from areas.models import AreaFigures, Signup
from common.errors import DomainError, InvalidTransition
from common.models import DomainEvent, OutboxMessage
from gis_core.events import ADDRESS_STATUS_CHANGED
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address, AddressStatusChange
from gis_core.services import (
    address_activate,
    address_await_deployment,
    address_connect,
    address_start_deployment,
)
from tests.accounts.factories import OrganisationFactory, UserFactory
from tests.areas.factories import AreaFactory, square
from tests.common.handlers import TemporaryHandlers
from tests.gis_core.factories import AddressFactory
from tests.wholesale.factories import IspFactory, OrderFactory
from wholesale.events import ORDER_PLACED, ORDER_STATUS_CHANGED
from wholesale.lifecycle import OrderStatus
from wholesale.models import Order, OrderStatusChange
from wholesale.services import order_cancel, order_place, order_transition

AREA = square(13.33, 52.55, 0.001)


@pytest.fixture
def handlers():
    registered = TemporaryHandlers()
    yield registered
    registered.remove_all()


def _home(n: int = 0) -> Address:
    """A planned home inside AREA."""
    return AddressFactory(location=Point(13.3301 + n * 0.00001, 52.5501, srid=4326))


def _built(address: Address) -> Address:
    """Walk an address to connected (a home the network reached before anyone ordered)."""
    for move in (address_await_deployment, address_start_deployment, address_connect):
        address = move(address=address)
    return address


def _stored(address: Address) -> Address:
    return Address.objects.get(pk=address.pk)


def _event_ids() -> set:
    return set(DomainEvent.objects.values_list("pk", flat=True))


def _topics_since(event_ids: set) -> list[str]:
    """The topics of the events published since `event_ids` were taken, sorted."""
    return sorted(DomainEvent.objects.exclude(pk__in=event_ids).values_list("topic", flat=True))


def _figures(area) -> tuple:
    figures = AreaFigures.objects.get(area=area)
    return (figures.orders, figures.addresses_with_order, figures.take_rate)


def _everything() -> tuple:
    """What a refused or failed request must leave as it was."""
    return (
        list(Order.objects.order_by("pk").values_list("pk", "status", "status_changed_at")),
        list(Signup.objects.order_by("pk").values_list("pk", "withdrawn_at")),
        list(Address.objects.order_by("pk").values_list("pk", "status", "status_changed_at")),
        list(AreaFigures.objects.order_by("pk").values_list("pk", "orders", "take_rate")),
        OrderStatusChange.objects.count(),
        AddressStatusChange.objects.count(),
        DomainEvent.objects.count(),
        OutboxMessage.objects.count(),
    )


def test_an_order_at_a_planned_address_queues_it_for_the_build_and_records_the_signup(db):
    # given a planned home in an area and an ISP user
    area = AreaFactory(boundary=AREA)
    address = _home()
    isp = IspFactory(name="Spree Net")
    actor = UserFactory(isp=True)
    placed_at = timezone.now() - timedelta(days=3)

    # when an order for the ISP's service is placed there, three days ago
    order = order_place(address=address, isp=isp, placed_at=placed_at, actor=actor)

    # then the order waits for the infrastructure, under its reference
    stored = Order.objects.get(pk=order.pk)
    assert (stored.reference, stored.address, stored.isp, stored.status, stored.placed_at) == (
        f"ORD-{order.pk:06d}",
        address,
        isp,
        OrderStatus.AWAITING_INFRASTRUCTURE,
        placed_at,
    )
    assert not stored.is_connection_only
    # and the address is in the build queue
    assert _stored(address).status == AddressStatus.AWAITING_DEPLOYMENT
    move = AddressStatusChange.objects.get(address=address)
    assert (move.from_status, move.to_status, move.actor, move.reason) == (
        AddressStatus.PLANNED,
        AddressStatus.AWAITING_DEPLOYMENT,
        actor,
        f"order {stored.reference}",
    )
    # and the demand book has its signup, dated when the order was placed
    signup = Signup.objects.get()
    assert (signup.address, signup.order_key, signup.signed_up_at, signup.withdrawn_at) == (
        address,
        f"order:{order.pk}",
        placed_at,
        None,
    )
    assert _figures(area) == (1, 1, Decimal("1.0000"))
    # and the order's history starts when it was placed
    history = OrderStatusChange.objects.filter(order=order).order_by("id")
    assert [(row.from_status, row.to_status, row.actor, row.changed_at) for row in history] == [
        ("", OrderStatus.RECEIVED, actor, placed_at),
        (
            OrderStatus.RECEIVED,
            OrderStatus.AWAITING_INFRASTRUCTURE,
            actor,
            stored.status_changed_at,
        ),
    ]


def test_placing_an_order_publishes_it_and_its_status(db):
    address = _home()
    isp = IspFactory()
    actor = UserFactory(isp=True)
    before = _event_ids()

    order = order_place(address=address, isp=isp, actor=actor)

    assert _topics_since(before) == sorted(
        [ORDER_PLACED, ADDRESS_STATUS_CHANGED, ORDER_STATUS_CHANGED]
    )
    assert DomainEvent.objects.get(topic=ORDER_PLACED).payload == {
        "order_id": order.pk,
        "address_id": address.pk,
        "isp_id": isp.pk,
    }
    assert DomainEvent.objects.get(topic=ORDER_STATUS_CHANGED).payload == {
        "order_id": order.pk,
        "address_id": address.pk,
        "isp_id": isp.pk,
        "from_status": OrderStatus.RECEIVED,
        "to_status": OrderStatus.AWAITING_INFRASTRUCTURE,
        "actor_id": actor.pk,
        "reason": "address status",
    }


def test_an_order_at_a_connected_address_is_ready_for_activation_at_once(db):
    address = _built(_home())
    history = AddressStatusChange.objects.count()

    order = order_place(address=address, isp=IspFactory())

    assert order.status == OrderStatus.READY_FOR_ACTIVATION
    assert _stored(address).status == AddressStatus.CONNECTED
    assert AddressStatusChange.objects.count() == history


def test_an_order_at_an_activated_address_is_ready_for_activation_and_leaves_it_activated(db):
    address = address_activate(address=_built(_home()))

    order = order_place(address=address, isp=IspFactory())

    assert order.status == OrderStatus.READY_FOR_ACTIVATION
    assert _stored(address).status == AddressStatus.ACTIVATED


def test_an_order_at_an_address_being_built_waits_for_it_and_leaves_it_in_deployment(db):
    address = address_start_deployment(address=address_await_deployment(address=_home()))

    order = order_place(address=address, isp=IspFactory())

    assert order.status == OrderStatus.AWAITING_INFRASTRUCTURE
    assert _stored(address).status == AddressStatus.IN_DEPLOYMENT


def test_a_second_order_at_a_queued_address_leaves_it_queued_and_counts_one_address(db):
    area = AreaFactory(boundary=AREA)
    address = _home()
    OrderFactory(address=address)

    second = order_place(address=address, isp=IspFactory())

    assert second.status == OrderStatus.AWAITING_INFRASTRUCTURE
    assert _stored(address).status == AddressStatus.AWAITING_DEPLOYMENT
    assert AddressStatusChange.objects.filter(address=address).count() == 1
    assert _figures(area) == (2, 1, Decimal("1.0000"))


def test_a_connection_only_order_names_no_isp(db):
    order = order_place(address=_home())

    assert (order.isp, order.is_connection_only, order.status) == (
        None,
        True,
        OrderStatus.AWAITING_INFRASTRUCTURE,
    )
    assert DomainEvent.objects.get(topic=ORDER_PLACED).payload["isp_id"] is None


@pytest.mark.parametrize("kind", [OrganisationKind.OWNER, OrganisationKind.CONTRACTOR])
def test_an_organisation_that_is_not_an_isp_cannot_take_orders_and_nothing_is_written(db, kind):
    AreaFactory(boundary=AREA)
    address = _home()
    organisation = OrganisationFactory(name="Bau GmbH", kind=kind)
    before = _everything()

    with pytest.raises(DomainError) as raised:
        order_place(address=address, isp=organisation)

    assert raised.value.message == "Bau GmbH is not an active ISP"
    assert raised.value.field == "isp"
    assert _everything() == before


def test_an_inactive_isp_cannot_take_orders_and_nothing_is_written(db):
    AreaFactory(boundary=AREA)
    address = _home()
    isp = IspFactory(name="Gone Net")
    # no service retires an ISP yet (the wholesale issue adds one): set the flag directly
    Organisation.objects.filter(pk=isp.pk).update(is_active=False)
    isp.refresh_from_db()
    before = _everything()

    with pytest.raises(DomainError) as raised:
        order_place(address=address, isp=isp)

    assert raised.value.message == "Gone Net is not an active ISP"
    assert _everything() == before


def test_a_failing_reaction_to_the_order_rolls_the_whole_order_back(db, handlers):
    # given a reaction to order status changes that fails (a higher layer's consequence)
    AreaFactory(boundary=AREA)
    address = _home()
    isp = IspFactory()

    def refuse(event):
        raise DomainError("the ISP's system refused the order")

    handlers.in_transaction(ORDER_STATUS_CHANGED, refuse, name="tests.wholesale.refuse")
    before = _everything()

    # when an order is placed, then it fails and nothing of it remains
    with pytest.raises(DomainError, match="the ISP's system refused the order"):
        order_place(address=address, isp=isp)

    assert _everything() == before
    assert _stored(address).status == AddressStatus.PLANNED


def test_cancelling_the_last_order_withdraws_the_signup_and_takes_the_address_out_of_the_queue(
    db,
):
    # given an address with one order
    area = AreaFactory(boundary=AREA)
    address = _home()
    order = OrderFactory(address=address)
    actor = UserFactory(isp=True)

    # when it is cancelled
    before = timezone.now()
    cancelled = order_cancel(order=order, actor=actor, reason="moved away")
    after = timezone.now()

    # then the order is cancelled, its signup withdrawn and the address only planned again
    assert Order.objects.get(pk=order.pk).status == cancelled.status == OrderStatus.CANCELLED
    signup = Signup.objects.get(order_key=order.demand_key)
    assert before <= signup.withdrawn_at <= after
    assert _stored(address).status == AddressStatus.PLANNED
    back = AddressStatusChange.objects.filter(address=address).order_by("id").last()
    assert (back.from_status, back.to_status, back.actor, back.reason) == (
        AddressStatus.AWAITING_DEPLOYMENT,
        AddressStatus.PLANNED,
        actor,
        f"order {order.reference} cancelled",
    )
    assert _figures(area) == (0, 0, Decimal("0.0000"))
    cancel_event = [
        payload
        for payload in DomainEvent.objects.filter(topic=ORDER_STATUS_CHANGED).values_list(
            "payload", flat=True
        )
        if payload["to_status"] == OrderStatus.CANCELLED
    ]
    assert cancel_event == [
        {
            "order_id": order.pk,
            "address_id": address.pk,
            "isp_id": order.isp_id,
            "from_status": OrderStatus.AWAITING_INFRASTRUCTURE,
            "to_status": OrderStatus.CANCELLED,
            "actor_id": actor.pk,
            "reason": "moved away",
        }
    ]


def test_cancelling_one_of_two_orders_keeps_the_address_queued(db):
    area = AreaFactory(boundary=AREA)
    address = _home()
    first = OrderFactory(address=address)
    second = OrderFactory(address=address)

    order_cancel(order=first)

    assert _stored(address).status == AddressStatus.AWAITING_DEPLOYMENT
    assert Signup.objects.get(order_key=first.demand_key).withdrawn_at is not None
    assert Signup.objects.get(order_key=second.demand_key).withdrawn_at is None
    assert _figures(area) == (1, 1, Decimal("1.0000"))


def test_cancelling_an_order_at_an_address_being_built_leaves_the_build_alone(db):
    address = _home()
    order = OrderFactory(address=address)
    address_start_deployment(address=_stored(address))

    order_cancel(order=order)

    assert _stored(address).status == AddressStatus.IN_DEPLOYMENT


def test_cancelling_an_order_ready_for_activation_takes_a_connected_address_nowhere(db):
    address = _built(_home())
    order = OrderFactory(address=address)

    order_cancel(order=order)

    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    assert _stored(address).status == AddressStatus.CONNECTED


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (
            OrderStatus.CANCELLED,
            "order cannot move from cancelled to cancelled (cancelled is final)",
        ),
        (
            OrderStatus.ACTIVE,
            "order cannot move from active to cancelled (allowed from active: terminated)",
        ),
    ],
)
def test_an_order_that_is_cancelled_or_active_cannot_be_cancelled_and_nothing_changes(
    db, status, message
):
    AreaFactory(boundary=AREA)
    address = _built(_home())
    order = OrderFactory(address=address)
    if status == OrderStatus.CANCELLED:
        order = order_cancel(order=order)
    else:  # no public service activates an order yet (the wholesale issue adds it)
        order = order_transition(order=order, to=OrderStatus.ACTIVE, actor=None, reason="activated")
    before = _everything()

    with pytest.raises(InvalidTransition) as raised:
        order_cancel(order=order, reason="again")

    assert raised.value.message == message
    assert _everything() == before


def test_a_failing_reaction_to_a_cancellation_rolls_it_back(db, handlers):
    AreaFactory(boundary=AREA)
    order = OrderFactory(address=_home())

    def refuse(event):
        if event.payload["to_status"] == OrderStatus.CANCELLED:
            raise DomainError("the installation is already scheduled")

    handlers.in_transaction(ORDER_STATUS_CHANGED, refuse, name="tests.wholesale.refuse_cancel")
    before = _everything()

    with pytest.raises(DomainError, match="the installation is already scheduled"):
        order_cancel(order=order)

    assert _everything() == before
