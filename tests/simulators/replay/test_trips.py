"""Playing a committed trip by the MDRP rules: one-restaurant bundles, the shift's end, and
taking a courier waiting for food off its trip."""

from __future__ import annotations

from geo.travel import PlanarTravel
from simulators.instances import DayOrder
from simulators.replay.trips import Leg, cut_at_wait, play_trip, waiting_pickup
from tests.simulators.fixtures import MDRP_RULES


def order(oid: str, ready_s: float, dropoff_y: float) -> DayOrder:
    return DayOrder(oid, 3200.0, 0.0, dropoff_y, 0.0, 0.0, ready_s, 2400.0, "r1")


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
    cut = cut_at_wait(trip, trip.visits[0], 800.0)
    assert [(v.kind, v.arrive_s, v.at_s, v.leave_s) for v in cut.visits] == [
        ("arrival", 600.0, 800.0, 800.0)]
    assert cut.released == ("a", "b")
    assert (cut.release_s, cut.end_s) == (800.0, 800.0)
    assert (cut.end_lat, cut.end_lng) == (3200.0, 0.0)  # where it waited
    assert cut.metres == trip.visits[0].metres
