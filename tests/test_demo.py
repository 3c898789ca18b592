"""The demo scenario: `demo_load` tells each area's story with true figures, and a second run
changes nothing."""

import io
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Organisation, User
from accounts.roles import OrganisationKind, Role
from areas.demo import HISTORY_DAYS
from areas.lifecycle import AreaPhase
from areas.models import Area, AreaDailyFigures, AreaFigures, AreaPhaseChange, Interest, Signup
from common.models import DomainEvent, OutboxMessage
from gis_core.lifecycle import AddressStatus
from gis_core.models import Address, AddressStatusChange
from tests.areas.recount import DAILY_FIELDS, assert_figures_true, recount_day, stored_day
from wholesale.lifecycle import (
    LIVE_ORDER_STATUSES,
    IspStatus,
    NotificationKind,
    OrderStatus,
    ServiceChangeKind,
    ServiceStatus,
)
from wholesale.models import (
    IspNotification,
    MaintenanceWindow,
    Order,
    OrderStatusChange,
    Service,
    ServiceChange,
)
from wholesale.selectors import maintenance_upcoming

P = AreaPhase
# code → phase, homes, orders, addresses with an order, interests, take rate, target, progress,
# deploys at target
STORY = {
    "13347": (P.DEMAND_AGGREGATION, 129, 52, 50, 43, "0.3876", "0.4000", "0.9690", True),
    "13349": (P.DEMAND_AGGREGATION, 796, 120, 119, 124, "0.1495", "0.3500", "0.4271", False),
    "13351": (P.PLANNING, 959, 0, 0, 48, "0.0000", "0.4000", "0.0000", False),
    "13353": (P.IN_DEPLOYMENT, 651, 298, 293, 114, "0.4501", "0.4000", "1.1253", False),
    "13403": (P.PLANNING, 33, 0, 0, 5, "0.0000", "0.4500", "0.0000", False),
    "13405": (P.LIVE, 204, 114, 111, 40, "0.5441", "0.3000", "1.8137", False),
    "13407": (P.DEMAND_AGGREGATION, 101, 57, 55, 39, "0.5446", "0.5000", "1.0892", False),
    "13627": (P.PLANNING, 133, 0, 0, 12, "0.0000", "0.4000", "0.0000", False),
}

# In 13405, homes activated by their ISP, and ISP orders at connected homes waiting for it;
# orders ready for activation in all (those, and later orders at activated homes).
ACTIVATED = 60
WAITING = 46
READY = 54


