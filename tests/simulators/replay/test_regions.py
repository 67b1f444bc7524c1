"""The replay cut into regions: each batch is one region's, every rule still holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.optimizer.core import OrderSpec, RiderSpec
from simulators.evaluate import check_invariants
from simulators.instances import Instance
from simulators.replay import (
    POLICY_NAMES,
    Proposal,
    ReplayConfig,
    ReplayResult,
    make_policy,
    replay,
)
from simulators.replay.engine import Replay
from simulators.replay.regions import day_regions, split_batch
from tests.simulators.replay.test_engine import random_day, seed_orders, unit


def _all_orders_accounted_once(day: Instance, result: ReplayResult) -> None:
    """Every order of the day delivered exactly once or reported undelivered."""
    delivered = [o for t in result.trips for v in t.visits if v.kind == "dropoff"
                 for o in v.order_ids]
    assert len(delivered) == len(set(delivered))
    assert sorted([*delivered, *result.undelivered]) == sorted(o.order_id for o in day.orders)


def _spread(day: Instance) -> Instance:
    """The random day with its three restaurants 4 km apart, so that regions split it."""
    orders = tuple(replace(o, pickup_lat=4000.0 * int(o.merchant_id[1:])) for o in day.orders)
    return replace(day, orders=orders)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(unit, unit, unit, unit, unit, unit), min_size=1, max_size=10),
    couriers=st.integers(min_value=1, max_value=4),
    regions=st.integers(min_value=2, max_value=4),
    policy=st.sampled_from(POLICY_NAMES),
    estimate=st.booleans(),
)
def test_random_days_cut_into_regions_keep_every_rule(
    rows: list[tuple[float, ...]], couriers: int, regions: int, policy: str, estimate: bool
) -> None:
    day = _spread(random_day(rows, couriers))
    result = replay(day, ReplayConfig(policy=policy, estimate_ready=estimate, regions=regions))
    assert check_invariants(result) == []
    _all_orders_accounted_once(day, result)


@pytest.mark.parametrize("estimate", [False, True])
def test_every_batch_holds_one_region_and_every_courier_is_in_one(estimate: bool) -> None:
    day = _spread(random_day(seed_orders(11, 150), 12))
    config = ReplayConfig(policy="full", estimate_ready=estimate, regions=3)
    inner = make_policy("full", day.rules)
    regions = day_regions(day, 3)
    pickup = {o.order_id: o for o in day.orders}
    seen: list[set[int]] = []

    def policy(orders: Sequence[OrderSpec], riders: Sequence[RiderSpec], now: float
               ) -> list[Proposal]:
        owners = {regions.region_of(pickup[o.order_id].pickup_lat,
                                    pickup[o.order_id].pickup_lng) for o in orders}
        owners |= {regions.region_of(r.lat, r.lng) for r in riders}
        seen.append(owners)
        return inner(orders, riders, now)

    result = Replay(day, config, policy).run()
    assert all(len(owners) == 1 for owners in seen)
    assert {r for owners in seen for r in owners} == {0, 1, 2}
    assert len(result.batch_wall_s) == len(seen)
    assert check_invariants(result) == []
    _all_orders_accounted_once(day, result)


def test_regions_holding_the_whole_day_in_one_replay_it_as_one_region() -> None:
    # One restaurant: all the demand is in one cell, so k = 2 leaves region 1 empty and
    # everything (couriers included) in region 0: the same day as without regions.
    day = random_day(seed_orders(3, 60), 6)
    one_shop = replace(day, orders=tuple(replace(o, pickup_lat=0.0, pickup_lng=500.0,
                                                 merchant_id="r0") for o in day.orders))
    whole = replay(one_shop, ReplayConfig(policy="full"))
    cut = replay(one_shop, ReplayConfig(policy="full", regions=2))
    assert cut.trips == whole.trips
    assert cut.undelivered == whole.undelivered


def test_a_batch_split_puts_every_order_and_rider_in_its_region_once() -> None:
    orders = [OrderSpec(f"o{i}", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 60.0) for i in range(5)]
    riders = [RiderSpec(f"r{i}", 0.0, 0.0, 0.0) for i in range(4)]
    batches = split_batch(orders, {f"o{i}": i % 3 for i in range(5)}, riders,
                          np.array([2, 2, 0, 1]), 3)
    assert [[o.order_id for o in b[0]] for b in batches] == [["o0", "o3"], ["o1", "o4"], ["o2"]]
    assert [[r.rider_id for r in b[1]] for b in batches] == [["r2"], ["r3"], ["r0", "r1"]]


@pytest.mark.parametrize("changes", [{"regions": 0}, {"workers": -1}])
def test_fewer_than_one_region_or_negative_workers_are_refused(changes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ReplayConfig(**changes)



def test_regions_solved_in_worker_processes_replay_to_the_same_trips() -> None:
    day = _spread(random_day(seed_orders(5, 60), 8))
    here = replay(day, ReplayConfig(policy="full", regions=3))
    pooled = replay(day, ReplayConfig(policy="full", regions=3, workers=2))
    assert pooled.trips == here.trips
    assert pooled.undelivered == here.undelivered
    assert len(pooled.batch_wall_s) == len(here.batch_wall_s)


def test_a_custom_policy_cannot_be_sent_to_workers() -> None:
    day = random_day(seed_orders(5, 4), 1)
    with pytest.raises(ValueError):
        Replay(day, ReplayConfig(workers=1), make_policy("greedy", day.rules))
