"""One task per rider: at least cost (a sparse assignment), or by the nearest-rider rule.

The least-cost choice is a min-cost flow (source -> task -> rider -> sink, and task ->
sink at the task's unassigned penalty), solved as the rectangular assignment problem it
is: every task is matched either to one of its riders (the edge's cost) or to a dummy
column of its own (its penalty), so a full matching always exists and a task stays
unassigned only when that is cheaper. SciPy's LAPJVsp (sparse Jonker-Volgenant) solves
it on the exact float costs, about twice as fast as OR-Tools' min-cost flow on
replayed batches (which needed costs scaled to integers).

The nearest-rider rule is the baseline every optimizer result is measured
against: orders are taken oldest first; each goes to the free candidate rider that
reaches its pickup soonest, on the same candidate graph and feasibility rules.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.routes import IntArray
from geo.distance import FloatArray

_PART_TASKS = 500


class AssignmentError(RuntimeError):
    """The assignment could not be solved: its edge set is malformed."""


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
    tasks, task_node = np.unique(edges.task[keep], return_inverse=True)
    riders, rider_node = np.unique(edges.rider[keep], return_inverse=True)
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


def _flow(edges: Edges, penalty: FloatArray) -> IntArray:
    """The least-cost assignment of one independent part; indices into its `edges`.

    Each (task, rider) pair must appear at most once (the candidate graph and the
    bundle pricing never repeat one).
    """
    tasks, task_node = np.unique(edges.task, return_inverse=True)
    riders, rider_node = np.unique(edges.rider, return_inverse=True)
    n_t, n_r = len(tasks), len(riders)
    rows = np.concatenate([task_node, np.arange(n_t)])
    cols = np.concatenate([rider_node, n_r + np.arange(n_t)])  # rider, or the task's dummy
    cost = np.concatenate([edges.cost, penalty[tasks]])
    # LAPJVsp needs non-zero weights; a constant added to every entry moves every full
    # matching's cost alike (each task is matched exactly once).
    weights = csr_matrix((cost - cost.min() + 1.0, (rows, cols)), shape=(n_t, n_r + n_t))
    if weights.nnz != len(rows):
        raise AssignmentError("a (task, rider) pair appears twice")
    matched_task, matched_col = min_weight_full_bipartite_matching(weights)
    hit = matched_col < n_r
    key = task_node * n_r + rider_node
    by_key = np.argsort(key)
    wanted = matched_task[hit] * n_r + matched_col[hit]
    used: IntArray = np.sort(by_key[np.searchsorted(key[by_key], wanted)])
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
