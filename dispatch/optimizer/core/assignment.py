"""One task per rider: at least cost (OR-Tools min-cost flow), or by the nearest-rider rule.

Network: source -> task (capacity 1) -> rider (capacity 1, the edge's cost) -> sink,
and task -> sink directly at the task's unassigned penalty, so a feasible flow
always exists and a task stays unassigned only when that is cheaper. Costs are
scaled to integers (1/100 s), which bounds the rounding gap to 0.005 per task.

The nearest-rider rule is the baseline every optimizer result is measured
against: orders are taken oldest first; each goes to the free candidate rider that
reaches its pickup soonest, on the same candidate graph and feasibility rules.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.routes import IntArray
from geo.distance import FloatArray

COST_SCALE = 100.0
_PART_TASKS = 500


class AssignmentError(RuntimeError):
    """The flow solver did not return an optimal solution."""


def min_cost_assignment(edges: Edges, penalty: FloatArray) -> IntArray:
    """Indices of the chosen edges: each task and each rider used at most once, least total cost.

    Parameters
    ----------
    edges
        Candidate (task, rider) edges with their costs.
    penalty
        Cost of leaving each task unassigned (indexed by task).

    Returns
    -------
    numpy.ndarray
        Indices into `edges` of the optimal assignment.
    """
    worth = np.flatnonzero(edges.cost < penalty[edges.task])
    chosen = [part[_flow(edges.take(part), penalty)] for part in _independent_parts(edges, worth)]
    return np.sort(np.concatenate([np.zeros(0, dtype=np.int64), *chosen]))


def _independent_parts(edges: Edges, keep: IntArray) -> list[IntArray]:
    """`keep` split by connected components of the task-rider graph, packed into parts.

    Components share no task and no rider, so solving them apart is exact, and a city
    splits into many (hotspots, districts): several small flows solve much faster than
    one large one. Small components are packed together up to `_PART_TASKS` tasks.
    """
    if len(keep) == 0:
        return []
    tasks, task_node = _distinct(edges.task[keep])
    if len(tasks) < _PART_TASKS:  # packed below, the components would all share part 0
        return [keep]
    riders, rider_node = _distinct(edges.rider[keep])
    n_nodes = len(tasks) + len(riders)
    graph = coo_matrix(
        (np.ones(len(keep)), (task_node, len(tasks) + rider_node)), shape=(n_nodes, n_nodes)
    )
    _, label = connected_components(graph, directed=False)
    sizes = np.bincount(label[: len(tasks)], minlength=int(label.max()) + 1)
    by_size = np.argsort(-sizes, kind="stable")
    part_of = np.empty(len(sizes), dtype=np.int64)
    part_of[by_size] = np.cumsum(sizes[by_size]) // _PART_TASKS
    part = part_of[label[task_node]]
    order = np.argsort(part, kind="stable")
    return np.split(keep[order], np.flatnonzero(np.diff(part[order])) + 1)


def _distinct(index: IntArray) -> tuple[IntArray, IntArray]:
    """`np.unique(index, return_inverse=True)` of non-negative indices, by counting (no sort)."""
    present = np.zeros(int(index.max(initial=-1)) + 1, dtype=bool)
    present[index] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[index]


def _flow(edges: Edges, penalty: FloatArray) -> IntArray:
    """The min-cost flow of one independent part; indices into its `edges`."""
    tasks, task_node = _distinct(edges.task)
    riders, rider_node = _distinct(edges.rider)
    n_t, n_r, n_e = len(tasks), len(riders), edges.count
    source, sink = n_t + n_r, n_t + n_r + 1
    t_nodes = np.arange(n_t)
    tails = np.concatenate([np.full(n_t, source), task_node, t_nodes, n_t + np.arange(n_r)])
    heads = np.concatenate([t_nodes, n_t + rider_node, np.full(n_t, sink), np.full(n_r, sink)])
    costs = np.concatenate([np.zeros(n_t), edges.cost, penalty[tasks], np.zeros(n_r)])
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32),
        heads.astype(np.int32),
        np.ones(len(tails), dtype=np.int64),
        np.rint(costs * COST_SCALE).astype(np.int64),
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = n_t, -n_t
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise AssignmentError(f"min-cost flow ended with status {status}")
    used: IntArray = np.flatnonzero(flow.flows(np.arange(n_t, n_t + n_e, dtype=np.int32)) > 0)
    return used


def greedy_assignment(edges: Edges, placed: FloatArray, n_riders: int) -> IntArray:
    """Indices of the edges the nearest-rider rule picks (tasks oldest first, ties by index)."""
    if edges.count == 0:
        return np.zeros(0, dtype=np.int64)
    # One float key sorts by task, then by time to the pickup (stable: ties keep edge order).
    span = float(np.ceil(edges.first_s.max())) + 1.0
    order = np.argsort(edges.task * span + edges.first_s, kind="stable")
    bounds = np.searchsorted(edges.task[order], np.arange(len(placed) + 1)).tolist()
    riders = edges.rider[order].tolist()
    taken = [False] * n_riders
    chosen: list[int] = []
    for t in np.lexsort((np.arange(len(placed)), placed)).tolist():  # oldest first
        k = next((k for k in range(bounds[t], bounds[t + 1]) if not taken[riders[k]]), None)
        if k is not None:
            taken[riders[k]] = True
            chosen.append(k)
    return order[np.array(chosen, dtype=np.int64)]
