"""One batch's derived data (arrays, candidates, priced edges), and answers to it.

`prepare` turns the caller's orders and riders into arrays, the sparse candidate
graph and the priced single-order edges; `with_bundles` appends the bundle tasks
and their edges after the singles (task i < n is order i; bundle tasks follow), and
`reprice` prices chosen bundles for more riders. A `Choice` is a set of chosen edges
and its cost on the batch objective; `to_plan` turns the best one into a `Plan`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from dispatch.optimizer.core.arrays import (
    OrderArrays,
    RiderArrays,
    order_arrays,
    rider_arrays,
    single_tasks,
)
from dispatch.optimizer.core.bundle_edges import bundle_edges
from dispatch.optimizer.core.bundling import bundle_options, candidate_groups
from dispatch.optimizer.core.candidates import Candidates, candidate_edges
from dispatch.optimizer.core.edges import Edges, concat_edges, price_edges
from dispatch.optimizer.core.memo import BatchMemo
from dispatch.optimizer.core.models import OrderSpec, Plan, RiderSpec, picked_up
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.plan import build_routes
from dispatch.optimizer.core.routes import (
    IntArray,
    Tasks,
    concat_tasks,
    evaluate,
    take_tasks,
    task_members,
)
from geo.distance import FloatArray


@dataclass(frozen=True)
class Batch:
    """Everything derived from one batch's input before solving."""

    orders: OrderArrays
    riders: RiderArrays
    candidates: Candidates
    tasks: Tasks  # single orders first (task i is order i), then bundles
    edges: Edges  # single-order edges first, then bundle edges
    members: IntArray  # (T, m) orders of each task, padded with -1
    timings: dict[str, float]
    bundles: int = 0  # bundle tasks (sequences of candidate groups)

    @property
    def n_singles(self) -> int:
        """Number of single-order tasks (= orders)."""
        return self.orders.count


@dataclass(frozen=True)
class Choice:
    """An answer: the chosen (task, rider) edges, its objective value and its origin."""

    picked: Edges
    cost: float
    method: str


def prepare(
    orders: Sequence[OrderSpec], riders: Sequence[RiderSpec], params: BatchParams, now_s: float,
    memo: BatchMemo | None = None,
) -> Batch:
    """Arrays, candidate graph and priced single-order edges of a batch.

    Raises `ValueError` when an order id or a rider id appears twice, or `now_s` is not
    finite. A `memo` (in the batch it was opened for) carries rider rows across batches.
    """
    t0 = time.perf_counter()
    if not math.isfinite(now_s):
        raise ValueError("now_s must be finite")
    oa = order_arrays(orders, params, now_s)
    ra = rider_arrays(riders, params, now_s, memo)
    for kind, ids in (("order", oa.ids), ("rider", ra.ids)):
        if len(set(ids)) != len(ids):
            raise ValueError(f"{kind} ids must be unique in a batch")
    t1 = time.perf_counter()
    cands = candidate_edges(orders, oa, ra, params, now_s)
    t2 = time.perf_counter()
    singles = single_tasks(oa, params, ra.vehicles)
    edges = price_edges(singles, cands.order, cands.rider, ra, params)
    members = task_members(singles)
    timings = {"candidates_s": t2 - t1, "build_s": (t1 - t0) + (time.perf_counter() - t2)}
    return Batch(oa, ra, cands, singles, edges, members, timings)


@dataclass(frozen=True)
class CandidateGraph:
    """A batch's priced single-order candidate graph, as arrays (for analysis and benchmarks).

    Edge k joins order `order[k]` (index into the batch's orders) and rider
    `rider[k]` at cost `cost[k]` with `travel_m[k]` metres of riding; `penalty[i]`
    is what leaving order i for the next batch costs.
    """

    order: IntArray
    rider: IntArray
    cost: FloatArray
    travel_m: FloatArray
    penalty: FloatArray


def candidate_graph(
    orders: Sequence[OrderSpec], riders: Sequence[RiderSpec], params: BatchParams, *, now_s: float
) -> CandidateGraph:
    """The feasible (order, rider) edges the optimizer prices, with their costs."""
    batch = prepare(orders, riders, params, now_s)
    e, ra = batch.edges, batch.riders
    metres = evaluate(batch.tasks, e.task, ra.starts(e.rider), params, ra.vehicles, detail=True)
    assert metres.travel_m is not None
    return CandidateGraph(e.task, e.rider, e.cost, metres.travel_m, batch.orders.penalty)


