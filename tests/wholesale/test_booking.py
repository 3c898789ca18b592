"""Installation booking: once the area is in deployment, an order books a window with room
left, moves it, or cancels it; capacity is never exceeded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.errors import Conflict, DomainError, InvalidTransition
from tests.wholesale.factories import OrderFactory
from wholesale.lifecycle import BookingStatus
from wholesale.models import Booking, InstallationSlot
from wholesale.selectors import available_slots
from wholesale.services import (
    booking_cancel,
    booking_create,
    booking_reschedule,
    installation_slot_create,
    order_cancel,
)

pytestmark = pytest.mark.django_db


def _booked(slot) -> int:
    return InstallationSlot.objects.get(pk=slot.pk).booked


def test_an_order_books_a_window_in_its_area(town):
    first, second = town.slots("in_deployment", capacity=2)
    town.slots("live")  # another area's windows are not offered
    order = OrderFactory(address=town.address("in_deployment"))

    assert list(available_slots(order)) == [first, second]
    booking = booking_create(order=order, slot=first)

    assert booking.status == BookingStatus.BOOKED
    assert order.active_booking == booking
    assert _booked(first) == 1


def test_a_full_window_is_refused_and_no_longer_offered(town):
    (slot,) = town.slots("in_deployment", count=1, capacity=1)
    booking_create(order=OrderFactory(address=town.address("in_deployment", 0)), slot=slot)
    late = OrderFactory(address=town.address("in_deployment", 1))

    assert list(available_slots(late)) == []
    with pytest.raises(Conflict) as refused:
        booking_create(order=late, slot=slot)

    assert refused.value.code == "slot_full"
    assert _booked(slot) == 1
    assert late.active_booking is None


def test_rescheduling_moves_the_appointment_and_frees_the_old_window(town):
    first, second = town.slots("in_deployment", capacity=1)
    order = OrderFactory(address=town.address("in_deployment"))
    old = booking_create(order=order, slot=first)

    new = booking_reschedule(booking=old, slot=second)

    old.refresh_from_db()
    assert old.status == BookingStatus.RESCHEDULED and old.replaced_by == new
    assert new.status == BookingStatus.BOOKED and new.slot == second
    assert order.active_booking == new
    assert (_booked(first), _booked(second)) == (0, 1)


def test_rescheduling_into_a_full_window_changes_nothing(town):
    first, second = town.slots("in_deployment", capacity=1)
    mine = booking_create(order=OrderFactory(address=town.address("in_deployment")), slot=first)
    booking_create(order=OrderFactory(address=town.address("in_deployment", 1)), slot=second)

    with pytest.raises(Conflict):
        booking_reschedule(booking=mine, slot=second)

    mine.refresh_from_db()
    assert mine.status == BookingStatus.BOOKED
    assert (_booked(first), _booked(second)) == (1, 1)
    assert Booking.objects.count() == 2


def test_cancelling_frees_the_window_and_is_final(town):
    (slot,) = town.slots("in_deployment", count=1)
    order = OrderFactory(address=town.address("in_deployment"))
    booking = booking_cancel(booking=booking_create(order=order, slot=slot))

    assert booking.status == BookingStatus.CANCELLED
    assert _booked(slot) == 0 and order.active_booking is None
    with pytest.raises(InvalidTransition):
        booking_cancel(booking=booking)
    # the order can book again
    assert booking_create(order=order, slot=slot).status == BookingStatus.BOOKED


def test_one_live_booking_per_order(town):
    first, second = town.slots("in_deployment")
    order = OrderFactory(address=town.address("in_deployment"))
    booking_create(order=order, slot=first)
    with pytest.raises(Conflict) as refused:
        booking_create(order=order, slot=second)
    assert refused.value.code == "already_booked"


def test_booking_opens_only_once_the_area_is_in_deployment(town):
    town.slots("in_deployment")
    (slot,) = [
        installation_slot_create(
            area=town.areas["demand_aggregation"],
            starts_at=timezone.now() + timedelta(days=2),
            ends_at=timezone.now() + timedelta(days=2, hours=4),
        )
    ]
    order = OrderFactory(address=town.address("demand_aggregation"))
    with pytest.raises(DomainError) as refused:
        booking_create(order=order, slot=slot)
    assert refused.value.code == "booking_not_open"


def test_a_window_of_another_area_or_in_the_past_is_refused(town):
    (elsewhere,) = town.slots("live", count=1)
    order = OrderFactory(address=town.address("in_deployment"))
    with pytest.raises(DomainError) as refused:
        booking_create(order=order, slot=elsewhere)
    assert refused.value.field == "slot"
    past = installation_slot_create(
        area=town.areas["in_deployment"],
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=3),
    )
    with pytest.raises(DomainError):
        booking_create(order=order, slot=past)
    assert Booking.objects.count() == 0


def test_a_cancelled_order_cannot_book(town):
    (slot,) = town.slots("in_deployment", count=1)
    order = order_cancel(order=OrderFactory(address=town.address("in_deployment")))
    with pytest.raises(DomainError) as refused:
        booking_create(order=order, slot=slot)
    assert refused.value.code == "booking_not_open"
