"""Services: activation only on a connected address, double activation refused, profile
changes, deactivation, and the switch of a line from one ISP to another."""

from datetime import timedelta

import pytest
from django.utils import timezone

from common.errors import Conflict, DomainError, InvalidTransition
from common.models import DomainEvent
from gis_core.lifecycle import AddressStatus
from tests.wholesale.conftest import build
from tests.wholesale.factories import ProductFactory
from wholesale.activation import service_activate, service_change_profile, service_deactivate
from wholesale.lifecycle import (
    NotificationKind,
    OrderStatus,
    ServiceChangeKind,
    ServiceStatus,
)
from wholesale.models import IspNotification, Service, ServiceChange
from wholesale.services import order_place


@pytest.fixture
def connected(town):
    """A home in the live area, built and connected."""
    return build(town.address("live"), "connected")


def _order(town, address, isp=0, unit=""):
    offering = town.offerings[isp]
    return order_place(address=address, isp=offering.isp, offering=offering, unit=unit)


def test_an_order_at_a_connected_address_is_ready_and_its_isp_is_told(town, connected):
    order = _order(town, connected)

    assert order.status == OrderStatus.READY_FOR_ACTIVATION
    told = IspNotification.objects.filter(isp=town.isps[0], order=order)
    assert [n.kind for n in told] == [NotificationKind.READY_FOR_ACTIVATION]


def test_orders_become_ready_when_their_address_is_connected(town):
    from gis_core.services import address_connect

    address = build(town.address("live"), "in_deployment")
    order = _order(town, address)
    assert order.status == OrderStatus.AWAITING_INFRASTRUCTURE

    address_connect(address=address)

    order.refresh_from_db()
    assert order.status == OrderStatus.READY_FOR_ACTIVATION
    kinds = list(
        IspNotification.objects.filter(order=order).order_by("pk").values_list("kind", flat=True)
    )
    assert kinds == [NotificationKind.ORDER_CHANGED, NotificationKind.READY_FOR_ACTIVATION]


def test_activation_makes_the_service_the_order_active_and_the_address_activated(town, connected):
    order = _order(town, connected)

    service = service_activate(order=order, ont_serial=" alcl-1234 ", c_vlan=100, s_vlan="200")

    order.refresh_from_db()
    connected.refresh_from_db()
    assert service.reference == f"SRV-{service.pk:06d}"
    assert service.status == ServiceStatus.ACTIVE
    assert service.ont_serial == "ALCL-1234"
    assert (service.c_vlan, service.s_vlan) == (100, 200)
    assert service.product == town.offerings[0].product
    assert service.wholesale_monthly_fee == town.offerings[0].product.monthly_fee
    assert order.status == OrderStatus.ACTIVE
    assert connected.status == AddressStatus.ACTIVATED
    assert [c.kind for c in service.history.all()] == [ServiceChangeKind.ACTIVATED]
    assert DomainEvent.objects.filter(topic="service.activated").count() == 1


def test_activation_is_refused_before_the_address_is_connected(town):
    address = build(town.address("live"), "in_deployment")
    order = _order(town, address)

    with pytest.raises(InvalidTransition, match="connected"):
        service_activate(order=order, ont_serial="ONT1")

    assert not Service.objects.exists()
    assert not DomainEvent.objects.filter(topic="service.activated").exists()


def test_a_second_activation_of_the_same_order_is_refused(town, connected):
    order = _order(town, connected)
    service_activate(order=order, ont_serial="ONT1")

    with pytest.raises(Conflict, match="active already"):
        service_activate(order=order, ont_serial="ONT2")

    assert Service.objects.count() == 1


def test_an_ont_serving_another_line_is_refused(town, connected):
    other = build(town.address("live", n=1), "connected")
    service_activate(order=_order(town, connected), ont_serial="ONT1")

    with pytest.raises(Conflict, match="another line"):
        service_activate(order=_order(town, other), ont_serial="ont1")


