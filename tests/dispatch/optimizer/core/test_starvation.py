"""A late order's claim to a rider grows at least as fast as what serving it costs."""

from __future__ import annotations

from dispatch.optimizer.core import BatchParams, OrderSpec, RiderSpec, evaluate_plan, solve_batch
from tests.dispatch.optimizer.core.test_bundles import NOW, SHOP, M, order, rider


def _late() -> OrderSpec:
    """An order placed an hour ago, promised 20 minutes ago, going 4 km away."""
    return OrderSpec(
        order_id="late", pickup_lat=SHOP[0], pickup_lng=SHOP[1],
        dropoff_lat=SHOP[0] + 4000 * M, dropoff_lng=SHOP[1],
        placed_s=NOW - 3600, ready_s=NOW - 3000, promised_s=NOW - 1200, merchant_id="shop",
    )


def _fresh(now_s: float, k: int) -> OrderSpec:
    """An order placed now, ready in five minutes, going 500 m away."""
    o = order(f"fresh{k}", 500, 0)
    shift = now_s - NOW
    return OrderSpec(
        order_id=o.order_id, pickup_lat=o.pickup_lat, pickup_lng=o.pickup_lng,
        dropoff_lat=o.dropoff_lat, dropoff_lng=o.dropoff_lng, placed_s=now_s,
        ready_s=o.ready_s + shift, promised_s=o.promised_s + shift, merchant_id="shop",
    )


def _one_rider(now_s: float) -> list[RiderSpec]:
    r = rider("r", 300, capacity=1)
    return [RiderSpec(r.rider_id, r.lat, r.lng, available_s=now_s, capacity=1)]


def test_a_late_order_competing_with_fresh_ones_for_one_rider_is_eventually_served() -> None:
    params = BatchParams()
    for k in range(240):  # a fresh order arrives every minute for four hours
        now = NOW + 60 * k
        plan = solve_batch([_late(), _fresh(now, k)], _one_rider(now), params, now_s=now)
        if "late" in plan.assignment():
            return
    raise AssertionError("the late order lost every batch")


def test_waiting_never_makes_a_late_order_cheaper_to_leave_than_to_serve() -> None:
    """Serving minus leaving (what the solve compares) does not grow as the order waits."""
    params = BatchParams(delivery_weight=1.0, lateness_weight=4.0, age_weight=0.5)
    claim = []
    for wait_s in (0.0, 600.0, 1200.0, 3600.0):
        now = NOW + wait_s
        riders = _one_rider(now)
        served = solve_batch([_late()], riders, params, now_s=now)
        assert "late" in served.assignment()
        left = evaluate_plan({}, [_late()], riders, params, now_s=now)
        claim.append(served.cost - left)
    assert claim == sorted(claim, reverse=True)
