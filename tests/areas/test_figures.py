"""Demand figures are always true: after imports, orders, cancellations, interests, moved
addresses, reshaped areas, new targets and splits, every area's figures (and today's daily
row) equal a brute-force recount; the backfilled daily series equals a recount of each day."""

import json
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from areas.figures import backfill_daily_figures, refresh_figures
from areas.models import Area, AreaDailyFigures, Interest, Signup
from areas.services import (
    area_reshape,
    area_split,
    area_update,
    interest_register,
    interest_withdraw,
)
from gis_core.importing import import_addresses
from gis_core.lifecycle import PremisesType
from gis_core.models import Address
from gis_core.services import address_update
from tests.areas.factories import AreaFactory, square
from tests.areas.recount import (
    DAILY_FIELDS,
    assert_figures_true,
    recount,
    recount_day,
    stored,
    stored_day,
)
from tests.gis_core.factories import AddressFactory
from tests.wholesale.factories import IspFactory, OrderFactory
from wholesale.services import order_cancel

WEST = square(13.33, 52.55, 0.01)
EAST = square(13.34, 52.55, 0.01)
CRS84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}


def _west(n: int, **fields) -> Address:
    """A home in WEST (n < 50)."""
    return AddressFactory(location=Point(13.331 + n * 0.0001, 52.551, srid=4326), **fields)


def _east(n: int, **fields) -> Address:
    return AddressFactory(location=Point(13.341 + n * 0.0001, 52.551, srid=4326), **fields)


def _mdu(units: int) -> dict:
    return {"premises_type": PremisesType.MDU_FLAT, "units": units}


def _feature(osm_id: str, lon: float, *, units: int = 1) -> dict:
    premises = PremisesType.SINGLE_FAMILY if units == 1 else PremisesType.MDU_FLAT
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, 52.551]},
        "properties": {
            "id": osm_id,
            "street": "Müllerstraße",
            "housenumber": osm_id[1:],
            "postcode": "13353",
            "city": "Berlin",
            "premises_type": premises,
            "units": units,
        },
    }


def _write(path, features: list[dict]):
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": CRS84, "features": features}))
    return path


def _row(area) -> tuple:
    """(addresses, homes, interests, orders, with interest, with order, take, interest, progress)"""
    figures = stored(area)
    return tuple(figures[field] for field in figures)


