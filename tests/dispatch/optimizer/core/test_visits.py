"""Consecutive pickups at one place are one visit: one pickup service, at the last ready time."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch.optimizer.core import (
    BatchParams,
    OrderSpec,
    RiderPlan,
    Stop,
    evaluate_plan,
    solve_batch,
)
from tests.dispatch.optimizer.core.test_bundles import NOW, order, rider

# Click-to-door counts, as in the replay: a visit that ends sooner delivers sooner.
PARAMS = BatchParams(pickup_service_s=240.0, dropoff_service_s=120.0, delivery_weight=1.0)


def _two(merchants: tuple[str | None, str | None]) -> list[OrderSpec]:
    """Two orders from the shop going the same way, ready at +300 s and +400 s."""
    a, b = order("a", 2000, 0), order("b", 2100, 0)
    return [
        dataclasses.replace(a, merchant_id=merchants[0]),
        dataclasses.replace(b, merchant_id=merchants[1], ready_s=NOW + 400),
    ]


def _bundle_route() -> dict[str, RiderPlan]:
    stops = tuple(Stop(k, oid, 0.0, 0.0, 0.0)  # type: ignore[arg-type]
                  for k, oid in (("pickup", "a"), ("pickup", "b"), ("dropoff", "a"),
                                 ("dropoff", "b")))
    return {"r": RiderPlan("r", ("a", "b"), stops)}


def test_a_same_merchant_bundle_is_picked_up_in_one_visit_when_the_last_order_is_ready() -> None:
    plan = solve_batch(_two(("shop", "shop")), [rider("r", 0)], PARAMS, now_s=NOW)
    (route,) = plan.routes.values()
    pickups = [s.eta_s for s in route.stops if s.kind == "pickup"]
    # The rider is at the shop: the visit is when b is ready, not a's pickup plus a service.
    assert pickups == [pytest.approx(NOW + 400), pytest.approx(NOW + 400)]
    first_drop = route.stops[2].eta_s
    ride = float(PARAMS.travel.travel_s(*(4.65, -74.08), route.stops[2].lat, route.stops[2].lng,
                                        "motorcycle"))
    assert first_drop == pytest.approx(NOW + 400 + 120 + ride + 60)
    assert plan.cost == pytest.approx(
        evaluate_plan(plan, _two(("shop", "shop")), [rider("r", 0)], PARAMS, now_s=NOW)
    )


def test_one_visit_costs_less_than_two_at_different_merchants_side_by_side() -> None:
    def cost(merchants: tuple[str | None, str | None]) -> float:
        return evaluate_plan(_bundle_route(), _two(merchants), [rider("r", 0)], PARAMS, now_s=NOW)

    shared = cost(("shop", "shop"))
    assert cost((None, None)) == pytest.approx(shared)  # no merchant: same coordinates decide
    assert cost(("shop", "deli")) > shared  # two merchants: two visits, later drop-offs


def test_pickups_apart_in_the_route_are_separate_visits() -> None:
    orders = _two(("shop", "shop"))
    stops = tuple(Stop(k, oid, 0.0, 0.0, 0.0)  # type: ignore[arg-type]
                  for k, oid in (("pickup", "a"), ("dropoff", "a"), ("pickup", "b"),
                                 ("dropoff", "b")))
    apart = evaluate_plan({"r": RiderPlan("r", ("a", "b"), stops)}, orders, [rider("r", 0)],
                          PARAMS, now_s=NOW)
    assert apart > evaluate_plan(_bundle_route(), orders, [rider("r", 0)], PARAMS, now_s=NOW)
