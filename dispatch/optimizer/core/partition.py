"""Choosing disjoint tasks once bundles exist: each order in at most one chosen task.

Tasks are single orders and bundles; an edge is a (task, rider) pair. A choice
is a set of edges with every order and every rider used at most once, priced as
its edges' costs plus the penalties of the orders it leaves out. Two ways to
improve on the single-order min-cost flow:

- `savings_partition` + `partition_flow`: take bundles in order of what they save
  against the current answer (members disjoint), then solve the min-cost flow over
  that partition of the orders (the chosen bundles plus every other order alone),
  which is exact for the partition. Fast at any size.
- `exact_choice`: the whole set-partitioning model in CP-SAT, hinted with the
  best answer so far, within the remaining time; used when the model is small
  enough to pay off (`BatchParams.exact_max_edges`).
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

from dispatch.optimizer.core.assignment import COST_SCALE, min_cost_assignment
from dispatch.optimizer.core.bundle_edges import member_penalty
from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.routes import IntArray
from geo.distance import FloatArray


def order_costs(
    edges: Edges, chosen: IntArray, members: IntArray, penalty: FloatArray
) -> FloatArray:
    """What each order costs in a choice: its penalty if left out, else its share of its route."""
    cost = penalty.copy()
    picked = edges.take(chosen)
    rows = members[picked.task]
    share = picked.cost / np.maximum((rows >= 0).sum(axis=1), 1)
    live = rows >= 0
    cost[rows[live]] = np.broadcast_to(share[:, None], rows.shape)[live]
    return cost


def savings_partition(
    edges: Edges, chosen: IntArray, members: IntArray, penalty: FloatArray, n_singles: int
) -> IntArray:
    """Bundle tasks to serve as units: best saving first, no order in two of them."""
    current = order_costs(edges, chosen, members, penalty)
    bundle = np.flatnonzero(edges.task >= n_singles)
    rows = members[edges.task[bundle]]
    saving = np.where(rows >= 0, current[np.maximum(rows, 0)], 0.0).sum(axis=1)
    saving -= edges.cost[bundle]
    good = saving > 0
    bundle, saving = bundle[good], saving[good]
    order = np.lexsort((bundle, -saving))
    tasks = edges.task[bundle[order]]
    first = np.unique(tasks, return_index=True)[1]  # each task at its best saving
    tasks = tasks[np.sort(first)]
    used = [False] * len(penalty)
    taken: list[int] = []
    for task, row in zip(tasks.tolist(), members[tasks].tolist(), strict=True):
        group = [i for i in row if i >= 0]
        if not any(used[i] for i in group):
            for i in group:
                used[i] = True
            taken.append(task)
    return np.array(taken, dtype=np.int64)


def partition_flow(
    edges: Edges, bundles: IntArray, members: IntArray, penalty: FloatArray, n_singles: int
) -> IntArray:
    """Min-cost flow over the chosen bundles plus every other order on its own."""
    task_penalty = member_penalty(members, penalty)
    in_bundle = np.zeros(n_singles, dtype=bool)
    rows = members[bundles]
    in_bundle[rows[rows >= 0]] = True
    allowed = np.zeros(len(members), dtype=bool)
    allowed[bundles] = True
    allowed[:n_singles] = ~in_bundle
    keep = np.flatnonzero(allowed[edges.task])
    chosen: IntArray = keep[min_cost_assignment(edges.take(keep), task_penalty)]
    return np.concatenate([chosen, _repair(edges, chosen, members, penalty, n_singles)])


def _repair(
    edges: Edges, chosen: IntArray, members: IntArray, penalty: FloatArray, n_singles: int
) -> IntArray:
    """Single-order edges for orders a partition left out (their bundle found no rider),
    on riders the partition left free."""
    rows = members[edges.task[chosen]]
    covered = np.zeros(n_singles, dtype=bool)
    covered[rows[rows >= 0]] = True
    busy = np.zeros(int(edges.rider.max(initial=-1)) + 1, dtype=bool)
    busy[edges.rider[chosen]] = True
    single = edges.task < n_singles
    keep = np.flatnonzero(single & ~covered[np.where(single, edges.task, 0)] & ~busy[edges.rider])
    repaired: IntArray = keep[min_cost_assignment(edges.take(keep), penalty)]
    return repaired


def exact_choice(
    edges: Edges,
    members: IntArray,
    penalty: FloatArray,
    hint: IntArray,
    *,
    time_limit_s: float,
    seed: int,
) -> IntArray | None:
    """The set-partitioning model in CP-SAT; None when it finds nothing in time.

    Only edges cheaper than leaving their orders out can be in an optimal choice,
    so the model holds just those. Costs are scaled to integers like the flow's.
    """
    reduced = edges.cost - member_penalty(members, penalty)[edges.task]
    live = np.flatnonzero(reduced < 0)
    if len(live) == 0:
        return np.zeros(0, dtype=np.int64)
    model = cp_model.CpModel()
    proto = model.proto
    for _ in range(len(live)):
        proto.variables.add().domain.extend([0, 1])
    rows = members[edges.task[live]]
    var, col = np.nonzero(rows >= 0)
    _at_most_one(model, var, rows[var, col])
    _at_most_one(model, np.arange(len(live)), edges.rider[live])
    proto.objective.vars.extend(range(len(live)))
    proto.objective.coeffs.extend(np.rint(reduced[live] * COST_SCALE).astype(np.int64).tolist())
    hinted = np.isin(live, hint)
    proto.solution_hint.vars.extend(range(len(live)))
    proto.solution_hint.values.extend(hinted.astype(np.int64).tolist())
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = time_limit_s
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    values = np.array(solver.response_proto.solution, dtype=np.int64)
    chosen: IntArray = live[values > 0]
    return chosen


def _at_most_one(model: cp_model.CpModel, var: IntArray, key: IntArray) -> None:
    """One at-most-one constraint per distinct key over the variables carrying it."""
    proto = model.proto
    order = np.lexsort((var, key))
    var, key = var[order], key[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    for block in np.split(var, cuts):
        if len(block) > 1:
            proto.constraints.add().at_most_one.literals.extend(block.tolist())
