"""One task per rider: at least cost (LAPJV, or a min-cost flow on large parts), or greedily.

The least-cost assignment is a rectangular assignment problem: each task is a row,
the columns are the riders, then one column per task standing for leaving it out at
its penalty, so a full matching of the rows always exists and a task stays
unassigned only when that is cheaper. SciPy's LAPJVsp
(`min_weight_full_bipartite_matching`) solves it on the sparse candidate graph, in
half to two thirds of the time OR-Tools' min-cost flow takes, up to `_LAPJV_MAX_TASKS`
tasks a part; larger parts go to that flow (source -> task -> rider -> sink, and
task -> sink at the penalty), which scales better. Costs are scaled to integers
(1/100 s), which bounds the rounding gap to 0.005 per task; with LAPJV, among equally
cheap answers, one whose tasks take their sooner riders (by time to the first stop) is
preferred.

The nearest-rider rule is the baseline every optimizer result is measured
against: orders are taken oldest first; each goes to the free candidate rider that
reaches its pickup soonest, on the same candidate graph and feasibility rules.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.routes import IntArray
from geo.distance import FloatArray

COST_SCALE = 100.0
_PART_TASKS = 500
# Parts with more tasks than this go to OR-Tools' min-cost flow, which scales better: on
# day 8's 19:00-20:00 hour LAPJV took 0.51-0.70 of its time up to 800 tasks a part, 0.83
# at 800-900 and 0.96 at 900-1,000, its worst flows 1.4 times slower at ~900 tasks
# (docs/simulator.md, session 12).
_LAPJV_MAX_TASKS = 800


class AssignmentError(RuntimeError):
    """The min-cost flow solver did not return an optimal solution."""


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
    parts = _independent_parts(edges, worth)
    chosen = [part[_solve_part(edges.take(part), penalty)] for part in parts]
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


def _solve_part(edges: Edges, penalty: FloatArray) -> IntArray:
    """The least-cost assignment of one independent part; indices into its `edges`."""
    tasks, row = _distinct(edges.task)
    if len(tasks) > _LAPJV_MAX_TASKS:
        return _min_cost_flow(edges, penalty, tasks, row)
    return _lapjv(edges, penalty, tasks, row)


def _lapjv(edges: Edges, penalty: FloatArray, tasks: IntArray, row: IntArray) -> IntArray:
    """SciPy's sparse LAPJV, ties to sooner riders.

    Row t of the matrix holds task t's edges, soonest rider first, then its leave
    column; the (task, rider) pairs of a part are distinct.
    """
    riders, col = _distinct(edges.rider)
    n_t, n_r = len(tasks), len(riders)
    rank, count = _rank_within(row, edges.first_s, n_t)
    weight = _tie_broken(
        np.rint(edges.cost * COST_SCALE), np.rint(penalty[tasks] * COST_SCALE), rank
    )
    indptr = np.zeros(n_t + 1, dtype=np.int64)
    np.cumsum(count + 1, out=indptr[1:])
    slot = np.concatenate([indptr[row] + rank, indptr[1:] - 1])  # edges, then leave columns
    data, indices = np.empty(len(slot)), np.empty(len(slot), dtype=np.int64)
    data[slot] = weight
    indices[slot] = np.concatenate([col, n_r + np.arange(n_t)])
    matrix = csr_matrix((data, indices, indptr), shape=(n_t, n_r + n_t))
    _, matched = min_weight_full_bipartite_matching(matrix)  # rows come back in order
    used: IntArray = np.flatnonzero(col == matched[row])
    return used


def _min_cost_flow(edges: Edges, penalty: FloatArray, tasks: IntArray, task_node: IntArray
                   ) -> IntArray:
    """OR-Tools' min-cost flow: source -> task (capacity 1) -> rider (capacity 1, the
    edge's cost) -> sink, and task -> sink at the task's penalty. Ties are the solver's."""
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


def _rank_within(row: IntArray, first_s: FloatArray, n_rows: int) -> tuple[IntArray, IntArray]:
    """Each edge's rank among its task's edges by time to the first stop (0: soonest),
    and how many edges each task has."""
    by_time = np.argsort(first_s, kind="stable")
    rows = row[by_time]
    # A stable sort of small integers is a radix sort in NumPy: linear time.
    narrow = rows.astype(np.uint16) if n_rows <= np.iinfo(np.uint16).max else rows
    order = by_time[np.argsort(narrow, kind="stable")]
    count = np.bincount(row, minlength=n_rows)
    start = np.cumsum(count) - count
    rank = np.empty(len(row), dtype=np.int64)
    rank[order] = np.arange(len(row)) - start[row[order]]
    return rank, count


def _tie_broken(cost: FloatArray, leave: FloatArray, rank: IntArray) -> FloatArray:
    """The matching's weights: edges' then leave columns' integer costs, ties broken.

    Each integer cost is multiplied by more than any assignment's total rank can reach
    and the edge's rank added (a leave column ranks after every edge), so the least
    weight is a least-cost assignment, and among those the one whose tasks take their
    sooner riders. Weights stay integers below 2**52 (exact in float64); a part too large
    for that leaves ties to the solver. All weights are made >= 1: the solver reads a
    zero as no edge, and every full matching has one weight per task, so the shift
    changes no choice.
    """
    last = int(rank.max(initial=-1)) + 1  # the leave columns' rank
    scale = float(last * len(leave) + 1)
    low = min(float(cost.min(initial=0.0)), float(leave.min(initial=0.0)))
    high = max(float(cost.max(initial=0.0)), float(leave.max(initial=0.0))) - low + 1.0
    if high * scale * len(leave) >= 2.0**52:
        scale, rank, last = 1.0, np.zeros_like(rank), 0
    weight = np.concatenate([(cost - low) * scale + rank, (leave - low) * scale + last])
    result: FloatArray = weight + 1.0
    return result


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
