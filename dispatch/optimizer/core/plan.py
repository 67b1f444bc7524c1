"""Turning chosen (task, rider) edges into a `Plan`, and pricing any plan on the objective.

`evaluate_plan` is the one yardstick shared by the optimizer, the greedy baseline,
the simulators and the benchmarks: it re-times each route from the rider's start
(after its carried stops), so it also prices plans that came from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dispatch.optimizer.core.arrays import OrderArrays, RiderArrays, order_arrays, rider_arrays
from dispatch.optimizer.core.models import OrderSpec, Plan, RiderPlan, RiderSpec, Stop, StopKind
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import DROPOFF, PAD, PICKUP, IntArray, Tasks, evaluate
from dispatch.optimizer.core.sequences import is_valid_sequence, sequence_tasks

KIND_NAME: dict[int, StopKind] = {PICKUP: "pickup", DROPOFF: "dropoff"}
KIND_CODE: dict[str, int] = {"pickup": PICKUP, "dropoff": DROPOFF}


def build_routes(
    tasks: Tasks,
    task: IntArray,
    rider: IntArray,
    orders: OrderArrays,
    riders: RiderArrays,
    rider_specs: Sequence[RiderSpec],
    params: BatchParams,
) -> tuple[dict[str, RiderPlan], float, float]:
    """Routes of the chosen pairs (carried stops first), their total cost and travel metres."""
    if len(task) == 0:
        return {}, 0.0, 0.0
    timed = evaluate(tasks, task, riders.starts(rider), params, riders.vehicles, detail=True)
    assert timed.etas is not None and timed.travel_m is not None
    kind = tasks.kind[task]
    live = kind != PAD  # live stops come first in every task
    ids = np.asarray(orders.ids, dtype=object)[tasks.order[task][live]].tolist()
    names = [KIND_NAME[k] for k in kind[live].tolist()]
    stops = list(map(
        Stop, names, ids, tasks.lat[task][live].tolist(), tasks.lng[task][live].tolist(),
        timed.etas[live].tolist(),
    ))
    ends = np.cumsum(live.sum(axis=1)).tolist()
    routes: dict[str, RiderPlan] = {}
    for r, start, end in zip(rider.tolist(), [0, *ends[:-1]], ends, strict=True):
        spec = rider_specs[r]
        carried = tuple(
            Stop(c.kind, c.order_id, c.lat, c.lng, eta)
            for c, eta in zip(spec.carried, riders.carried_etas[r], strict=True)
        )
        new = tuple(stops[start:end])
        taken = tuple(s.order_id for s in new if s.kind == "pickup")
        routes[spec.rider_id] = RiderPlan(spec.rider_id, taken, carried + new)
    return routes, float(timed.cost.sum()), float(timed.travel_m.sum())


def evaluate_plan(
    plan: Plan | Mapping[str, RiderPlan],
    orders: Sequence[OrderSpec],
    riders: Sequence[RiderSpec],
    params: BatchParams,
    *,
    now_s: float,
) -> float:
    """Cost of a plan's routes on the batch objective, plus penalties of orders it leaves out.

    Parameters
    ----------
    plan
        A `Plan`, or its routes by rider id. Each route must list the rider's carried
        stops first, then the new orders' stops, every pickup before its drop-off.
    orders, riders, params, now_s
        The batch the plan answers.

    Returns
    -------
    float
        The objective value; lower is better.

    Raises
    ------
    ValueError
        If a route names an unknown rider or order, takes an order twice, or breaks
        pickup-before-drop-off.
    """
    routes = plan.routes if isinstance(plan, Plan) else plan
    oa = order_arrays(orders, params, now_s)
    ra = rider_arrays(riders, params, now_s)
    order_index = {oid: i for i, oid in enumerate(oa.ids)}
    rider_index = {rid: i for i, rid in enumerate(ra.ids)}
    sequences: list[list[tuple[int, int]]] = []
    rider_rows: list[int] = []
    served: set[int] = set()
    for rid, route in routes.items():
        if rid not in rider_index:
            raise ValueError(f"plan names unknown rider {rid!r}")
        spec = riders[rider_index[rid]]
        seq = _new_stops(route, spec, order_index)
        if not is_valid_sequence(seq) or served & {i for i, _ in seq}:
            raise ValueError(f"route of {rid!r} breaks precedence or repeats an order")
        served |= {i for i, _ in seq}
        if seq:
            sequences.append(seq)
            rider_rows.append(rider_index[rid])
    left = [i for i in range(oa.count) if i not in served]
    cost = float(oa.penalty[left].sum())
    if sequences:
        tasks = sequence_tasks(sequences, oa, params, ra.vehicles)
        rows = np.array(rider_rows, dtype=np.int64)
        timed = evaluate(tasks, np.arange(len(sequences)), ra.starts(rows), params, ra.vehicles)
        cost += float(timed.cost.sum())
    return cost


def _new_stops(
    route: RiderPlan, spec: RiderSpec, order_index: Mapping[str, int]
) -> list[tuple[int, int]]:
    """The route's stops after the rider's carried ones, as (order index, kind)."""
    head = [(s.kind, s.order_id) for s in route.stops[: len(spec.carried)]]
    if head != [(c.kind, c.order_id) for c in spec.carried]:
        raise ValueError(f"route of {spec.rider_id!r} must start with its carried stops")
    seq = []
    for stop in route.stops[len(spec.carried) :]:
        if stop.order_id not in order_index:
            raise ValueError(f"route of {spec.rider_id!r} names unknown order {stop.order_id!r}")
        seq.append((order_index[stop.order_id], KIND_CODE[stop.kind]))
    return seq
