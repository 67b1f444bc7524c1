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

from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.routes import IntArray
from geo.distance import FloatArray

COST_SCALE = 100.0


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
    if len(worth) == 0:
        return np.zeros(0, dtype=np.int64)
    tasks, task_node = np.unique(edges.task[worth], return_inverse=True)
    riders, rider_node = np.unique(edges.rider[worth], return_inverse=True)
    n_t, n_r = len(tasks), len(riders)
    source, sink = n_t + n_r, n_t + n_r + 1
    t_nodes = np.arange(n_t)
    tails = np.concatenate([np.full(n_t, source), task_node, t_nodes, n_t + np.arange(n_r)])
    heads = np.concatenate([t_nodes, n_t + rider_node, np.full(n_t, sink), np.full(n_r, sink)])
    costs = np.concatenate(
        [np.zeros(n_t), edges.cost[worth], penalty[tasks], np.zeros(n_r)]
    )
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
    used = flow.flows(np.arange(n_t, n_t + len(worth), dtype=np.int32)) > 0
    chosen: IntArray = worth[used]
    return chosen


def greedy_assignment(edges: Edges, placed: FloatArray, n_riders: int) -> IntArray:
    """Indices of the edges the nearest-rider rule picks (tasks oldest first, ties by index)."""
    if edges.count == 0:
        return np.zeros(0, dtype=np.int64)
    task_rank = np.empty(len(placed), dtype=np.int64)
    task_rank[np.lexsort((np.arange(len(placed)), placed))] = np.arange(len(placed))
    order = np.lexsort((edges.rider, edges.first_s, task_rank[edges.task]))
    tasks = edges.task[order].tolist()
    riders = edges.rider[order].tolist()
    taken = [False] * n_riders
    done = [False] * len(placed)
    chosen: list[int] = []
    for k, (t, r) in enumerate(zip(tasks, riders, strict=True)):
        if not done[t] and not taken[r]:
            done[t] = taken[r] = True
            chosen.append(k)
    return order[np.array(chosen, dtype=np.int64)]
