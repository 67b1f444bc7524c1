"""Playing a committed trip by the MDRP rules: one-restaurant bundles and the shift's end."""

from __future__ import annotations

from geo.travel import PlanarTravel
from simulators.instances import DayOrder
from simulators.replay.trips import Leg, play_trip
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
