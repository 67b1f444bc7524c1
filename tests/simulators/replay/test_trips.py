"""Playing a committed trip by the MDRP rules: one-restaurant bundles, the shift's end, and
taking a courier waiting for food, or riding to it, off its trip."""

from __future__ import annotations

from geo.travel import PlanarTravel
from simulators.instances import DayOrder
from simulators.replay.trips import (
    Leg,
    cut_trip,
    play_trip,
    ride_stop,
    riding_pickup,
    wait_stop,
    waiting_pickup,
)
from tests.simulators.fixtures import MDRP_RULES


def order(oid: str, ready_s: float, dropoff_y: float, pickup_y: float = 3200.0) -> DayOrder:
    return DayOrder(oid, pickup_y, 0.0, dropoff_y, 0.0, 0.0, ready_s, 2400.0, "r1")


def bundle(pickup_y: float = 3200.0) -> list[tuple[str, DayOrder]]:
    """Two orders picked up together at (pickup_y, 0), then dropped off in turn."""
    a, b = order("a", 600.0, 6400.0, pickup_y), order("b", 1000.0, 9600.0, pickup_y)
    return [("pickup", a), ("pickup", b), ("dropoff", a), ("dropoff", b)]


def test_a_bundle_is_picked_up_once_when_its_last_order_is_ready() -> None:
    a, b = order("a", 600.0, 6400.0), order("b", 1000.0, 9600.0)
    stops = [("pickup", a), ("pickup", b), ("dropoff", a), ("dropoff", b)]
    trip = play_trip(Leg("c", 0.0, 0.0, 0.0, 1e9, "bike"), stops, MDRP_RULES,
                     PlanarTravel(320.0), 0.0)
    pickup, drop_a, drop_b = trip.visits
    assert pickup.order_ids == ("a", "b")
    assert (pickup.arrive_s, pickup.at_s, pickup.leave_s) == (600.0, 1000.0, 1120.0)
    assert drop_a.at_s == 1120.0 + 600.0 + 120.0
    assert drop_b.at_s == drop_a.leave_s + 600.0 + 120.0
    assert trip.released == ()


def test_no_pickup_after_the_shift_ends_and_the_orders_are_released() -> None:
    late = order("late", 2000.0, 6400.0)
    trip = play_trip(Leg("c", 0.0, 0.0, 0.0, 1500.0, "bike"),
                     [("pickup", late), ("dropoff", late)], MDRP_RULES, PlanarTravel(320.0), 0.0)
    assert trip.released == ("late",)
    assert trip.release_s == 1500.0
    assert [v.kind for v in trip.visits] == ["arrival"]


def test_a_courier_is_waiting_only_between_its_arrival_and_the_food_being_ready() -> None:
    a, b = order("a", 600.0, 6400.0), order("b", 1000.0, 9600.0)
    stops = [("pickup", a), ("pickup", b), ("dropoff", a), ("dropoff", b)]
    trip = play_trip(Leg("c", 0.0, 0.0, 0.0, 1e9, "bike"), stops, MDRP_RULES,
                     PlanarTravel(320.0), 0.0)
    half = MDRP_RULES.pickup_service_s / 2  # arrives at 600, half a service done at 720
    assert waiting_pickup(trip, 700.0, half) is None  # still arriving
    assert waiting_pickup(trip, 800.0, half) is trip.visits[0]
    assert waiting_pickup(trip, 1000.0, half) is None  # the food is ready: picked up


def test_a_trip_cut_while_waiting_ends_there_and_releases_every_order() -> None:
    a, b = order("a", 600.0, 6400.0), order("b", 1000.0, 9600.0)
    stops = [("pickup", a), ("pickup", b), ("dropoff", a), ("dropoff", b)]
    trip = play_trip(Leg("c", 0.0, 0.0, 0.0, 1e9, "bike"), stops, MDRP_RULES,
                     PlanarTravel(320.0), 0.0)
    cut = cut_trip(trip, trip.visits[0], wait_stop(trip.visits[0], 800.0))
    assert [(v.kind, v.arrive_s, v.at_s, v.leave_s) for v in cut.visits] == [
        ("arrival", 600.0, 800.0, 800.0)]
    assert cut.released == ("a", "b")
    assert (cut.release_s, cut.end_s) == (800.0, 800.0)
    assert (cut.end_lat, cut.end_lng) == (3200.0, 0.0)  # where it waited
    assert cut.metres == trip.visits[0].metres


def test_a_courier_rides_to_its_first_pickup_between_departure_and_arrival() -> None:
    trip = play_trip(Leg("c", 0.0, 0.0, 100.0, 1e9, "bike"), bundle(), MDRP_RULES,
                     PlanarTravel(320.0), 100.0)  # 3,200 m: 10 min, arrives at 700
    assert riding_pickup(trip, 100.0) is None  # not left yet
    assert riding_pickup(trip, 400.0) is trip.visits[0]
    assert riding_pickup(trip, 700.0) is None  # arrived


def test_a_ride_is_cut_at_its_next_whole_minute_where_the_rules_time_it_exactly() -> None:
    travel = PlanarTravel(320.0)
    # 3,000 m at 320 m/min: ceil(9.375) = 10 min, so the courier covers 300 m a minute.
    trip = play_trip(Leg("c", 0.0, 0.0, 100.0, 1e9, "bike"), bundle(3000.0), MDRP_RULES,
                     travel, 100.0)
    stop = ride_stop(trip, (0.0, 0.0), 330.0, travel, "bike")  # 3 min 50 s ridden
    assert stop is not None
    assert (stop.kind, stop.lat, stop.lng) == ("arrival", 1200.0, 0.0)  # after 4 minutes
    assert (stop.arrive_s, stop.at_s, stop.leave_s, stop.metres) == (340.0, 340.0, 340.0, 1200.0)
    # From there the rest of the way is no longer than the rest of the ride.
    assert float(travel.travel_s(1200.0, 0.0, 3000.0, 0.0, "bike")) == 360.0
    cut = cut_trip(trip, trip.visits[0], stop)
    assert [v.kind for v in cut.visits] == ["arrival"]
    assert cut.released == ("a", "b")
    assert (cut.release_s, cut.end_s, cut.end_lat, cut.end_lng) == (340.0, 340.0, 1200.0, 0.0)
    assert ride_stop(trip, (0.0, 0.0), 660.0, travel, "bike") is None  # reaches it first
