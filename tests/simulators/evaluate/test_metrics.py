"""The evaluator on a hand-built day whose every figure is worked out by hand."""

from __future__ import annotations

import pytest

from simulators.evaluate import check_invariants, evaluate
from simulators.replay import ReplayConfig, ReplayResult, Trip, Visit
from tests.simulators.fixtures import hand_day

# c1 leaves (0, 0) at 178 s: 10 min to the restaurant, o1 ready at 900 s, 10 min on to
# its customer. o2 is placed at 2400 s while c1 idles at o1's customer: 10 min back to
# the restaurant (food ready since 2700 s), 10 min to o2's customer. Services 2+2 min.
TRIP_1 = Trip("c1", 178.0, 178.0, (
    Visit("pickup", ("o1",), 3200.0, 0.0, 778.0, 900.0, 1020.0, 3200.0),
    Visit("dropoff", ("o1",), 6400.0, 0.0, 1620.0, 1740.0, 1860.0, 3200.0),
), (), 178.0, 1860.0, 6400.0, 0.0)
TRIP_2 = Trip("c1", 2400.0, 2400.0, (
    Visit("pickup", ("o2",), 3200.0, 0.0, 3000.0, 3120.0, 3240.0, 3200.0),
    Visit("dropoff", ("o2",), 0.0, 0.0, 3840.0, 3960.0, 4080.0, 3200.0),
), (), 2400.0, 4080.0, 0.0, 0.0)


def hand_result() -> ReplayResult:
    return ReplayResult(hand_day(), ReplayConfig(), (TRIP_1, TRIP_2), ("o3",), (), 0.0)


def test_paper_metrics_match_the_hand_computed_figures() -> None:
    m = evaluate(hand_result())
    assert (m.orders, m.delivered) == (3, 2)
    assert m.undelivered_pct == pytest.approx(100 / 3)
    assert m.click_to_door_mean_min == pytest.approx(27.5)  # 29 and 26 minutes
    assert m.click_to_door_p90_min == pytest.approx(28.7)
    assert m.ready_to_pickup_mean_min == pytest.approx(3.5)  # 0 and 7 minutes
    assert m.ready_to_pickup_p90_min == pytest.approx(6.3)
    assert m.cost_per_order == pytest.approx(10.0)  # max(2 x $10, 1 h x $15) / 2
    assert m.orders_per_bundle == pytest.approx(1.0)
    assert m.courier_utilisation == pytest.approx((1682 + 1680) / 3600)
    assert m.orders_per_rider_hour == pytest.approx(2.0)


def test_report_metrics_match_the_hand_computed_figures() -> None:
    m = evaluate(hand_result())
    assert m.delivered_share == pytest.approx(2 / 3)
    assert m.on_time_share == 1.0
    assert m.lateness_mean_min == 0.0
    assert m.km_per_order == pytest.approx(6.4)
    assert m.assignment_latency_p50_s == pytest.approx(89.0)
    assert m.click_to_door_p50_min == pytest.approx(27.5)


def test_the_click_to_door_floor_is_preparation_services_and_the_direct_trip() -> None:
    m = evaluate(hand_result())
    # o1: 15 min to ready + 2 + 10 min trip + 2 = 29 (what it got); o2: 5 + 2 + 10 + 2 = 19.
    assert m.click_to_door_floor_mean_min == pytest.approx(24.0)


def test_the_guaranteed_hourly_pay_sets_the_cost_when_orders_are_few() -> None:
    result = ReplayResult(hand_day(), ReplayConfig(), (TRIP_1,), ("o2", "o3"), (), 0.0)
    assert evaluate(result).cost_per_order == pytest.approx(15.0)


def test_the_hand_built_run_keeps_every_rule() -> None:
    assert check_invariants(hand_result()) == []


def test_invariants_catch_a_pickup_before_the_food_is_ready() -> None:
    early = Visit("pickup", ("o1",), 3200.0, 0.0, 778.0, 880.0, 1000.0, 3200.0)
    trip = Trip("c1", 178.0, 178.0, (early, TRIP_1.visits[1]), (), 178.0, 1860.0, 6400.0, 0.0)
    result = ReplayResult(hand_day(), ReplayConfig(), (trip, TRIP_2), ("o3",), (), 0.0)
    problems = check_invariants(result)
    assert any("before ready" in p for p in problems)
    assert any("travel time" in p for p in problems)  # the drop-off now comes too late


def test_invariants_catch_lost_and_twice_delivered_orders() -> None:
    result = ReplayResult(hand_day(), ReplayConfig(), (TRIP_1, TRIP_1), (), (), 0.0)
    problems = check_invariants(result)
    assert any("delivered 2 times" in p for p in problems)
    assert any("o3" in p for p in problems)  # neither delivered nor listed undelivered


def cut_then_served(stop_x: float, stop_s: float) -> tuple[Trip, ...]:
    """c1 leaves at 178 s for the restaurant, stops at (stop_x, 0) at `stop_s` (taken off
    the ride), then fetches o1 from there as TRIP_1 would have."""
    cut = Trip("c1", 178.0, 178.0, (Visit("arrival", (), stop_x, 0.0, stop_s, stop_s, stop_s,
                                          stop_x),), ("o1",), stop_s, stop_s, stop_x, 0.0)
    on = Trip("c1", stop_s, stop_s, (
        Visit("pickup", ("o1",), 3200.0, 0.0, 778.0, 900.0, 1020.0, 3200.0 - stop_x),
        TRIP_1.visits[1]), (), stop_s, 1860.0, 6400.0, 0.0)
    return cut, on, TRIP_2


def test_a_ride_cut_at_a_point_reached_in_whole_minutes_keeps_every_rule() -> None:
    # 1,280 m is 4 minutes from the start; the restaurant 6 minutes further: 778 s as before.
    trips = cut_then_served(1280.0, 418.0)
    assert check_invariants(ReplayResult(hand_day(), ReplayConfig(), trips, ("o3",), (),
                                         0.0)) == []


def test_invariants_catch_a_ride_cut_where_the_courier_could_not_be_yet() -> None:
    # 1,600 m takes 5 minutes, not 4; and the next trip's first leg is no longer 6 minutes.
    trips = cut_then_served(1600.0, 418.0)
    problems = check_invariants(ReplayResult(hand_day(), ReplayConfig(), trips, ("o3",), (),
                                             0.0))
    assert sum("travel time" in p for p in problems) == 2


def test_invariants_time_each_trip_from_where_the_last_one_ended() -> None:
    # TRIP_1 claims to end at the restaurant: TRIP_2 leaving from there would be there at
    # once, not 10 minutes later as timed from o1's customer, where it really was.
    wrong_end = Trip("c1", 178.0, 178.0, TRIP_1.visits, (), 178.0, 1860.0, 3200.0, 0.0)
    problems = check_invariants(ReplayResult(hand_day(), ReplayConfig(), (wrong_end, TRIP_2),
                                             ("o3",), (), 0.0))
    assert any("away from its last stop" in p for p in problems)
    assert any("arrival at 3000.0 breaks travel time" in p for p in problems)
