"""The metres term of the objective: among nearly equally fast riders the shorter ride wins."""

from __future__ import annotations

import pytest

from dispatch.optimizer.core import BatchParams, OrderSpec, RiderSpec, evaluate_plan, solve_batch
from geo.distance import EARTH_RADIUS_M
from geo.travel import HaversineTravel

NOW = 50_000.0
LAT, LNG = 4.65, -74.08
METRES_PER_DEGREE = EARTH_RADIUS_M * 3.141592653589793 / 180


def _riders() -> list[RiderSpec]:
    """A motorcycle 1,500 m of road north (200 s) and a bicycle 882 m south (210 s)."""
    detour = HaversineTravel().detour_factor
    north = LAT + 1500 / detour / METRES_PER_DEGREE
    south = LAT - 882 / detour / METRES_PER_DEGREE
    return [
        RiderSpec("fast-far", north, LNG, available_s=NOW, vehicle="motorcycle"),
        RiderSpec("slow-near", south, LNG, available_s=NOW, vehicle="bicycle"),
    ]


def _order() -> OrderSpec:
    # Dropped off next door, so the ride there hardly differs between the vehicles.
    return OrderSpec("o", LAT, LNG, LAT, LNG + 0.0001, placed_s=NOW - 60, ready_s=NOW,
                     promised_s=NOW + 3600)


@pytest.mark.parametrize(("weight", "winner"), [(0.0, "fast-far"), (0.1, "slow-near")])
def test_a_metres_weight_sends_the_shorter_ride_when_it_is_nearly_as_fast(
    weight: float, winner: str
) -> None:
    params = BatchParams(bundling=False, distance_weight=weight)
    plan = solve_batch([_order()], _riders(), params, now_s=NOW)
    assert list(plan.routes) == [winner]


def test_the_metres_term_is_priced_alike_by_the_optimizer_and_by_evaluate_plan() -> None:
    params = BatchParams(bundling=False, distance_weight=0.05)
    plan = solve_batch([_order()], _riders(), params, now_s=NOW)
    assert evaluate_plan(plan, [_order()], _riders(), params, now_s=NOW) == pytest.approx(plan.cost)
    unweighted = evaluate_plan(plan, [_order()], _riders(), BatchParams(), now_s=NOW)
    assert plan.cost - unweighted == pytest.approx(0.05 * plan.stats["travel_m"])