def _local(day, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


# --- the figures follow every change --------------------------------------------------------


def test_a_bulk_import_counts_homes_with_the_units_of_an_mdu(db, tmp_path):
    # given two areas, and a file of 3 homes in the west (one an MDU of 12 flats),
    # 2 in the east and 1 outside both
    west = AreaFactory(boundary=WEST)
    east = AreaFactory(boundary=EAST)
    features = [
        _feature("n1", 13.331),
        _feature("n2", 13.332, units=12),
        _feature("n3", 13.333),
        _feature("n4", 13.341),
        _feature("n5", 13.342),
        _feature("n6", 13.361),
    ]

    # when the file is imported
    import_addresses(_write(tmp_path / "town.geojson", features))

    # then each area counts its addresses and their homes
    assert (stored(west)["addresses"], stored(west)["homes"]) == (3, 14)
    assert (stored(east)["addresses"], stored(east)["homes"]) == (2, 2)
    assert_figures_true()


def test_a_reimport_that_grows_an_mdu_and_moves_a_home_recounts_both_areas(db, tmp_path):
    # given two areas with imported homes, one with an order
    west = AreaFactory(boundary=WEST)
    east = AreaFactory(boundary=EAST)
    features = [_feature("n1", 13.331), _feature("n2", 13.332, units=12), _feature("n4", 13.341)]
    import_addresses(_write(tmp_path / "town.geojson", features))
    OrderFactory(address=Address.objects.get(external_refs__external_id="n4"))
    assert (stored(east)["take_rate"], stored(west)["take_rate"]) == (Decimal(1), Decimal(0))

    # when the file comes back with the MDU at 20 flats and n4 (ordered) moved west
    features = [
        _feature("n1", 13.331),
        _feature("n2", 13.332, units=20),
        _feature("n4", 13.333),
    ]
    import_addresses(_write(tmp_path / "town.geojson", features))

    # then the west has 22 homes and the order, the east none
    assert _row(west) == (3, 22, 0, 1, 0, 1, Decimal("0.0455"), Decimal(0), Decimal("0.1138"))
    assert _row(east) == (0, 0, 0, 0, 0, 0, Decimal(0), Decimal(0), Decimal(0))
    assert_figures_true()


def test_figures_follow_orders_placed_and_cancelled(db):
    # given an area of 5 homes with a target of 40 %
    area = AreaFactory(boundary=WEST, target_take_rate="0.4")
    homes = [_west(n) for n in range(5)]
    spree, kiez = IspFactory(), IspFactory()

    # when two ISPs' orders arrive at the first home, one at the second, a connection-only
    # order at the third
    first = OrderFactory(address=homes[0], isp=spree)
    OrderFactory(address=homes[0], isp=kiez)
    OrderFactory(address=homes[1], isp=spree)
    connection_only = OrderFactory(address=homes[2], isp=None)

    # then 4 orders at 3 addresses: 60 % taken, 1.5 × the target
    assert _row(area) == (5, 5, 0, 4, 0, 3, Decimal("0.6"), Decimal(0), Decimal("1.5"))
    assert_figures_true()

    # when one of the first home's orders and the connection-only order are cancelled
    order_cancel(order=first)
    order_cancel(order=connection_only)

    # then 2 orders at 2 addresses: 40 %, the target exactly
    assert _row(area) == (5, 5, 0, 2, 0, 2, Decimal("0.4"), Decimal(0), Decimal(1))
    assert_figures_true()


def test_an_mdu_weighs_its_units_in_the_take_rate(db):
    # given an area with a house and an MDU of 9 flats; an order at the MDU
    area = AreaFactory(boundary=WEST, target_take_rate="0.5")
    _west(0)
    mdu = _west(1, **_mdu(9))

    OrderFactory(address=mdu)

    # then one address of 10 homes has an order: 10 %
    assert _row(area) == (2, 10, 0, 1, 0, 1, Decimal("0.1"), Decimal(0), Decimal("0.2"))
    assert_figures_true()


def test_figures_follow_interests_registered_and_withdrawn(db):
    area = AreaFactory(boundary=WEST, target_take_rate="0.4")
    homes = [_west(n) for n in range(4)]

    twice = interest_register(address=homes[0], source="web")
    interest_register(address=homes[0], source="door-to-door")
    interest_register(address=homes[1])
    assert _row(area) == (4, 4, 3, 0, 2, 0, Decimal(0), Decimal("0.5"), Decimal(0))
    assert_figures_true()

    interest_withdraw(interest=twice)
    assert _row(area) == (4, 4, 2, 0, 2, 0, Decimal(0), Decimal("0.5"), Decimal(0))
    assert_figures_true()


def test_an_address_moved_to_another_area_takes_its_demand_along(db):
    # given an ordered home with an interest in the west, and a home in the east
    west = AreaFactory(boundary=WEST)
    east = AreaFactory(boundary=EAST)
    home = _west(0)
    _west(1)
    _east(0)
    OrderFactory(address=home)
    interest_register(address=home)

    # when it is moved into the east
    address_update(address=home, location=Point(13.3415, 52.551, srid=4326))

    # then the east counts its homes and demand, the west neither
    assert _row(east) == (2, 2, 1, 1, 1, 1, Decimal("0.5"), Decimal("0.5"), Decimal("1.25"))
    assert _row(west) == (1, 1, 0, 0, 0, 0, Decimal(0), Decimal(0), Decimal(0))
    assert_figures_true()

    # and moved outside every area, no area counts it
    address_update(address=home, location=Point(13.36, 52.551, srid=4326))
    assert (stored(east)["homes"], stored(east)["orders"], stored(east)["interests"]) == (1, 0, 0)
    assert_figures_true()


def test_a_reshaped_area_takes_the_demand_of_the_homes_it_takes_in(db):
    # given two areas side by side, with demand at the east's western edge
    west = AreaFactory(boundary=WEST, target_take_rate="0.5")
    east = AreaFactory(boundary=EAST, target_take_rate="0.5")
    _west(0)
    edge = [_east(n) for n in range(3)]  # lon 13.341 … 13.3412
    far = _east(50)  # lon 13.346
    OrderFactory(address=edge[0])
    OrderFactory(address=far)
    interest_register(address=edge[1])

    # when the west grows 2 milli-degrees east, over the edge homes
    area_reshape(area=west, boundary=square(13.33, 52.55, 0.012))

    # then the west counts the edge homes and their demand; the east only the far home
    assert _row(west) == (4, 4, 1, 1, 1, 1, Decimal("0.25"), Decimal("0.25"), Decimal("0.5"))
    assert _row(east) == (1, 1, 0, 1, 0, 1, Decimal(1), Decimal(0), Decimal(2))
    assert_figures_true()


def test_a_new_target_changes_the_progress_and_nothing_else(db):
    area = AreaFactory(boundary=WEST, target_take_rate="0.4")
    homes = [_west(n) for n in range(3)]
    OrderFactory(address=homes[0])
    before = stored(area)

    area_update(area=area, target_take_rate="0.25")

    assert stored(area) == {**before, "progress": Decimal("1.3332")}  # 0.3333 / 0.25
    assert_figures_true()


def test_a_target_of_zero_counts_as_reached_once_the_area_has_homes(db):
    empty = AreaFactory(boundary=EAST, target_take_rate="0")
    area = AreaFactory(boundary=WEST, target_take_rate="0")
    _west(0)

    assert (stored(area)["progress"], stored(empty)["progress"]) == (Decimal(1), Decimal(0))
    assert_figures_true()


def test_an_area_without_homes_has_no_rates(db):
    area = AreaFactory(boundary=WEST)

    assert _row(area) == (0, 0, 0, 0, 0, 0, Decimal(0), Decimal(0), Decimal(0))
    assert_figures_true()


def test_demand_outside_every_area_counts_nowhere(db):
    area = AreaFactory(boundary=WEST)
    _west(0)
    outside = AddressFactory(location=Point(13.36, 52.551, srid=4326))

    OrderFactory(address=outside)
    interest_register(address=outside)

    assert (stored(area)["orders"], stored(area)["interests"]) == (0, 0)
    assert (Signup.objects.get().address, Interest.objects.get().address) == (outside, outside)
    assert_figures_true()


def _split_town():
    """An area over WEST with 6 homes in the north (one an MDU of 4), 4 in the south, and
    demand heavier in the north; an east neighbour with a home and an order."""
    area = AreaFactory(boundary=WEST, target_take_rate="0.4")
    east = AreaFactory(boundary=EAST)
    north = [
        AddressFactory(location=Point(13.331 + n * 0.001, 52.558, srid=4326), **fields)
        for n, fields in enumerate([{}, {}, {}, {}, {}, _mdu(4)])
    ]
    south = [
        AddressFactory(location=Point(13.331 + n * 0.001, 52.552, srid=4326)) for n in range(4)
    ]
    for home in north[:4]:
        OrderFactory(address=home)
    OrderFactory(address=north[5])
    cancelled = OrderFactory(address=south[0])
    interest_register(address=south[1])
    interest_register(address=north[0])
    OrderFactory(address=_east(0))
    order_cancel(order=cancelled)
    return area, east


@pytest.mark.parametrize(
    "how",
    [
        {"mode": "half", "axis": "north-south"},
        {"mode": "share", "axis": "north-south", "share": "0.5"},
        {"mode": "line", "line": "LINESTRING (13.32 52.556, 13.35 52.5555)"},
    ],
    ids=["half", "share", "line"],
)
def test_a_split_hands_each_child_its_homes_and_demand_and_leaves_the_parent_none(db, how):
    # given an area with demand heavier in the north
    area, east = _split_town()
    before = stored(area)
    east_before = stored(east)

    # when it is split between north and south
    children = area_split(area=area, **how).children

    # then the children hold everything the parent held, each its own part, and the parent
    # holds nothing; the neighbour is untouched
    north, south = sorted(children, key=lambda child: -child.boundary.centroid.y)
    assert _row(north) == (6, 9, 1, 5, 1, 5, Decimal("0.5556"), Decimal("0.1111"), Decimal("1.389"))
    assert _row(south) == (4, 4, 1, 0, 1, 0, Decimal(0), Decimal("0.25"), Decimal(0))
    for field in ("addresses", "homes", "interests", "orders"):
        assert stored(north)[field] + stored(south)[field] == before[field]
    assert _row(Area.objects.get(pk=area.pk)) == (0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert stored(east) == east_before
    assert_figures_true()


# --- the daily series -----------------------------------------------------------------------


def test_todays_row_follows_every_change_of_the_day_and_there_is_one(db):
    area = AreaFactory(boundary=WEST, target_take_rate="0.5")
    homes = [_west(n) for n in range(4)]
    order = OrderFactory(address=homes[0])
    OrderFactory(address=homes[1])
    interest_register(address=homes[2])
    order_cancel(order=order)

    today = timezone.localdate()
    assert AreaDailyFigures.objects.filter(area=area).count() == 1
    assert stored_day(area, today) == {
        "homes": 4,
        "interests": 1,
        "orders": 1,
        "addresses_with_order": 1,
        "take_rate": Decimal("0.25"),
        "interest_rate": Decimal("0.25"),
    }
    assert_figures_true()


def _history(today):
    """A demand history as an import of past records would leave it (dates in the past are
    no service's doing, so the rows are written as the import would)."""
    west = AreaFactory(boundary=WEST, target_take_rate="0.5")
    east = AreaFactory(boundary=EAST)
    one, two, mdu, four = _west(0), _west(1), _west(2, **_mdu(3)), _west(3)
    outside = AddressFactory(location=Point(13.36, 52.551, srid=4326))
    elsewhere = _east(0)
    day = lambda n: today - timedelta(days=n)  # noqa: E731

    def signup(key, address, at, withdrawn_at=None):
        Signup.objects.create(
            address=address, order_key=key, signed_up_at=at, withdrawn_at=withdrawn_at
        )

    def interest(address, at, withdrawn_at=None):
        Interest.objects.create(address=address, registered_at=at, withdrawn_at=withdrawn_at)

    signup("o:1", one, _local(day(9), 23, 30))  # late in the evening: counts that day
    signup("o:2", one, _local(day(8), 0, 30), _local(day(5), 10))  # a second order, cancelled
    signup("o:3", two, _local(day(7), 12), _local(day(6), 0))  # withdrawn on the stroke of 0:00
    signup("o:4", mdu, _local(day(20), 9))  # before the series starts
    signup("o:5", two, _local(day(3), 9), _local(day(3), 17))  # withdrawn the same day
    signup("o:6", four, _local(day(2), 8), _local(day(1), 8))
    signup("o:7", four, _local(day(1), 20))  # the same address orders again
    signup("o:8", outside, _local(day(4), 9))
    signup("o:9", elsewhere, _local(day(6), 9))
    interest(two, _local(day(12), 9))
    interest(two, _local(day(4), 9), _local(day(2), 9))
    interest(four, _local(day(1), 23, 59))
    interest(one, _local(day(30), 9), _local(day(15), 9))  # over before the series
    refresh_figures([west.pk, east.pk])
    return west, east


def test_the_backfill_rebuilds_each_day_as_the_book_stood_at_its_end(db):
    # given a history of signups and interests over the last three weeks
    today = timezone.localdate()
    west, east = _history(today)
    since = today - timedelta(days=10)

    # when the last 10 days and today are backfilled
    written = backfill_daily_figures([west.pk, east.pk, None], since=since)

    # then there is one row a day from `since` to today for each area, each equal to a
    # recount of the book as it stood at that day's end
    assert written == 22
    for area in (west, east):
        days = list(AreaDailyFigures.objects.filter(area=area).values_list("day", flat=True))
        assert days == [since + timedelta(days=n) for n in range(11)]
        for n in range(11):
            assert stored_day(area, since + timedelta(days=n)) == recount_day(
                area, since + timedelta(days=n)
            ), since + timedelta(days=n)
    # (spot checks, in case recount and backfill were wrong the same way)
    assert [stored_day(west, today - timedelta(days=n))["orders"] for n in range(10, -1, -1)] == [
        1,  # o:4 (the MDU)
        2,  # o:1 at 23:30
        3,  # o:2
        4,  # o:3
        3,  # o:3 withdrawn at 0:00
        2,  # o:2 cancelled
        2,  # o:8 is outside every area
        2,  # o:5 in and out the same day
        3,  # o:6
        3,  # o:6 out, o:7 in
        3,
    ]
    assert stored_day(west, today - timedelta(days=7))["addresses_with_order"] == 3
    assert stored_day(west, today - timedelta(days=7))["take_rate"] == Decimal("0.5")  # 3 / 6
    assert stored_day(west, today - timedelta(days=3))["interest_rate"] == Decimal("0.1667")
    assert_figures_true()


def test_the_backfilled_today_equals_the_refreshed_today_even_with_a_future_date(db):
    # given a history and a signup dated tomorrow (a clock ahead somewhere), refreshed today
    today = timezone.localdate()
    west, east = _history(today)
    Signup.objects.create(
        address=Address.objects.get(area=west, units=3),
        order_key="o:tomorrow",
        signed_up_at=_local(today + timedelta(days=1), 9),
    )
    refresh_figures([west.pk, east.pk])
    refreshed = {area.pk: stored_day(area, today) for area in (west, east)}

    backfill_daily_figures([west.pk, east.pk], since=today - timedelta(days=3))

    assert {area.pk: stored_day(area, today) for area in (west, east)} == refreshed
    assert refreshed[west.pk]["orders"] == 4
    assert_figures_true()


def test_the_backfill_corrects_stale_rows_and_leaves_days_before_since_alone(db):
    today = timezone.localdate()
    west, _ = _history(today)
    stale = today - timedelta(days=4)
    older = today - timedelta(days=15)
    for day in (stale, older):
        AreaDailyFigures.objects.create(area=west, day=day, homes=99, orders=99)

    backfill_daily_figures([west.pk], since=today - timedelta(days=5))

    assert stored_day(west, stale) == recount_day(west, stale)
    assert (stored_day(west, older)["homes"], stored_day(west, older)["orders"]) == (99, 99)


def test_backfilling_twice_changes_nothing(db):
    today = timezone.localdate()
    west, east = _history(today)
    since = today - timedelta(days=10)
    backfill_daily_figures([west.pk, east.pk], since=since)
    first = list(AreaDailyFigures.objects.order_by("area", "day").values_list(*DAILY_FIELDS))

    assert backfill_daily_figures([west.pk, east.pk], since=since) == 22

    assert list(AreaDailyFigures.objects.order_by("area", "day").values_list(*DAILY_FIELDS)) == (
        first
    )


def test_an_area_without_homes_gets_a_row_of_zeros_a_day(db):
    area = AreaFactory(boundary=WEST)
    today = timezone.localdate()

    assert backfill_daily_figures([area.pk], since=today - timedelta(days=2)) == 3

    for n in range(3):
        assert stored_day(area, today - timedelta(days=n)) == {field: 0 for field in DAILY_FIELDS}


def test_a_backfill_of_no_areas_or_from_the_future_writes_nothing(db):
    area = AreaFactory(boundary=WEST)
    today = timezone.localdate()
    rows = AreaDailyFigures.objects.count()

    assert backfill_daily_figures([], since=today - timedelta(days=5)) == 0
    assert backfill_daily_figures([None], since=today - timedelta(days=5)) == 0
    assert backfill_daily_figures([area.pk], since=today + timedelta(days=1)) == 0

    assert AreaDailyFigures.objects.count() == rows
    assert recount(area)["homes"] == 0
