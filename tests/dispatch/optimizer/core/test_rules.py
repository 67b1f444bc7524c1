"""The rules a plan keeps, one at a time: shifts, carried work, declines, reach, time limits."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from dispatch.optimizer.core import (
    BatchParams,
    CarriedStop,
    OrderSpec,
    RiderSpec,
    evaluate_plan,
    greedy_plan,
    solve_batch,
)
from geo.distance import FloatArray
from geo.travel import HaversineTravel, PlanarTravel
from tests.dispatch.optimizer.core.checks import assert_valid
from tests.dispatch.optimizer.core.test_bundles import NOW, SHOP, M, order, rider


def test_no_rider_is_sent_to_a_pickup_after_its_shift_ends() -> None:
    orders = [order("a", 2000, 0)]  # ready in five minutes
    leaving = RiderSpec("leaving", SHOP[0], SHOP[1], available_s=NOW, shift_end_s=NOW + 120)
    staying = rider("staying", 3000)
    plan = solve_batch(orders, [leaving, staying], BatchParams(), now_s=NOW)
    assert plan.assignment() == {"a": "staying"}
    alone = solve_batch(orders, [leaving], BatchParams(), now_s=NOW)
    assert alone.unassigned == ("a",)


def test_a_shift_ending_after_the_pickup_still_allows_the_order() -> None:
    orders = [order("a", 2000, 0)]
    late_shift = RiderSpec("r", SHOP[0], SHOP[1], available_s=NOW, shift_end_s=NOW + 400)
    plan = solve_batch(orders, [late_shift], BatchParams(), now_s=NOW)
    pickup = plan.routes["r"].stops[0]
    assert pickup.kind == "pickup" and pickup.eta_s <= NOW + 400


def test_new_work_comes_after_the_stops_a_rider_already_carries() -> None:
    carried = CarriedStop("dropoff", "old", SHOP[0] + 1000 * M, SHOP[1], promised_s=NOW + 900)
    busy = RiderSpec("busy", SHOP[0] + 200 * M, SHOP[1], available_s=NOW, capacity=3, load=1,
                     carried=(carried,))
    plan = solve_batch([order("a", 1500, 0)], [busy], BatchParams(), now_s=NOW)
    stops = plan.routes["busy"].stops
    assert [(s.kind, s.order_id) for s in stops] == [
        ("dropoff", "old"), ("pickup", "a"), ("dropoff", "a"),
    ]
    assert stops[0].eta_s < stops[1].eta_s < stops[2].eta_s


def test_the_extra_route_time_is_what_a_carrying_rider_is_charged() -> None:
    far = CarriedStop("dropoff", "old", SHOP[0] + 6000 * M, SHOP[1], promised_s=NOW + 3600)
    detouring = RiderSpec("detour", SHOP[0], SHOP[1], available_s=NOW, load=1, carried=(far,))
    idle = rider("idle", 1500)
    plan = solve_batch([order("a", -1000, 0)], [detouring, idle], BatchParams(), now_s=NOW)
    assert plan.assignment() == {"a": "idle"}


def test_a_rider_who_declined_an_order_is_not_offered_it_again() -> None:
    declined = OrderSpec(**{**order("a", 2000, 0).__dict__, "excluded_riders": frozenset({"r1"})})
    plan = solve_batch([declined], [rider("r1", 100), rider("r2", 2500)], BatchParams(), now_s=NOW)
    assert plan.assignment() == {"a": "r2"}
    alone = solve_batch([declined], [rider("r1", 100)], BatchParams(), now_s=NOW)
    assert alone.unassigned == ("a",)


def test_riders_beyond_the_radius_are_not_candidates_until_the_order_has_waited() -> None:
    fresh = order("a", 2000, 0)
    far = [rider("far", 7000)]
    assert solve_batch([fresh], far, BatchParams(), now_s=NOW).unassigned == ("a",)
    waited = OrderSpec(**{**fresh.__dict__, "placed_s": NOW - 1200})
    assert solve_batch([waited], far, BatchParams(), now_s=NOW).assignment() == {"a": "far"}


def test_only_the_nearest_riders_are_candidates() -> None:
    riders = [rider(f"r{i}", 100.0 * (i + 1)) for i in range(5)]
    params = BatchParams(candidate_count=2, bundling=False)
    orders = [order(f"o{i}", 2000, 0) for i in range(3)]
    plan = solve_batch(orders, riders, params, now_s=NOW)
    assert set(plan.assignment().values()) <= {"r0", "r1"}
    assert len(plan.unassigned) == 1
    assert_valid(plan, orders, riders, params, NOW)


class EastIsSlow:
    """A travel model where moving east or west takes ten times as long (a river, say)."""

    def __init__(self) -> None:
        self.base = HaversineTravel(detour_factor=1.0)

    def project(self, lat: npt.ArrayLike, lng: npt.ArrayLike, origin_lat: float) -> FloatArray:
        return self.base.project(lat, lng, origin_lat)

    def distance_m(
        self, lat1: npt.ArrayLike, lng1: npt.ArrayLike, lat2: npt.ArrayLike, lng2: npt.ArrayLike
    ) -> FloatArray:
        return self.base.distance_m(lat1, lng1, lat2, lng2)

    def travel_s(
        self, lat1: npt.ArrayLike, lng1: npt.ArrayLike, lat2: npt.ArrayLike, lng2: npt.ArrayLike,
        vehicle: str,
    ) -> FloatArray:
        north = self.base.distance_m(lat1, lng1, lat2, lng1)
        east = self.base.distance_m(lat2, lng1, lat2, lng2)
        out: FloatArray = (north + 10 * east) / self.base.speed_mps(vehicle)
        return out


def test_the_travel_model_is_pluggable() -> None:
    east = RiderSpec("east", SHOP[0], SHOP[1] + 500 * M, available_s=NOW)
    north = rider("north", 900)
    orders = [order("a", 2000, 0)]
    default = solve_batch(orders, [east, north], BatchParams(), now_s=NOW)
    assert default.assignment() == {"a": "east"}
    slow_east = solve_batch(orders, [east, north], BatchParams(travel=EastIsSlow()), now_s=NOW)
    assert slow_east.assignment() == {"a": "north"}


def test_planar_coordinates_work_with_the_planar_model() -> None:
    params = BatchParams(travel=PlanarTravel(), candidate_radius_m=5000)
    planar = OrderSpec("a", 0.0, 0.0, 3200.0, 0.0, placed_s=0, ready_s=0, promised_s=3600)
    riders = [RiderSpec("near", 640.0, 0.0, available_s=0), RiderSpec("far", 2000.0, 0.0, 0)]
    plan = solve_batch([planar], riders, params, now_s=0)
    assert plan.assignment() == {"a": "near"}
    assert [s.eta_s for s in plan.routes["near"].stops] == [120.0, 720.0]  # 2 + 10 whole minutes


def test_vehicles_travel_at_their_own_speeds() -> None:
    walker = RiderSpec("walker", SHOP[0] + 300 * M, SHOP[1], available_s=NOW, vehicle="walk")
    motorbike = rider("motorbike", 1200)
    params = BatchParams(bundling=False)
    plan = solve_batch([order("a", 2000, 0)], [walker, motorbike], params, now_s=NOW)
    assert plan.assignment() == {"a": "motorbike"}


@pytest.mark.parametrize(("n_orders", "n_riders"), [(0, 0), (0, 3), (3, 0)])
def test_empty_sides_give_an_empty_but_valid_plan(n_orders: int, n_riders: int) -> None:
    orders = [order(f"o{i}", 1000, 0) for i in range(n_orders)]
    riders = [rider(f"r{i}", 100) for i in range(n_riders)]
    plan = solve_batch(orders, riders, BatchParams(), now_s=NOW)
    assert plan.routes == {}
    assert len(plan.unassigned) == n_orders
    assert math.isclose(plan.cost, evaluate_plan(plan, orders, riders, BatchParams(), now_s=NOW))


def test_a_spent_time_limit_still_returns_a_feasible_plan() -> None:
    rng = np.random.default_rng(7)
    orders = [order(f"o{i}", *rng.uniform(-3000, 3000, 2)) for i in range(30)]
    riders = [rider(f"r{i}", float(rng.uniform(-3000, 3000))) for i in range(20)]
    params = BatchParams(time_limit_s=1e-9)
    plan = solve_batch(orders, riders, params, now_s=NOW)
    assert plan.stats["method"] == "greedy"
    assert plan.cost == greedy_plan(orders, riders, params, now_s=NOW).cost
    assert_valid(plan, orders, riders, params, NOW)


def test_an_accepted_order_not_yet_picked_up_is_served_first() -> None:
    shop2 = (SHOP[0] + 800 * M, SHOP[1])
    carried = (
        CarriedStop("pickup", "old", *shop2, ready_s=NOW + 600),
        CarriedStop("dropoff", "old", shop2[0] + 1000 * M, shop2[1], promised_s=NOW + 2400),
    )
    busy = RiderSpec("busy", SHOP[0], SHOP[1], available_s=NOW, load=1, carried=carried)
    plan = solve_batch([order("a", 2500, 0)], [busy], BatchParams(), now_s=NOW)
    stops = plan.routes["busy"].stops
    assert [(s.kind, s.order_id) for s in stops] == [
        ("pickup", "old"), ("dropoff", "old"), ("pickup", "a"), ("dropoff", "a"),
    ]
    assert stops[0].eta_s == NOW + 600  # it waits for the food
    assert stops[0].eta_s < stops[1].eta_s < stops[2].eta_s < stops[3].eta_s


@pytest.mark.parametrize("field", ["order", "rider"])
def test_duplicate_ids_in_a_batch_are_refused(field: str) -> None:
    orders = [order("a", 1000, 0), order("a" if field == "order" else "b", 1200, 0)]
    riders = [rider("r", 100), rider("r" if field == "rider" else "s", 200)]
    with pytest.raises(ValueError, match=f"{field} ids"):
        solve_batch(orders, riders, BatchParams(), now_s=NOW)


def test_orders_of_several_units_need_the_room_for_all_of_them() -> None:
    big = OrderSpec(**{**order("big", 1500, 0).__dict__, "size": 2})
    small_bag = RiderSpec("small", SHOP[0], SHOP[1], available_s=NOW, capacity=1)
    large_bag = rider("large", 2500)
    plan = solve_batch([big], [small_bag, large_bag], BatchParams(), now_s=NOW)
    assert plan.assignment() == {"big": "large"}