def _load() -> str:
    out = io.StringIO()
    call_command("demo_load", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    models = [
        Organisation,
        User,
        Area,
        AreaPhaseChange,
        Address,
        AddressStatusChange,
        Interest,
        Signup,
        Order,
        OrderStatusChange,
        AreaDailyFigures,
        Service,
        ServiceChange,
        IspNotification,
        MaintenanceWindow,
        DomainEvent,
        OutboxMessage,
    ]
    return {model.__name__: model.objects.count() for model in models}


def _state() -> tuple:
    """Everything the demand step writes, by value (not just how many)."""
    return (
        list(Order.objects.order_by("pk").values_list("pk", "address", "isp", "status")),
        list(Signup.objects.order_by("pk").values_list("pk", "withdrawn_at")),
        list(Interest.objects.order_by("pk").values_list("pk", "withdrawn_at")),
        list(Address.objects.order_by("pk").values_list("pk", "status", "area")),
        list(Area.objects.order_by("pk").values_list("pk", "phase", "deploys_at_target")),
        list(
            AreaFigures.objects.order_by("pk").values_list(
                "pk", "homes", "interests", "orders", "take_rate", "progress"
            )
        ),
        list(AreaDailyFigures.objects.order_by("area", "day").values_list("area", *DAILY_FIELDS)),
        list(
            Service.objects.order_by("pk").values_list(
                "pk", "order", "isp", "address", "product", "ont_serial", "status", "previous"
            )
        ),
    )


@pytest.fixture(scope="module")
def demo_town(django_db_setup, django_db_blocker):
    """The demo town loaded once for this module the way `make run` loads it: each service
    call commits on its own (inside one outer transaction, thousands of savepoints make
    PostgreSQL's visibility checks crawl). Each test runs in a transaction rolled back at
    its end; the module's teardown empties the database for the tests that follow."""
    with django_db_blocker.unblock():
        output = _load()
        try:
            yield output
        finally:
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _in_a_savepoint(demo_town, db):
    """Every test here sees the demo town (`db` opens a savepoint inside its transaction)."""


def test_each_area_tells_its_story_with_true_figures(demo_town):
    table = {
        area.code: (
            area.phase,
            area.figures.homes,
            area.figures.orders,
            area.figures.addresses_with_order,
            area.figures.interests,
            str(area.figures.take_rate),
            str(area.target_take_rate),
            str(area.figures.progress),
            area.deploys_at_target,
        )
        for area in Area.objects.select_related("figures")
    }
    assert table == STORY
    assert_figures_true()


def test_the_demand_book_and_the_orders_agree(demo_town):
    live_orders = Order.objects.filter(status__in=LIVE_ORDER_STATUSES)
    live_signups = Signup.objects.filter(withdrawn_at=None)
    assert {order.demand_key for order in live_orders} == set(
        live_signups.values_list("order_key", flat=True)
    )
    cancelled = Order.objects.filter(status=OrderStatus.CANCELLED)
    assert cancelled.count() == 14
    # three moved to another ISP, one ended its service: their orders left the book too
    assert Order.objects.filter(status=OrderStatus.TERMINATED).count() == 4
    assert Signup.objects.exclude(withdrawn_at=None).count() == 18
    assert Order.objects.filter(isp=None).count() == 28
    assert Interest.objects.exclude(withdrawn_at=None).count() == 11


def test_the_addresses_on_the_map_show_how_far_each_area_is_built(demo_town):
    def statuses(code: str) -> set[str]:
        ordered = Order.objects.filter(address__area__code=code, status__in=LIVE_ORDER_STATUSES)
        return set(
            Address.objects.filter(pk__in=ordered.values("address")).values_list(
                "status", flat=True
            )
        )

    assert statuses("13405") == {AddressStatus.CONNECTED, AddressStatus.ACTIVATED}
    assert statuses("13353") == {AddressStatus.IN_DEPLOYMENT}
    for code in ("13347", "13349", "13407"):
        assert statuses(code) == {AddressStatus.AWAITING_DEPLOYMENT}
    unordered = Address.objects.exclude(
        pk__in=Order.objects.filter(status__in=LIVE_ORDER_STATUSES).values("address")
    )
    # the one home whose customer moved out is still connected, with no order left
    assert set(unordered.values_list("status", flat=True)) == {
        AddressStatus.PLANNED,
        AddressStatus.CONNECTED,
    }
    moved_out = unordered.get(status=AddressStatus.CONNECTED)
    assert list(moved_out.services.values_list("status", flat=True)) == [ServiceStatus.ENDED]
    # the orders at connected homes not yet activated, and the later orders of other ISPs at
    # activated homes, wait for their ISP's activation
    assert Order.objects.filter(status=OrderStatus.READY_FOR_ACTIVATION).count() == READY


def test_the_isps_have_a_login_each(demo_town):
    isps = Organisation.objects.filter(kind=OrganisationKind.ISP).order_by("name")
    assert [isp.name for isp in isps] == ["Kiez Online", "Panke Glasfaser", "Spree Net"]
    logins = {
        user.username: (user.organisation.name, user.role, user.check_password("oanm-isp"))
        for user in User.objects.filter(membership__organisation__in=isps)
    }
    assert logins == {
        "isp-kiez": ("Kiez Online", Role.ISP_USER, True),
        "isp-panke": ("Panke Glasfaser", Role.ISP_USER, True),
        "isp-spree": ("Spree Net", Role.ISP_USER, True),
    }
    assert "isp-spree  / oanm-isp       — ISP user at Spree Net" in demo_town
    assert {order.isp.name for order in Order.objects.exclude(isp=None)} == {
        "Kiez Online",
        "Panke Glasfaser",
        "Spree Net",
    }


def test_the_north_of_13349_has_reached_the_target_the_whole_area_is_far_from(demo_town):
    # 13349 is at 15 % of a 35 % target, but its northern third (a case for a split) is not
    by_latitude = sorted(
        Address.objects.filter(area__code="13349"), key=lambda address: address.location.y
    )
    third = len(by_latitude) // 3
    ordered = set(
        Order.objects.filter(status__in=LIVE_ORDER_STATUSES).values_list("address", flat=True)
    )

    def take_rate(addresses: list[Address]) -> Decimal:
        share = Decimal(sum(1 for a in addresses if a.pk in ordered)) / len(addresses)
        return share.quantize(Decimal("0.001"))

    assert take_rate(by_latitude[-third:]) == Decimal("0.377")
    assert take_rate(by_latitude[:third]) == Decimal("0.015")


def test_the_daily_series_covers_the_history_and_each_day_is_true(demo_town):
    today = timezone.localdate()
    since = today - timedelta(days=HISTORY_DAYS)
    for area in Area.objects.all():
        days = list(AreaDailyFigures.objects.filter(area=area).values_list("day", flat=True))
        assert days == [since + timedelta(days=n) for n in range(HISTORY_DAYS + 1)]
    for area in Area.objects.filter(code__in=["13405", "13347", "13349"]):
        for day in (since, today - timedelta(days=60), today - timedelta(days=1)):
            assert stored_day(area, day) == recount_day(area, day), (area.code, day)
    # the demand grew over the months
    gathering = Area.objects.get(code="13349")
    assert stored_day(gathering, since)["orders"] < 10
    assert stored_day(gathering, today - timedelta(days=60))["orders"] < 120
    assert stored_day(gathering, today)["take_rate"] == Decimal("0.1495")


def test_a_second_run_changes_nothing(demo_town):
    counts, state = _counts(), _state()

    output = _load()

    assert _counts() == counts
    assert _state() == state
    assert "orders placed" in output
    assert "0 interests registered, 0 withdrawn" in output


def test_the_marketplace_answers_with_offerings_connection_cost_and_windows(demo_town):
    from wholesale.models import ConnectionCostTerms
    from wholesale.serviceability import serviceability_for_address

    building = Address.objects.filter(area__code="13353").exclude(
        pk__in=ConnectionCostTerms.objects.exclude(address=None).values("address")
    )
    answer = serviceability_for_address(building.order_by("pk").first().pk)
    assert answer.state == "being_built"
    assert answer.booking_open is True and answer.window is not None
    assert {offer["isp"]["name"] for offer in answer.offerings} == {
        "Kiez Online",
        "Panke Glasfaser",
        "Spree Net",
    }
    assert all(offer["isp"]["logo_url"].endswith(".svg") for offer in answer.offerings)
    cost = answer.connection_cost.as_dict()
    assert (cost["total"], cost["deposit"], cost["max_installment"], cost["installments"]) == (
        "5000.00",
        "1000.00",
        "500.00",
        10,
    )
    assert answer.connection_only_available is True
    corner = ConnectionCostTerms.objects.exclude(address=None).get().address
    assert serviceability_for_address(corner.pk).connection_cost.total == Decimal("6500.00")
    gathering = serviceability_for_address(Address.objects.filter(area__code="13349").first().pk)
    assert gathering.state == "gathering_interest"
    assert "Panke Glasfaser" not in {offer["isp"]["name"] for offer in gathering.offerings}


def test_every_activated_home_has_an_active_service_of_an_isp_with_an_order_there(demo_town):
    activated = Address.objects.filter(status=AddressStatus.ACTIVATED)
    assert activated.count() == ACTIVATED
    for address in activated:
        service = Service.objects.select_related("order").get(
            address=address, status=ServiceStatus.ACTIVE
        )
        assert service.order.address_id == address.pk
        assert service.order.isp_id == service.isp_id is not None
        assert service.order.status == OrderStatus.ACTIVE
        assert service.ont_serial.startswith("ZTEG") and len(service.ont_serial) == 12
        assert service.c_vlan is not None and service.s_vlan in (1010, 1020, 1030)
    live = Service.objects.filter(status=ServiceStatus.ACTIVE)
    assert set(live.values_list("address__status", flat=True)) == {AddressStatus.ACTIVATED}
    # connection-only orders are never activated
    assert not Service.objects.filter(order__isp=None).exists()


def test_connected_homes_waiting_for_their_isp_have_ready_orders_and_the_isp_was_told(demo_town):
    waiting = Order.objects.filter(
        address__status=AddressStatus.CONNECTED, status__in=LIVE_ORDER_STATUSES
    ).exclude(isp=None)
    assert waiting.count() == WAITING
    for order in waiting:
        assert order.status == OrderStatus.READY_FOR_ACTIVATION
        told = IspNotification.objects.filter(
            isp=order.isp, order=order, kind=NotificationKind.READY_FOR_ACTIVATION
        )
        assert told.count() == 1
        assert told.get().address_id == order.address_id


def test_the_services_history_is_consistent(demo_town):
    kinds = Counter(ServiceChange.objects.values_list("kind", flat=True))
    assert kinds == {
        ServiceChangeKind.ACTIVATED: ACTIVATED + 1,  # and the one whose customer moved out
        ServiceChangeKind.SWITCHED_AWAY: 3,
        ServiceChangeKind.SWITCHED_IN: 3,
        ServiceChangeKind.PROFILE_CHANGED: 1,
        ServiceChangeKind.DEACTIVATED: 1,
    }
    for service in Service.objects.select_related("order", "product", "previous"):
        history = list(service.history.order_by("at", "pk"))
        assert history[0].kind == (
            ServiceChangeKind.SWITCHED_IN if service.previous else ServiceChangeKind.ACTIVATED
        )
        assert history[0].at == service.activated_at
        assert [change.at for change in history] == sorted(change.at for change in history)
        assert history[-1].to_product_id in (service.product_id, None)
        assert service.wholesale_monthly_fee == service.product.monthly_fee
        if service.status == ServiceStatus.ACTIVE:
            assert service.ended_at is None
            assert service.order.status == OrderStatus.ACTIVE
        else:
            assert history[-1].kind in (
                ServiceChangeKind.SWITCHED_AWAY,
                ServiceChangeKind.DEACTIVATED,
            )
            assert history[-1].at == service.ended_at
            assert service.order.status == OrderStatus.TERMINATED
        if service.previous is not None:  # a switch: one continuous line, same ONT, no gap
            assert service.previous.ended_at == service.activated_at
            assert service.previous.isp_id != service.isp_id
            assert (service.previous.address_id, service.previous.unit) == (
                service.address_id,
                service.unit,
            )
            assert service.previous.ont_serial == service.ont_serial
    upgraded = ServiceChange.objects.get(kind=ServiceChangeKind.PROFILE_CHANGED)
    assert upgraded.to_product.download_mbps > upgraded.from_product.download_mbps


def test_the_isps_trade_have_their_contacts_notifications_and_see_the_maintenance(demo_town):
    for isp in Organisation.objects.filter(kind=OrganisationKind.ISP):
        profile = isp.isp_profile
        assert profile.status == IspStatus.ACTIVE
        assert profile.contact_name and profile.contact_email and profile.support_email
        assert profile.website.startswith("https://")
        kinds = set(IspNotification.objects.filter(isp=isp).values_list("kind", flat=True))
        assert {NotificationKind.READY_FOR_ACTIVATION, NotificationKind.SERVICE_CHANGED} <= kinds
    upcoming = list(maintenance_upcoming())
    assert [window.area.code if window.area else None for window in upcoming] == ["13353", None]
    assert all(window.starts_at > timezone.now() for window in upcoming)
