"""Independent checks of a plan against the rules it must keep, for the optimizer's tests."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from dispatch.optimizer.core import BatchParams, OrderSpec, Plan, RiderSpec


def assert_orders_once(plan: Plan, orders: list[OrderSpec]) -> None:
    """Every order is in at most one rider's plan, and either assigned or left unassigned."""
    taken = Counter(oid for route in plan.routes.values() for oid in route.order_ids)
    assert all(count == 1 for count in taken.values()), taken
    ids = {o.order_id for o in orders}
    assert set(taken) | set(plan.unassigned) == ids
    assert not set(taken) & set(plan.unassigned)


def assert_capacity(plan: Plan, riders: list[RiderSpec], orders: list[OrderSpec]) -> None:
    """Each rider's load plus the sizes of its new orders stays within its capacity."""
    by_rider = {r.rider_id: r for r in riders}
    size = {o.order_id: o.size for o in orders}
    for rid, route in plan.routes.items():
        rider = by_rider[rid]
        assert rider.load + sum(size[oid] for oid in route.order_ids) <= rider.capacity


def assert_routes_well_formed(plan: Plan, riders: list[RiderSpec]) -> None:
    """Carried stops first and unchanged; then each new order picked up once, before its drop."""
    by_rider = {r.rider_id: r for r in riders}
    for rid, route in plan.routes.items():
        carried = by_rider[rid].carried
        head = [(s.kind, s.order_id) for s in route.stops[: len(carried)]]
        assert head == [(c.kind, c.order_id) for c in carried]
        new = [(s.kind, s.order_id) for s in route.stops[len(carried) :]]
        expected = [(kind, oid) for oid in route.order_ids for kind in ("pickup", "dropoff")]
        assert sorted(new) == sorted(expected)
        for oid in route.order_ids:
            assert new.index(("pickup", oid)) < new.index(("dropoff", oid))
        etas = [s.eta_s for s in route.stops]
        assert etas == sorted(etas)
        end = by_rider[rid].shift_end_s
        if end is not None:
            assert all(s.eta_s <= end for s in route.stops[len(carried) :] if s.kind == "pickup")


def candidate_riders(
    order: OrderSpec, orders: list[OrderSpec], riders: list[RiderSpec], params: BatchParams,
    now_s: float,
) -> set[str]:
    """The riders the candidate rule allows for `order`, by brute force.

    Riders with a shift end must not carry anything (the instances keep to that), so
    their start time is simply ``max(now, available)``.
    """
    origin = float(np.mean([o.pickup_lat for o in orders]))
    factor = params.widen_factor if now_s - order.placed_s > params.widen_after_s else 1.0
    eligible = []
    for r in riders:
        assert r.shift_end_s is None or not r.carried
        start = max(now_s, r.available_s)
        if r.capacity - r.load >= 1 and (r.shift_end_s is None or r.shift_end_s > start):
            eligible.append(r)
    if not eligible:
        return set()
    lat = [r.carried[-1].lat if r.carried else r.lat for r in eligible]
    lng = [r.carried[-1].lng if r.carried else r.lng for r in eligible]
    points = params.travel.project(lat, lng, origin)
    pickup = params.travel.project([order.pickup_lat], [order.pickup_lng], origin)[0]
    dist = np.hypot(*(points - pickup).T)
    count = min(len(eligible), math.ceil(params.candidate_count * factor))
    ranked = np.argsort(dist, kind="stable")[:count]
    return {
        eligible[i].rider_id for i in ranked
        if dist[i] <= params.candidate_radius_m * factor
        and eligible[i].rider_id not in order.excluded_riders
        and eligible[i].capacity - eligible[i].load >= order.size
    }


def assert_candidate_rules(
    plan: Plan, orders: list[OrderSpec], riders: list[RiderSpec], params: BatchParams,
    now_s: float,
) -> None:
    """Every assigned order went to a rider its candidate rule allows."""
    by_id = {o.order_id: o for o in orders}
    for rid, route in plan.routes.items():
        for oid in route.order_ids:
            assert rid not in by_id[oid].excluded_riders
            assert rid in candidate_riders(by_id[oid], orders, riders, params, now_s), (oid, rid)


def assert_valid(
    plan: Plan, orders: list[OrderSpec], riders: list[RiderSpec], params: BatchParams,
    now_s: float,
) -> None:
    """All of the above."""
    assert_orders_once(plan, orders)
    assert_capacity(plan, riders, orders)
    assert_routes_well_formed(plan, riders)
    assert_candidate_rules(plan, orders, riders, params, now_s)
