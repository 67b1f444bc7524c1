"""`BatchMemo`: a batch solved with what earlier batches left in the memo gets the plan it
gets from scratch, whatever changed in between, and the memo keeps one batch's worth."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.optimizer.core import BatchMemo, BatchParams, OrderSpec, RiderSpec, solve_batch
from tests.dispatch.optimizer.core.instances import NOW, random_instance

PARAMS = BatchParams(bundle_pickup_radius_m=2000.0, candidate_count=6, time_limit_s=30.0)
OTHER = replace(PARAMS, bundle_riders=2, max_bundle_size=2)

Step = tuple[list[OrderSpec], list[RiderSpec], float, BatchParams]


def _changed(
    rng: np.random.Generator, orders: list[OrderSpec], riders: list[RiderSpec],
    fresh: tuple[list[OrderSpec], list[RiderSpec]], serial: int,
) -> tuple[list[OrderSpec], list[RiderSpec]]:
    """The next batch's input: some orders gone, some new, some re-specified (a later ready
    time, a declined rider); some riders gone, back, moved or made anew as equal objects;
    the rest the same objects as before."""
    new_orders, new_riders = fresh
    kept = [o for o in orders if rng.random() < 0.85]
    kept = [
        replace(o, ready_s=o.ready_s + 60) if rng.random() < 0.1
        else replace(o, excluded_riders=o.excluded_riders | {riders[0].rider_id})
        if riders and rng.random() < 0.05 else o
        for o in kept
    ]
    known = {o.order_id for o in kept}
    kept += [replace(o, order_id=f"{o.order_id}-{serial}") for o in new_orders[:3]
             if f"{o.order_id}-{serial}" not in known]
    moved = [
        replace(r, lat=r.lat + 0.002) if rng.random() < 0.1
        else replace(r) if rng.random() < 0.1  # an equal spec, another object
        else replace(r, vehicle="car") if rng.random() < 0.03
        else r
        for r in riders if rng.random() < 0.9
    ]
    ids = {r.rider_id for r in moved}
    moved += [replace(r, rider_id=f"{r.rider_id}-{serial}") for r in new_riders[:2]
              if f"{r.rider_id}-{serial}" not in ids]
    return kept, moved


@st.composite
def sequences(draw: st.DrawFn) -> list[Step]:
    """Batches of one region a few seconds apart, now and then one of another region or
    with other parameters, or an empty one."""
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    orders, riders = random_instance(seed, draw(st.integers(2, 20)), draw(st.integers(1, 14)))
    steps: list[Step] = []
    now = NOW
    for k in range(draw(st.integers(2, 7))):
        event = draw(st.sampled_from(["next", "next", "next", "region", "params", "empty"]))
        now += draw(st.sampled_from([0.0, 2.0, 30.0, 700.0]))
        if event == "region":
            other = random_instance(seed + k + 1, 12, 8)
            steps.append((other[0], other[1], now, PARAMS))
            continue
        if event == "empty":
            steps.append(([], riders, now, PARAMS))
            continue
        orders, riders = _changed(rng, orders, riders, random_instance(seed + 100 + k, 6, 4), k)
        steps.append((orders, riders, now, OTHER if event == "params" else PARAMS))
    return steps


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences(), st.sampled_from([0, 1024]))
def test_a_memo_gives_every_batch_the_plan_it_gets_from_scratch(
    steps: list[Step], spare: int
) -> None:
    memo = BatchMemo(spare_slots=spare)
    for orders, riders, now, params in steps:
        remembered = solve_batch(orders, riders, params, now_s=now, memo=memo)
        fresh = solve_batch(orders, riders, params, now_s=now)
        assert remembered.routes == fresh.routes
        assert remembered.unassigned == fresh.unassigned
        assert remembered.cost == fresh.cost
        assert remembered.stats["bundles"] == fresh.stats["bundles"]


def test_a_memo_holds_only_the_last_batch() -> None:
    memo = BatchMemo()
    orders, riders = random_instance(3, 20, 12)
    solve_batch(orders, riders, PARAMS, now_s=NOW, memo=memo)
    held = memo.held()
    assert held["riders"] == 12 and held["orders"] == 20 and held["groups"] > 0
    few_orders, few_riders = orders[:4], riders[:3]
    solve_batch(few_orders, few_riders, PARAMS, now_s=NOW + 2, memo=memo)
    held = memo.held()
    assert held["riders"] == 3 and held["orders"] == 4
    assert held["groups"] <= 4 * 3  # groups of those four orders at most
    solve_batch([], few_riders, PARAMS, now_s=NOW + 4, memo=memo)
    assert memo.held()["orders"] == 0 and memo.held()["groups"] == 0


def test_groups_no_batch_uses_are_dropped_beyond_the_spare_slots() -> None:
    memo = BatchMemo(spare_slots=5)
    for seed in range(6):  # other orders every batch: every group is new
        orders, riders = random_instance(seed, 16, 10)
        solve_batch(orders, riders, PARAMS, now_s=NOW + seed, memo=memo)
        held = memo.held()
        assert held["stored"] <= 3 * held["groups"] + 2 * 5  # pairs and triples


def test_a_memo_reuses_what_the_last_batch_had() -> None:
    memo = BatchMemo()
    orders, riders = random_instance(5, 20, 12)
    solve_batch(orders, riders, PARAMS, now_s=NOW, memo=memo)
    solve_batch(orders, riders, PARAMS, now_s=NOW + 2, memo=memo)
    assert memo.reused == {"riders": 12, "groups": memo.held()["groups"]}
    solve_batch(orders, [replace(r) for r in riders], OTHER, now_s=NOW + 4, memo=memo)
    assert memo.reused == {"riders": 0, "groups": 0}  # new objects, new parameters


def test_a_memo_in_use_by_another_thread_is_not_shared() -> None:
    memo = BatchMemo()
    orders, riders = random_instance(7, 10, 6)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with memo.batch(orders, PARAMS) as carry:
            assert carry is memo
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(10)
    with memo.batch(orders, PARAMS) as carry:
        assert carry is None
    plan = solve_batch(orders, riders, PARAMS, now_s=NOW, memo=memo)
    release.set()
    holder.join(10)
    assert plan.routes == solve_batch(orders, riders, PARAMS, now_s=NOW).routes
