"""The optimizer's core: plain functions over orders and riders, no Redis, FastAPI or database.

The documented library entry point, used by the service's batch loop, the replay
simulator and the benchmarks::

    from dispatch.optimizer.core import BatchParams, OrderSpec, RiderSpec, solve_batch

    plan = solve_batch(orders, riders, BatchParams(time_limit_s=1.0), now_s=now)
    for rider_id, route in plan.routes.items():
        ...  # route.order_ids are offered; route.stops is the rider's whole route

`plan.sequences` gives each route's new stops as (kind, order id) without building the
routes' `Stop`s and ETAs, which `plan.routes` makes on first lookup.
A region's loop keeps one `BatchMemo` and hands it to every batch
(``solve_batch(..., memo=memo)``) to reuse what consecutive batches share.
`greedy_plan` has the same signature and is the nearest-rider baseline;
`evaluate_plan` prices any plan on the same objective; `candidate_graph` gives the
priced single-order candidate graph as arrays (for analysis and benchmarks).
"""

from __future__ import annotations

from dispatch.optimizer.core.batch import CandidateGraph, candidate_graph
from dispatch.optimizer.core.memo import BatchMemo
from dispatch.optimizer.core.models import CarriedStop, OrderSpec, Plan, RiderPlan, RiderSpec, Stop
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.plan import evaluate_plan
from dispatch.optimizer.core.solve import greedy_plan, solve_batch

__all__ = [
    "BatchMemo",
    "BatchParams",
    "CandidateGraph",
    "CarriedStop",
    "OrderSpec",
    "Plan",
    "RiderPlan",
    "RiderSpec",
    "Stop",
    "candidate_graph",
    "evaluate_plan",
    "greedy_plan",
    "solve_batch",
]
