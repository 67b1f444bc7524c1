"""The replay on the hand-built day, on random small days (rule invariants), and for a seed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulators.evaluate import check_invariants, evaluate
from simulators.instances import DayCourier, DayOrder, Instance
from simulators.replay import POLICY_NAMES, ReplayConfig, replay
from tests.simulators.fixtures import MDRP_RULES, hand_day


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_every_policy_replays_the_hand_day_to_the_worked_times(policy: str) -> None:
    result = replay(hand_day(), ReplayConfig(policy=policy))
    stops = [(v.kind, v.order_ids, v.at_s) for t in result.trips for v in t.visits]
    assert stops == [
        ("pickup", ("o1",), 900.0), ("dropoff", ("o1",), 1740.0),
        ("pickup", ("o2",), 3120.0), ("dropoff", ("o2",), 3960.0),
    ]
    assert result.undelivered == ("o3",)  # ready only after the only shift ends
    assert result.trips[0].depart_s == 178.0  # held until it must leave, then committed
    assert evaluate(result).click_to_door_mean_min == pytest.approx(27.5)


def test_orders_are_never_committed_before_they_are_placed() -> None:
    result = replay(hand_day(), ReplayConfig(policy="full"))
    orders = {o.order_id: o for o in hand_day().orders}
    for trip in result.trips:
        for visit in trip.visits:
            assert all(orders[o].placed_s <= trip.committed_s for o in visit.order_ids)


def test_a_replay_is_deterministic_for_a_seed() -> None:
    day = random_day(seed_orders(7, 12), 4)
    first = replay(day, ReplayConfig(policy="full", seed=3))
    second = replay(day, ReplayConfig(policy="full", seed=3))
    assert first.trips == second.trips
    assert first.undelivered == second.undelivered


def seed_orders(seed: int, n: int) -> list[tuple[float, ...]]:
    """n deterministic pseudo-random order tuples (no hypothesis), for the determinism test."""
    values, x = [], seed
    for _ in range(n):
        row = []
        for _ in range(6):
            x = (x * 1103515245 + 12345) % 2**31
            row.append(x / 2**31)
        values.append(tuple(row))
    return values


def random_day(rows: list[tuple[float, ...]], couriers: int) -> Instance:
    """A planar day of orders from unit-interval tuples, 3 restaurants, `couriers` couriers."""
    orders = []
    for i, (r, x, y, placed, prep, _) in enumerate(rows):
        merchant = int(r * 3)
        placed_s = round(placed * 7200)
        orders.append(DayOrder(
            f"o{i}", 1000.0 * merchant, 500.0, 6000 * y, 6000 * x, placed_s,
            placed_s + round(prep * 1800), placed_s + 2400, f"r{merchant}",
        ))
    orders.sort(key=lambda o: (o.placed_s, o.order_id))
    fleet = tuple(
        DayCourier(f"c{k}", 1500.0 * k, 0.0, 600.0 * k, 600.0 * k + 5400) for k in range(couriers)
    )
    return Instance("random", "test", tuple(orders), fleet, MDRP_RULES)


unit = st.floats(min_value=0, max_value=1, allow_nan=False)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(unit, unit, unit, unit, unit, unit), min_size=1, max_size=10),
    couriers=st.integers(min_value=1, max_value=4),
    policy=st.sampled_from(POLICY_NAMES),
    estimate=st.booleans(),
)
def test_random_days_keep_every_rule(
    rows: list[tuple[float, ...]], couriers: int, policy: str, estimate: bool
) -> None:
    day = random_day(rows, couriers)
    result = replay(day, ReplayConfig(policy=policy, estimate_ready=estimate))
    assert check_invariants(result) == []


@pytest.mark.parametrize("estimate", [False, True])
def test_a_busy_day_keeps_every_rule_and_loses_no_order(estimate: bool) -> None:
    day = random_day(seed_orders(11, 150), 12)
    result = replay(day, ReplayConfig(policy="full", estimate_ready=estimate))
    assert check_invariants(result) == []
    delivered = {o for t in result.trips for v in t.visits if v.kind == "dropoff"
                 for o in v.order_ids}
    assert delivered | set(result.undelivered) == {o.order_id for o in day.orders}
    assert len(delivered) >= 40  # 12 short shifts cannot carry all 150


@pytest.mark.parametrize("share", [None, 1.0])
def test_couriers_waiting_for_late_food_are_reassigned_only_when_allowed(
    share: float | None,
) -> None:
    day = random_day(seed_orders(11, 150), 12)
    off = {c.courier_id: c.off_s for c in day.couriers}
    result = replay(day, ReplayConfig(policy="full", estimate_ready=True,
                                      release_idle_share=share))
    assert check_invariants(result) == []
    # A trip cut before the shift's end is a courier taken off food it waited for.
    cut = [t for t in result.trips if t.released and t.release_s < off[t.courier_id]]
    assert bool(cut) == (share is not None)
    for trip in cut:
        assert trip.visits[-1].kind == "arrival"
        assert trip.end_s == trip.release_s  # free where it waited, at once


def test_a_release_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        ReplayConfig(release_idle_share=1.5)
