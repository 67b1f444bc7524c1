"""`solve_batch`: the library entry point, and `greedy_plan`, the baseline with the same signature.

Phases (timed in `Plan.timings`): the candidate graph (k-d tree); build (arrays,
priced single-order edges, candidate bundles and their priced edges); solve. The
solve runs a ladder of answers, each step only if time is left (a step is not
interrupted, so a batch can overrun its limit by at most one step; bundling is
skipped when it would not fit; with `BatchParams.deterministic` every step runs
and only the solvers' own work limits apply), and returns the cheapest on the shared objective,
so it never costs more than the greedy plan:

1. greedy nearest-rider (the baseline, always computed);
2. the least-cost one-task-per-rider assignment ("flow"; SciPy's sparse LAPJV, see
   `assignment`): over single orders when bundling is off (exact for one order per
   rider); with bundling, over the partition of the orders into the
   bundles that save most against the greedy answer plus every other order alone
   (exact for that partition), and over single orders too unless a lower bound
   shows that flow cannot be cheaper: bundles chosen by what they save against
   greedy can cost more than serving every order alone, and the answer must never
   be worse than the single-order flow's (see `partition.single_flow_bound`);
3. the whole set-partitioning model (each order and each rider used at most
   once) solved exactly when it is small enough: its LP relaxation with GLOP when
   that is integral, else CP-SAT hinted with the best answer (see `exact`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence

import numpy as np

from dispatch.optimizer.core.assignment import greedy_assignment, min_cost_assignment
from dispatch.optimizer.core.batch import (
    Batch,
    Choice,
    choose,
    prepare,
    reprice,
    to_plan,
    with_bundles,
)
from dispatch.optimizer.core.exact import exact_choice
from dispatch.optimizer.core.heap import frozen_heap
from dispatch.optimizer.core.memo import BatchMemo
from dispatch.optimizer.core.models import OrderSpec, Plan, RiderSpec
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.partition import (
    partition_flow,
    savings_partition,
    single_answer_is_optimal,
    single_flow_bound,
)

# Time kept back from the CP-SAT budget for turning the answer into a plan.
_PLAN_RESERVE_S = 0.05
# Bundling plus its flow, as a multiple of the time the batch took to prepare (measured
# at 1.5-2 on the benchmark's cities).
_BUNDLE_TIME_FACTOR = 2.0
# Riders each bundle is screened with before the chosen ones are priced in full.
_SCREEN_RIDERS = 4


def greedy_plan(
    orders: Sequence[OrderSpec], riders: Sequence[RiderSpec], params: BatchParams, *, now_s: float,
    memo: BatchMemo | None = None,
) -> Plan:
    """The nearest-rider baseline (one order per rider) on the same candidates and objective."""
    t0 = time.perf_counter()
    with frozen_heap(), _opened(memo, orders, params) as carry:
        batch = prepare(orders, riders, params, now_s, carry)
        return to_plan(_greedy(batch), batch, riders, params, t0)


def _opened(
    memo: BatchMemo | None, orders: Sequence[OrderSpec], params: BatchParams
) -> contextlib.AbstractContextManager[BatchMemo | None]:
    """The memo opened for this batch, or None."""
    return contextlib.nullcontext(None) if memo is None else memo.batch(orders, params)


def _greedy(batch: Batch) -> Choice:
    index = greedy_assignment(batch.edges, batch.orders.placed, batch.riders.count)
    return choose(batch, index, "greedy")


def solve_batch(
    orders: Sequence[OrderSpec], riders: Sequence[RiderSpec], params: BatchParams, *, now_s: float,
    memo: BatchMemo | None = None,
) -> Plan:
    """Decide which rider takes which pending orders, and in what order it serves them.

    Parameters
    ----------
    orders
        Orders waiting for a rider (ids unique).
    riders
        Riders that may take work (ids unique), with what they already carry.
    params
        Objective weights, candidate rules, bundling, time limit, seed, travel model.
    now_s
        The batch's clock, in the same seconds as the orders' and riders' times.
    memo
        A `BatchMemo` handed to every batch of one sequence (one region's loop): what
        the last batch derived from the same orders and riders is reused. The plan is
        the same with it or without.

    Returns
    -------
    Plan
        Routes per rider (carried stops first), unassigned orders, objective cost,
        timings and stats; never costlier than `greedy_plan` on the same input.
    """
    with frozen_heap(), _opened(memo, orders, params) as carry:
        return _solve(orders, riders, params, now_s, carry)


def _solve(
    orders: Sequence[OrderSpec], riders: Sequence[RiderSpec], params: BatchParams, now_s: float,
    memo: BatchMemo | None,
) -> Plan:
    t0 = time.perf_counter()
    deadline = math.inf if params.deterministic else t0 + params.time_limit_s
    batch = prepare(orders, riders, params, now_s, memo)
    best = _greedy(batch)
    bundling = params.bundling and params.max_bundle_size > 1
    # Bundles and their flow take a few times what preparing the batch took; when that
    # would not fit, the single-order flow is the better use of the time left.
    bundle_cost = _BUNDLE_TIME_FACTOR * (time.perf_counter() - t0)
    if bundling and time.perf_counter() + bundle_cost < deadline:
        screen = min(_SCREEN_RIDERS, params.bundle_riders)
        batch = with_bundles(batch, params, now_s, riders=screen, memo=memo)
    if time.perf_counter() < deadline:
        batch, flow = _flow(batch, best, params)
        best = _better(best, flow)
    singles = int(np.count_nonzero(batch.edges.task < batch.n_singles))
    if batch.bundles and singles + batch.bundles * params.bundle_riders <= params.exact_max_edges:
        best = _exact(reprice(batch, params), best, params, deadline)
    return to_plan(best, batch, riders, params, t0)


def _flow(batch: Batch, reference: Choice, params: BatchParams) -> tuple[Batch, Choice]:
    """Min-cost flow over single orders, and over the partition that bundles by saving.

    Bundles are chosen on their screening prices, then priced in full for the flow; the
    batch returned carries those prices. The partition's answer stands when it costs no
    more than the single-order flow, or than a lower bound on it. When no bundle saves
    anything the partition is every order alone, and only the single-order flow is solved.
    """
    if batch.bundles == 0:
        return batch, _single_flow(batch)
    penalty, n = batch.orders.penalty, batch.n_singles
    units = savings_partition(batch.edges, reference.picked, batch.members, penalty, n)
    if len(units) == 0:  # every order on its own: the partition's flow is the single-order flow
        return batch, _single_flow(batch)
    batch = reprice(batch, params, units)
    index = partition_flow(batch.edges, units, batch.members, penalty, n)
    bundled = choose(batch, index, "flow+bundles")
    if bundled.cost <= single_flow_bound(batch.edges, penalty, n) + 1e-9:
        return batch, bundled
    return batch, _better(bundled, _single_flow(batch))


def _single_flow(batch: Batch) -> Choice:
    """The min-cost flow over single orders alone (exact for one order per rider)."""
    singles = np.flatnonzero(batch.edges.task < batch.n_singles)
    index = singles[min_cost_assignment(batch.edges.take(singles), batch.orders.penalty)]
    return choose(batch, index, "flow")


def _exact(batch: Batch, best: Choice, params: BatchParams, deadline: float) -> Choice:
    """The set-partitioning model solved exactly (hinted with `best`) within the time left.

    Not solved when `best` serves one order per rider and LP duality already proves it
    optimal (`single_answer_is_optimal`). Deterministic batches give it the whole
    `time_limit_s`, counted in the solvers' own work units rather than seconds.
    """
    if single_answer_is_optimal(batch.edges, best.picked, batch.members, batch.orders.penalty,
                                batch.n_singles, batch.riders.count):
        return best
    if params.deterministic:
        budget = params.time_limit_s
    else:
        budget = deadline - time.perf_counter() - _PLAN_RESERVE_S
    if budget > 0:
        found = exact_choice(batch.edges, batch.members, batch.orders.penalty, best.picked,
                             time_limit_s=budget, seed=params.seed,
                             deterministic=params.deterministic)
        if found is not None:
            best = _better(best, choose(batch, *found))
    return best


def _better(current: Choice, candidate: Choice) -> Choice:
    """The cheaper answer; the current one on ties, so results do not flip on noise."""
    return candidate if candidate.cost < current.cost - 1e-9 else current
