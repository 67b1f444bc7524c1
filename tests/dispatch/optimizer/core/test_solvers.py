"""The solver steps: split flows stay exact, the exact model never loses, time limits hold,
a deterministic batch ignores the wall clock, and CP-SAT's model leaves no garbage cycle."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ortools.sat.python import cp_model

from dispatch.optimizer.core import (
    BatchParams,
    assignment,
    candidate_graph,
    exact,
    solve,
    solve_batch,
)
from dispatch.optimizer.core.batch import prepare
from tests.dispatch.optimizer.core.checks import assert_valid
from tests.dispatch.optimizer.core.instances import NOW, random_instance


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.integers(1, 30))
def test_flows_split_by_component_find_the_same_optimum(
    seed: int, n_orders: int, n_riders: int
) -> None:
    orders, riders = random_instance(seed, n_orders, n_riders)
    params = BatchParams(candidate_count=4, candidate_radius_m=2500)
    batch = prepare(orders, riders, params, NOW)

    def optimum(part_tasks: int) -> float:
        original = assignment._PART_TASKS
        assignment._PART_TASKS = part_tasks
        try:
            chosen = assignment.min_cost_assignment(batch.edges, batch.orders.penalty)
        finally:
            assignment._PART_TASKS = original
        covered = np.zeros(batch.orders.count, dtype=bool)
        covered[batch.edges.task[chosen]] = True
        return float(batch.edges.cost[chosen].sum() + batch.orders.penalty[~covered].sum())

    assert optimum(1) == pytest.approx(optimum(10**9), abs=0.01 * n_orders)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=80))
def test_assignment_nodes_are_numbered_as_np_unique_numbers_them(values: list[int]) -> None:
    # The assignment's rows and columns are numbered so (the sorted distinct values).
    index = np.array(values, dtype=np.int64)
    distinct, position = assignment._distinct(index)
    expected, inverse = np.unique(index, return_inverse=True)
    assert distinct.tolist() == expected.tolist()
    assert position.tolist() == inverse.tolist()


def test_the_exact_model_is_used_on_small_batches_and_never_loses() -> None:
    orders, riders = random_instance(11, 30, 20)
    params = BatchParams()
    plan = solve_batch(orders, riders, params, now_s=NOW)
    assert plan.stats["method"] in ("lp", "cp-sat", "flow+bundles")
    capped = solve_batch(orders, riders, BatchParams(exact_max_edges=0), now_s=NOW)
    assert capped.stats["method"] != "lp" and capped.stats["method"] != "cp-sat"
    assert plan.cost <= capped.cost + 1e-6


def test_bundling_is_skipped_when_it_would_not_fit_the_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orders, riders = random_instance(5, 30, 20)
    monkeypatch.setattr(solve, "_BUNDLE_TIME_FACTOR", 1e12)
    plan = solve_batch(orders, riders, BatchParams(), now_s=NOW)
    assert plan.stats["bundles"] == 0
    assert plan.stats["method"] in ("flow", "greedy")
    assert_valid(plan, orders, riders, BatchParams(), NOW)


class _StalledClock:
    """A wall clock on a machine so loaded that every reading is 100 s after the last."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 100.0
        return self.now


@pytest.mark.parametrize("seed", [5, 11])
def test_a_deterministic_batch_gives_the_same_plan_however_slow_the_machine(
    monkeypatch: pytest.MonkeyPatch, seed: int,
) -> None:
    orders, riders = random_instance(seed, 30, 20)
    deterministic = BatchParams(deterministic=True)
    calm = solve_batch(orders, riders, deterministic, now_s=NOW)
    monkeypatch.setattr(solve, "time", _StalledClock())
    stalled = solve_batch(orders, riders, deterministic, now_s=NOW)
    hurried = solve_batch(orders, riders, BatchParams(), now_s=NOW)
    assert calm.stats["bundles"] > 0
    assert {r: route.stops for r, route in stalled.routes.items()} == {
        r: route.stops for r, route in calm.routes.items()}
    assert stalled.cost == calm.cost and stalled.stats["method"] == calm.stats["method"]
    # Without the flag the same clock cuts the solve short after the greedy answer.
    assert hurried.stats["method"] == "greedy" and hurried.stats["bundles"] == 0


def test_the_candidate_graph_is_the_one_the_optimizer_prices() -> None:
    orders, riders = random_instance(3, 25, 15)
    params = BatchParams(bundling=False, exact_max_edges=0)
    graph = candidate_graph(orders, riders, params, now_s=NOW)
    assert len(graph.order) == len(graph.rider) == len(graph.cost) == len(graph.travel_m)
    assert len(graph.penalty) == len(orders)
    assert np.all(graph.travel_m > 0) and np.all(np.isfinite(graph.cost))
    plan = solve_batch(orders, riders, params, now_s=NOW)
    ids = {o.order_id: i for i, o in enumerate(orders)}
    index = {r.rider_id: j for j, r in enumerate(riders)}
    edges = set(zip(graph.order.tolist(), graph.rider.tolist(), strict=True))
    for rid, route in plan.routes.items():
        for oid in route.order_ids:
            assert (ids[oid], index[rid]) in edges
    assert math.isclose(plan.stats["travel_m"], sum(
        float(graph.travel_m[(graph.order == ids[oid]) & (graph.rider == index[rid])][0])
        for rid, route in plan.routes.items() for oid in route.order_ids
    ), rel_tol=1e-9)


def test_the_cp_sat_model_is_freed_by_reference_counting() -> None:
    """A model left in a reference cycle waits for a full collection, which the batches'
    frozen heaps hold off: a long replay grew by hundreds of MB of them."""
    cons = np.array([0, 0, 1], dtype=np.int64)  # two variables share a row, one alone
    var = np.array([0, 1, 2], dtype=np.int64)
    cost = np.array([-1.0, -2.0, -1.5])
    gc.collect()
    gc.disable()
    try:
        taken = exact._cp_sat(cons, var, cost, np.zeros(3, dtype=bool), 1.0, 0, True)
        left = [o for o in gc.get_objects() if isinstance(o, cp_model.CpModel)]
    finally:
        gc.enable()
    assert taken is not None and taken.tolist() == [1, 2]
    assert left == []
