"""`min_cost_assignment`: the least-cost assignment (checked against SciPy's dense solver)
by either solver, valid, and with LAPJV among equally cheap answers the one whose tasks
take their sooner riders."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from dispatch.optimizer.core import assignment
from dispatch.optimizer.core.assignment import min_cost_assignment
from dispatch.optimizer.core.edges import Edges

_NO_EDGE = 1e12


def _edges(task: list[int], rider: list[int], cost: list[float],
           first_s: list[float] | None = None) -> Edges:
    return Edges(task=np.array(task, dtype=np.int64), rider=np.array(rider, dtype=np.int64),
                 cost=np.array(cost, dtype=float),
                 first_s=np.array(first_s if first_s is not None else [0.0] * len(task)))


def _cost(edges: Edges, penalty: np.ndarray, chosen: np.ndarray) -> float:
    served = np.zeros(len(penalty), dtype=bool)
    served[edges.task[chosen]] = True
    return float(edges.cost[chosen].sum() + penalty[~served].sum())


def _dense_optimum(edges: Edges, penalty: np.ndarray) -> float:
    """The same problem solved densely by another algorithm: tasks x (riders + leave columns)."""
    n_t, n_r = len(penalty), int(edges.rider.max(initial=-1)) + 1
    matrix = np.full((n_t, n_r + n_t), _NO_EDGE)
    matrix[edges.task, edges.rider] = edges.cost
    matrix[np.arange(n_t), n_r + np.arange(n_t)] = penalty
    rows, cols = linear_sum_assignment(matrix)
    return float(matrix[rows, cols].sum())


@st.composite
def problems(draw: st.DrawFn) -> tuple[Edges, np.ndarray]:
    """Random sparse graphs with many equal costs (whole-minute travel makes ties common)."""
    n_t = draw(st.integers(1, 12))
    n_r = draw(st.integers(1, 10))
    pairs = draw(st.lists(st.tuples(st.integers(0, n_t - 1), st.integers(0, n_r - 1)),
                          unique=True, max_size=60))
    cost = draw(st.lists(st.sampled_from([-30.0, 60.0, 120.0, 180.0, 240.0, 300.5]),
                         min_size=len(pairs), max_size=len(pairs)))
    first_s = draw(st.lists(st.integers(0, 600), min_size=len(pairs), max_size=len(pairs)))
    penalty = np.array(draw(st.lists(st.sampled_from([100.0, 200.0, 400.0]),
                                     min_size=n_t, max_size=n_t)))
    edges = _edges([t for t, _ in pairs], [r for _, r in pairs], cost,
                   [float(s) for s in first_s])
    return edges, penalty


@settings(max_examples=300, deadline=None)
@given(problems(), st.sampled_from([12, 0]))
def test_the_assignment_is_valid_and_as_cheap_as_the_dense_solvers(
    case: tuple[Edges, np.ndarray], lapjv_max_tasks: int
) -> None:
    # 12 tasks at most: every part to LAPJV; 0: every part to OR-Tools' min-cost flow.
    edges, penalty = case
    original = assignment._LAPJV_MAX_TASKS
    assignment._LAPJV_MAX_TASKS = lapjv_max_tasks
    try:
        chosen = min_cost_assignment(edges, penalty)
    finally:
        assignment._LAPJV_MAX_TASKS = original
    assert len(set(edges.task[chosen].tolist())) == len(chosen)
    assert len(set(edges.rider[chosen].tolist())) == len(chosen)
    assert np.all(edges.cost[chosen] < penalty[edges.task[chosen]])
    assert _cost(edges, penalty, chosen) == pytest.approx(_dense_optimum(edges, penalty),
                                                          abs=0.005 * len(penalty) + 1e-9)


def test_equally_cheap_riders_go_to_the_one_that_reaches_the_pickup_sooner() -> None:
    # Task 0 can take rider 0 or 1 at the same cost; rider 1 is there sooner. Listing the
    # edges the other way round must not change the answer.
    for order in ([0, 1], [1, 0]):
        first_s = [300.0, 120.0]
        edges = _edges([0, 0], order, [500.0, 500.0], [first_s[r] for r in order])
        chosen = min_cost_assignment(edges, np.array([1000.0]))
        assert edges.rider[chosen].tolist() == [1]


def test_a_sooner_rider_never_beats_a_cheaper_one() -> None:
    # Rider 0 costs 0.02 s less (two units of the integer scale) but arrives later.
    edges = _edges([0, 0], [0, 1], [500.0, 500.02], [600.0, 60.0])
    chosen = min_cost_assignment(edges, np.array([1000.0]))
    assert edges.rider[chosen].tolist() == [0]


def test_the_ranks_never_outweigh_a_cost_unit_across_tasks() -> None:
    # Three tasks in a cycle: task k can take rider k (later) or rider k+1 (sooner, its
    # rank-0 edge). Taking every task's own rider costs one unit (0.01 s) less in all,
    # against three better ranks for the other answer: the cost must still win.
    task = [0, 0, 1, 1, 2, 2]
    rider = [0, 1, 1, 2, 2, 0]
    cost = [100.0, 100.0, 100.0, 100.0, 100.0, 100.01]
    first_s = [500.0, 10.0, 500.0, 10.0, 500.0, 10.0]
    edges = _edges(task, rider, cost, first_s)
    chosen = min_cost_assignment(edges, np.full(3, 1000.0))
    pairs = np.stack([edges.task[chosen], edges.rider[chosen]], axis=1)
    assert sorted(map(tuple, pairs.tolist())) == [(0, 0), (1, 1), (2, 2)]


def test_weights_too_large_for_exact_ties_fall_back_to_plain_costs() -> None:
    # Costs this large times the ranks' scale would pass 2**52: plain costs, plus one.
    cost = np.array([2e15, 2e15 + 1.0])
    weight = assignment._tie_broken(cost, np.array([3e15]), np.array([0, 1]))
    assert weight.tolist() == [2e15 + 1.0, 2e15 + 2.0, 3e15 + 1.0]