def test_a_switch_ends_the_old_service_and_starts_the_new_at_the_same_instant(town, connected):
    old = service_activate(order=_order(town, connected), ont_serial="ONT1")
    new_order = _order(town, connected, isp=1)
    assert new_order.status == OrderStatus.READY_FOR_ACTIVATION

    new = service_activate(order=new_order, ont_serial="ONT1")

    old.refresh_from_db()
    connected.refresh_from_db()
    assert old.status == ServiceStatus.ENDED
    assert old.ended_at == new.activated_at
    assert new.previous == old
    assert old.order.status == OrderStatus.TERMINATED
    assert connected.status == AddressStatus.ACTIVATED
    kinds = ServiceChange.objects.filter(service__in=[old, new]).values_list("kind", flat=True)
    assert sorted(kinds) == sorted(
        [
            ServiceChangeKind.ACTIVATED,
            ServiceChangeKind.SWITCHED_AWAY,
            ServiceChangeKind.SWITCHED_IN,
        ]
    )
    told_old = IspNotification.objects.filter(isp=town.isps[0], service=old).order_by("pk").last()
    assert "another provider" in told_old.message
    assert town.isps[1].name not in told_old.message


def test_the_same_isp_cannot_activate_a_second_service_on_its_line(town, connected):
    service_activate(order=_order(town, connected), ont_serial="ONT1")
    second = _order(town, connected)

    with pytest.raises(Conflict, match="already carries"):
        service_activate(order=second, ont_serial="ONT1")


def test_deactivating_the_last_service_returns_the_address_to_connected(town, connected):
    service = service_activate(order=_order(town, connected), ont_serial="ONT1")

    service = service_deactivate(service=service, reason="customer moved house")

    connected.refresh_from_db()
    assert service.status == ServiceStatus.ENDED
    assert service.ended_at >= service.activated_at
    assert service.order.status == OrderStatus.TERMINATED
    assert connected.status == AddressStatus.CONNECTED
    with pytest.raises(InvalidTransition):
        service_deactivate(service=service)


def test_a_profile_change_keeps_the_service_and_records_both_products(town, connected):
    service = service_activate(order=_order(town, connected), ont_serial="ONT1")
    faster = ProductFactory(download_mbps=1000, monthly_fee="25.00")

    service = service_change_profile(service=service, product=faster, reason="upgrade")

    change = service.history.last()
    assert (change.kind, change.from_product_id, change.to_product) == (
        ServiceChangeKind.PROFILE_CHANGED,
        town.offerings[0].product_id,
        faster,
    )
    assert str(service.wholesale_monthly_fee) == "25.00"
    with pytest.raises(DomainError, match="already"):
        service_change_profile(service=service, product=faster)


def test_a_change_cannot_be_dated_in_the_future_or_before_the_activation(town, connected):
    service = service_activate(order=_order(town, connected), ont_serial="ONT1")

    with pytest.raises(DomainError, match="future"):
        service_deactivate(service=service, at=timezone.now() + timedelta(hours=1))
    with pytest.raises(DomainError, match="before"):
        service_deactivate(service=service, at=service.activated_at - timedelta(seconds=1))
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE


def test_a_connection_only_order_cannot_be_activated(town, connected):
    order = order_place(address=connected, isp=None)

    with pytest.raises(DomainError, match="connection only"):
        service_activate(order=order, ont_serial="ONT1")


def test_an_order_whose_service_ended_leaves_the_demand_book(town, connected):
    from areas.models import Signup

    first = _order(town, connected)
    service_activate(order=first, ont_serial="ONT1")
    second = _order(town, connected, isp=1)

    switched_in = service_activate(order=second, ont_serial="ONT1")
    service_deactivate(service=switched_in, reason="customer moved house")

    withdrawn = dict(Signup.objects.values_list("order_key", "withdrawn_at"))
    assert set(withdrawn) == {first.demand_key, second.demand_key}
    assert all(at is not None for at in withdrawn.values())
