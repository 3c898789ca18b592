"""Ordering a day into a tour: every stop once, from the depot and back, in metres, and
within 10% of the optimum on small days (pure functions: no database)."""

import itertools
import json
import math
import random

import pytest

from tests.conftest import DEMO_DATA
from workorders.routing import (
    distance_matrix,
    haversine_m,
    heuristic_tour,
    nearest_neighbour,
    optimal_tour,
    order_stops,
    route_length_m,
    saving_m,
    tour_length,
)

WEDDING = (13.33, 13.37, 52.53, 52.56)  # lon min, lon max, lat min, lat max
DEPOT = (13.345, 52.538)


def _random_day(seed: int, stops: int) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    rng = random.Random(seed)
    lon_min, lon_max, lat_min, lat_max = WEDDING

    def point():
        return (rng.uniform(lon_min, lon_max), rng.uniform(lat_min, lat_max))

    return point(), [point() for _ in range(stops)]


def _wedding_addresses() -> list[tuple[float, float]]:
    collection = json.loads((DEMO_DATA / "addresses.geojson").read_text())
    lon_min, lon_max, lat_min, lat_max = WEDDING
    points = [tuple(f["geometry"]["coordinates"]) for f in collection["features"]]
    return sorted({p for p in points if lon_min <= p[0] <= lon_max and lat_min <= p[1] <= lat_max})


def _is_a_tour(order: list[int], stops: int) -> bool:
    return sorted(order) == list(range(stops))


def test_distances_are_metres_on_the_sphere():
    # one degree of latitude is ~111.2 km; one of longitude at 52.5° N is ~67.7 km
    assert haversine_m((13.35, 52.0), (13.35, 53.0)) == pytest.approx(111_195, rel=1e-4)
    assert haversine_m((13.0, 52.5), (14.0, 52.5)) == pytest.approx(67_695, rel=1e-3)
    assert haversine_m(DEPOT, DEPOT) == 0


def test_a_tour_starts_and_ends_at_the_depot():
    depot = (13.35, 52.54)
    stops = [(13.36, 52.54), (13.35, 52.55)]
    matrix = distance_matrix(depot, stops)

    length = tour_length(matrix, [0, 1])

    expected = (
        haversine_m(depot, stops[0])
        + haversine_m(stops[0], stops[1])
        + haversine_m(stops[1], depot)
    )
    assert length == pytest.approx(expected)
    assert route_length_m(depot, stops) == pytest.approx(expected)


def test_the_exact_solver_agrees_with_brute_force():
    for seed in range(12):
        depot, stops = _random_day(seed, 6)
        matrix = distance_matrix(depot, stops)
        brute = min(tour_length(matrix, p) for p in itertools.permutations(range(len(stops))))

        exact = optimal_tour(matrix)

        assert _is_a_tour(exact, len(stops))
        assert tour_length(matrix, exact) == pytest.approx(brute)


@pytest.mark.parametrize("seed", range(40))
def test_the_heuristic_is_within_10_percent_of_the_optimum(seed):
    depot, stops = _random_day(1000 + seed, 6 + seed % 4)  # 6–9 stops
    matrix = distance_matrix(depot, stops)

    tour = heuristic_tour(matrix)
    best = optimal_tour(matrix)

    assert _is_a_tour(tour, len(stops))
    assert tour_length(matrix, tour) <= 1.10 * tour_length(matrix, best)
    assert tour_length(matrix, tour) >= tour_length(matrix, best) - 1e-6


def test_the_heuristic_is_within_10_percent_on_wedding_addresses():
    addresses = _wedding_addresses()
    assert len(addresses) >= 50
    rng = random.Random(7)
    for n in range(30):
        picked = rng.sample(addresses, 7 + n % 3)  # 7–9 real addresses
        matrix = distance_matrix(DEPOT, picked)

        tour = heuristic_tour(matrix)

        assert _is_a_tour(tour, len(picked))
        assert tour_length(matrix, tour) <= 1.10 * tour_length(matrix, optimal_tour(matrix))


def test_a_day_of_40_stops_visits_every_stop_once_and_beats_booking_order():
    depot, stops = _random_day(42, 40)
    booking = list(range(40))

    order, distance = order_stops(depot, stops, seeds=[booking])

    assert _is_a_tour(order, 40)
    matrix = distance_matrix(depot, stops)
    assert distance == pytest.approx(tour_length(matrix, order))
    assert distance <= tour_length(matrix, booking)
    assert distance <= tour_length(matrix, nearest_neighbour(matrix))


def test_a_seed_makes_the_tour_no_longer_than_the_seed():
    for seed in range(10):
        depot, stops = _random_day(seed, 15)
        matrix = distance_matrix(depot, stops)
        booking = list(range(15))

        tour = heuristic_tour(matrix, seeds=[booking])

        assert tour_length(matrix, tour) <= tour_length(matrix, booking) + 1e-6


def test_small_days_get_the_optimum():
    depot, stops = _random_day(3, 8)
    matrix = distance_matrix(depot, stops)

    order, distance = order_stops(depot, stops)

    assert distance == pytest.approx(tour_length(matrix, optimal_tour(matrix)))
    assert _is_a_tour(order, 8)


def test_empty_and_one_stop_days():
    assert order_stops(DEPOT, []) == ([], 0.0)
    order, distance = order_stops(DEPOT, [(13.355, 52.538)])
    assert order == [0]
    assert distance == pytest.approx(2 * haversine_m(DEPOT, (13.355, 52.538)))


def test_stops_at_the_same_place_are_all_visited():
    stops = [(13.35, 52.54)] * 5 + [(13.36, 52.55)] * 5  # flats in two buildings
    order, distance = order_stops(DEPOT, stops)
    assert _is_a_tour(order, 10)
    assert distance == pytest.approx(
        haversine_m(DEPOT, stops[0])
        + haversine_m(stops[0], stops[5])
        + haversine_m(stops[5], DEPOT)
    )


def test_saving_is_booking_order_minus_tour():
    assert saving_m(12_500, 9_000) == 3_500


def test_points_that_are_not_lon_lat_are_refused():
    with pytest.raises(ValueError, match="not a \\(lon, lat\\) point"):
        order_stops((52.54, 913.35), [(13.35, 52.54)])
    assert not math.isnan(haversine_m((180, 0), (-180, 0)))
