"""`evaluate_plan` prices plans from anywhere on the batch objective, and refuses broken ones."""

from __future__ import annotations

import pytest

from dispatch.optimizer.core import BatchParams, RiderPlan, Stop, evaluate_plan, solve_batch
from tests.dispatch.optimizer.core.test_bundles import NOW, order, rider


def _stop(kind: str, oid: str) -> Stop:
    return Stop(kind, oid, 0.0, 0.0, 0.0)  # type: ignore[arg-type]


def test_leaving_everything_out_costs_the_penalties_of_the_orders() -> None:
    params = BatchParams(unassigned_penalty_s=1000.0, age_weight=1.0)
    orders = [order("a", 1000, 0)]  # placed a minute ago
    assert evaluate_plan({}, orders, [rider("r", 0)], params, now_s=NOW) == pytest.approx(1060.0)


def test_a_plan_from_elsewhere_is_priced_like_the_optimizer_prices_its_own() -> None:
    orders, riders = [order("a", 1000, 0), order("b", 1200, 0)], [rider("r", 100)]
    plan = solve_batch(orders, riders, BatchParams(), now_s=NOW)
    routes = {rid: RiderPlan(rid, r.order_ids, r.stops) for rid, r in plan.routes.items()}
    assert evaluate_plan(routes, orders, riders, BatchParams(), now_s=NOW) == pytest.approx(
        plan.cost
    )


@pytest.mark.parametrize("stops", [
    (_stop("dropoff", "a"), _stop("pickup", "a")),
    (_stop("pickup", "a"),),
    (_stop("pickup", "a"), _stop("dropoff", "a"), _stop("pickup", "a"), _stop("dropoff", "a")),
    (_stop("pickup", "zzz"), _stop("dropoff", "zzz")),
])
def test_broken_routes_are_refused(stops: tuple[Stop, ...]) -> None:
    with pytest.raises(ValueError):
        evaluate_plan({"r": RiderPlan("r", ("a",), stops)}, [order("a", 1000, 0)],
                      [rider("r", 0)], BatchParams(), now_s=NOW)


def test_an_unknown_rider_is_refused() -> None:
    route = RiderPlan("ghost", ("a",), (_stop("pickup", "a"), _stop("dropoff", "a")))
    with pytest.raises(ValueError, match="unknown rider"):
        evaluate_plan({"ghost": route}, [order("a", 1000, 0)], [rider("r", 0)], BatchParams(),
                      now_s=NOW)
