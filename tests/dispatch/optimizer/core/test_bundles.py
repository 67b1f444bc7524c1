"""Bundling: two orders share a rider when that is cheaper, never when it is not."""

from __future__ import annotations

from dispatch.optimizer.core import BatchParams, OrderSpec, RiderSpec, greedy_plan, solve_batch

NOW = 50_000.0
SHOP = (4.6500, -74.0800)
M = 1 / 111_000  # degrees of latitude per metre


def order(oid: str, north_m: float, east_m: float, *, merchant: str = "shop") -> OrderSpec:
    """An order from the shop, ready in five minutes, to a point north/east of it."""
    return OrderSpec(
        order_id=oid, pickup_lat=SHOP[0], pickup_lng=SHOP[1],
        dropoff_lat=SHOP[0] + north_m * M, dropoff_lng=SHOP[1] + east_m * M,
        placed_s=NOW - 60, ready_s=NOW + 300, promised_s=NOW + 3600, merchant_id=merchant,
    )


def rider(rid: str, north_m: float, *, capacity: int = 3) -> RiderSpec:
    """An idle rider `north_m` metres north of the shop."""
    return RiderSpec(rid, SHOP[0] + north_m * M, SHOP[1], available_s=NOW, capacity=capacity)


def test_two_orders_from_one_merchant_going_the_same_way_share_a_rider() -> None:
    orders = [order("a", 2000, 0), order("b", 2200, 100)]
    riders = [rider("r1", 300), rider("r2", -400)]
    plan = solve_batch(orders, riders, BatchParams(), now_s=NOW)
    assert len(plan.routes) == 1
    (route,) = plan.routes.values()
    assert sorted(route.order_ids) == ["a", "b"]
    assert [s.kind for s in route.stops] == ["pickup", "pickup", "dropoff", "dropoff"]
    assert [s.order_id for s in route.stops[2:]] == ["a", "b"]  # the nearer drop-off first
    assert plan.stats["bundled_orders"] == 2
    assert plan.cost < greedy_plan(orders, riders, BatchParams(), now_s=NOW).cost


def test_without_bundling_each_rider_takes_one_order() -> None:
    orders = [order("a", 2000, 0), order("b", 2200, 100)]
    riders = [rider("r1", 300), rider("r2", -400)]
    plan = solve_batch(orders, riders, BatchParams(bundling=False), now_s=NOW)
    assert sorted(len(r.order_ids) for r in plan.routes.values()) == [1, 1]


def test_orders_going_opposite_ways_are_not_bundled() -> None:
    orders = [order("a", 3000, 0), order("b", -3000, 0)]
    riders = [rider("r1", 300), rider("r2", -300)]
    plan = solve_batch(orders, riders, BatchParams(), now_s=NOW)
    assert sorted(plan.assignment()) == ["a", "b"]
    assert sorted(len(r.order_ids) for r in plan.routes.values()) == [1, 1]


def test_a_bundle_never_exceeds_what_the_rider_has_room_for() -> None:
    orders = [order("a", 2000, 0), order("b", 2100, 0), order("c", 2200, 0)]
    riders = [rider("r1", 200, capacity=2), rider("r2", 5000, capacity=1)]
    plan = solve_batch(orders, riders, BatchParams(), now_s=NOW)
    assert len(plan.routes["r1"].order_ids) == 2
    assert len(plan.unassigned) + sum(len(r.order_ids) for r in plan.routes.values()) == 3


def test_a_rider_scarce_batch_serves_more_orders_by_bundling() -> None:
    orders = [order(f"o{i}", 2000 + 50 * i, 20 * i) for i in range(3)]
    riders = [rider("r1", 300)]
    plan = solve_batch(orders, riders, BatchParams(), now_s=NOW)
    greedy = greedy_plan(orders, riders, BatchParams(), now_s=NOW)
    assert len(plan.routes["r1"].order_ids) == 3
    assert len(greedy.unassigned) == 2


def test_same_merchant_only_keeps_other_merchants_apart() -> None:
    orders = [order("a", 2000, 0), order("b", 2100, 0, merchant="other")]
    riders = [rider("r1", 300)]
    params = BatchParams(same_merchant_only=True)
    plan = solve_batch(orders, riders, params, now_s=NOW)
    assert len(plan.routes["r1"].order_ids) == 1
    assert len(plan.unassigned) == 1


def _from(oid: str, pickup_east_m: float, north_m: float) -> OrderSpec:
    """An order picked up `pickup_east_m` east of the shop, to `north_m` north of it."""
    base = order(oid, north_m, 0)
    return OrderSpec(
        order_id=oid, pickup_lat=SHOP[0], pickup_lng=SHOP[1] + pickup_east_m * M,
        dropoff_lat=base.dropoff_lat, dropoff_lng=base.dropoff_lng, placed_s=base.placed_s,
        ready_s=base.ready_s, promised_s=base.promised_s,
    )


def test_an_order_finds_the_partner_going_its_way_behind_nearer_pickups_going_elsewhere(
) -> None:
    # a and b go north; six orders whose pickups are nearer to both go south, so neither
    # a nor b is among the other's 4 nearest pickups: only the search in pickup and
    # drop-off together pairs them.
    orders = [_from("a", 0, 3000), _from("b", 50, 3000),
              *(_from(f"s{i}", i, -3000 - 100 * i) for i in range(1, 7))]
    riders = [rider(f"r{j}", 100 * j) for j in range(4)]

    def together(params: BatchParams) -> bool:
        plan = solve_batch(orders, riders, params, now_s=NOW)
        return any({"a", "b"} <= set(r.order_ids) for r in plan.routes.values())

    assert together(BatchParams())
    assert not together(BatchParams(bundle_route_partners=0))