def with_bundles(
    batch: Batch, params: BatchParams, now_s: float, *, riders: int, memo: BatchMemo | None = None
) -> Batch:
    """The batch with candidate bundles appended, each priced for up to `riders` riders.

    Screening every bundle with a few riders and `reprice`-ing the ones that matter
    with `bundle_riders` is much cheaper than pricing them all in full. Timed as build.
    A `memo` carries the bundles' stop sequences and legs across batches.
    """
    t0 = time.perf_counter()
    groups = candidate_groups(batch.orders, params) if batch.edges.count else []
    found = bundle_options(groups, batch.orders, batch.riders, batch.edges, params, now_s, memo)
    timings = dict(batch.timings)
    if found is None:
        timings["build_s"] += time.perf_counter() - t0
        return replace(batch, timings=timings)
    options, group_members = found
    extra = bundle_edges(
        options, group_members, batch.edges, batch.candidates.reach, batch.orders,
        batch.riders, params, riders,
    )
    n = batch.tasks.count
    tasks = concat_tasks(batch.tasks, options)
    edges = concat_edges(batch.edges, extra, n)
    timings["build_s"] += time.perf_counter() - t0
    return replace(
        batch, tasks=tasks, edges=edges, members=task_members(tasks), timings=timings,
        bundles=options.count,
    )


def reprice(batch: Batch, params: BatchParams, tasks: IntArray | None = None) -> Batch:
    """The batch whose bundle edges are those of bundle `tasks` (all when None), each
    priced for up to `bundle_riders` riders. Timed as build."""
    t0 = time.perf_counter()
    n = batch.n_singles
    tasks = np.arange(n, batch.tasks.count) if tasks is None else tasks
    singles = batch.edges.take(np.flatnonzero(batch.edges.task < n))
    extra = bundle_edges(
        take_tasks(batch.tasks, tasks), batch.members[tasks], singles, batch.candidates.reach,
        batch.orders, batch.riders, params, params.bundle_riders,
    )
    extra = replace(extra, task=tasks[extra.task])
    timings = dict(batch.timings)
    timings["build_s"] += time.perf_counter() - t0
    return replace(batch, edges=concat_edges(singles, extra, 0), timings=timings)


def choose(batch: Batch, index: IntArray, method: str) -> Choice:
    """Price a selection of edges: their costs plus the penalties of the orders left out."""
    picked = batch.edges.take(index)
    rows = batch.members[picked.task]
    covered = np.zeros(batch.orders.count, dtype=bool)
    covered[rows[rows >= 0]] = True
    cost = float(picked.cost.sum() + batch.orders.penalty[~covered].sum())
    return Choice(picked, cost, method)


def to_plan(
    choice: Choice, batch: Batch, riders: Sequence[RiderSpec], params: BatchParams, t0: float
) -> Plan:
    """The `Plan` of a choice, with timings and stats."""
    picked = choice.picked
    routes, travel_m = build_routes(
        batch.tasks, picked.task, picked.rider, batch.orders, batch.riders, riders, params
    )
    taken = [picked_up(stops) for stops in routes.sequences.values()]
    assigned = {oid for oids in taken for oid in oids}
    timings = dict(batch.timings)
    timings["total_s"] = time.perf_counter() - t0
    timings["solve_s"] = timings["total_s"] - timings["candidates_s"] - timings["build_s"]
    stats: dict[str, float | int | str] = {
        "orders": batch.orders.count,
        "riders": batch.riders.count,
        "candidates": batch.candidates.count,
        "edges": batch.edges.count,
        "bundles": batch.bundles,
        "assigned": len(assigned),
        "bundled_orders": sum(len(oids) for oids in taken if len(oids) > 1),
        "travel_m": travel_m,
        "method": choice.method,
    }
    unassigned = tuple(oid for oid in batch.orders.ids if oid not in assigned)
    return Plan(routes, unassigned, choice.cost, timings, stats)
