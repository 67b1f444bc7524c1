"""`single_flow_bound`: never above the single-order flow's cost, and tight where riders are few."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.optimizer.core.assignment import min_cost_assignment
from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.partition import single_flow_bound


def _edges(task: list[int], rider: list[int], cost: list[float]) -> Edges:
    return Edges(task=np.array(task, dtype=np.int64), rider=np.array(rider, dtype=np.int64),
                 cost=np.array(cost), first_s=np.zeros(len(task)))


def _flow_cost(edges: Edges, penalty: np.ndarray) -> float:
    chosen = min_cost_assignment(edges, penalty)
    served = np.zeros(len(penalty), dtype=bool)
    served[edges.task[chosen]] = True
    return float(edges.cost[chosen].sum() + penalty[~served].sum())


@st.composite
def flows(draw: st.DrawFn) -> tuple[Edges, np.ndarray, int]:
    """Random single-order edges (some tasks beyond the orders: bundles) and penalties."""
    n = draw(st.integers(1, 12))
    riders = draw(st.integers(1, 8))
    bundles = draw(st.integers(0, 3))
    pairs = draw(st.lists(st.tuples(st.integers(0, n + bundles - 1), st.integers(0, riders - 1)),
                          unique=True, max_size=40))
    cost = draw(st.lists(st.integers(1, 1000), min_size=len(pairs), max_size=len(pairs)))
    penalty = np.array(draw(st.lists(st.integers(1, 1200), min_size=n + bundles,
                                     max_size=n + bundles)), dtype=float)
    edges = _edges([t for t, _ in pairs], [r for _, r in pairs], [float(c) for c in cost])
    return edges, penalty, n


@settings(max_examples=200, deadline=None)
@given(flows())
def test_the_bound_never_exceeds_the_single_order_flow(case: tuple[Edges, np.ndarray, int]) -> None:
    edges, penalty, n = case
    singles = np.flatnonzero(edges.task < n)
    flow = _flow_cost(edges.take(singles), penalty[:n])
    assert single_flow_bound(edges, penalty, n) <= flow + 1e-6


def test_the_bound_counts_orders_no_rider_is_left_for() -> None:
    # Orders 0 and 1 reach only rider 0; order 2 reaches riders 1 and 2. Three riders for
    # three orders, but at most two orders can be served: one of 0 and 1 pays its penalty.
    edges = _edges([0, 1, 2, 2], [0, 0, 1, 2], [10.0, 20.0, 30.0, 40.0])
    # (Counting riders instead of the matching would give only 10 + 20 + 30.)
    penalty = np.array([100.0, 150.0, 1000.0])
    assert single_flow_bound(edges, penalty, 3) == _flow_cost(edges, penalty) == 150.0
