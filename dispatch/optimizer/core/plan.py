"""Turning chosen (task, rider) edges into a `Plan`, and pricing any plan on the objective.

`evaluate_plan` is the one yardstick shared by the optimizer, the greedy baseline,
the simulators and the benchmarks: it re-times each route from the rider's start
(after its carried stops), so it also prices plans that came from elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from dispatch.optimizer.core.arrays import OrderArrays, RiderArrays, order_arrays, rider_arrays
from dispatch.optimizer.core.models import (
    OrderSpec,
    Plan,
    PlannedRoutes,
    RiderPlan,
    RiderSpec,
    Stop,
    StopKind,
    StopSequence,
    picked_up,
)
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import (
    DROPOFF,
    PAD,
    PICKUP,
    BoolArray,
    IntArray,
    Starts,
    Tasks,
    evaluate,
    route_metres,
)
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
) -> tuple[PlannedRoutes, float]:
    """Routes of the chosen pairs (carried stops first) and the metres they ride.

    The routes' stop sequences are made now; their `RiderPlan`s, and the timing of
    the routes that their ETAs need, on first lookup.
    """
    if len(task) == 0:
        return PlannedRoutes({}, dict), 0.0
    starts = riders.starts(rider)
    kind = tasks.kind[task]
    live = kind != PAD  # live stops come first in every task
    ids = np.asarray(orders.ids, dtype=object)[tasks.order[task][live]].tolist()
    stops = list(zip([KIND_NAME[k] for k in kind[live].tolist()], ids, strict=True))
    ends = np.cumsum(live.sum(axis=1)).tolist()
    spans = list(zip([0, *ends[:-1]], ends, strict=True))
    rows = rider.tolist()
    sequences = {
        rider_specs[r].rider_id: tuple(stops[start:end])
        for r, (start, end) in zip(rows, spans, strict=True)
    }
    chosen = _Chosen(tasks, task, live, starts, params, riders.vehicles, spans)
    build = partial(_rider_plans, sequences, rows, chosen, rider_specs, riders.carried_etas)
    return PlannedRoutes(sequences, build), float(route_metres(tasks, task, starts,
                                                               params.travel).sum())


@dataclass(frozen=True)
class _Chosen:
    """The chosen (task, rider) pairs, to time when their routes are first looked up."""

    tasks: Tasks
    task: IntArray
    live: BoolArray  # (pairs, stops): the tasks' live stops
    starts: Starts
    params: BatchParams
    vehicles: tuple[str, ...]
    spans: list[tuple[int, int]]  # each pair's live stops in the flat lists

    def new_stops(self) -> tuple[list[float], list[float], list[float]]:
        """Latitude, longitude and ETA of every live stop, flat, pair after pair."""
        timed = evaluate(self.tasks, self.task, self.starts, self.params, self.vehicles,
                         detail=True)
        assert timed.etas is not None
        live = self.live
        return (self.tasks.lat[self.task][live].tolist(),
                self.tasks.lng[self.task][live].tolist(), timed.etas[live].tolist())


def _rider_plans(
    sequences: Mapping[str, StopSequence],
    rows: list[int],
    chosen: _Chosen,
    rider_specs: Sequence[RiderSpec],
    carried_etas: tuple[tuple[float, ...], ...],
) -> dict[str, RiderPlan]:
    """The `RiderPlan` of every route: its carried stops, then its new ones, with ETAs."""
    lats, lngs, etas = chosen.new_stops()
    routes: dict[str, RiderPlan] = {}
    for (rider_id, sequence), r, (start, end) in zip(sequences.items(), rows, chosen.spans,
                                                      strict=True):
        carried = tuple(
            Stop(c.kind, c.order_id, c.lat, c.lng, eta)
            for c, eta in zip(rider_specs[r].carried, carried_etas[r], strict=True)
        )
        placed = tuple(
            Stop(kind, oid, lat, lng, eta)
            for (kind, oid), lat, lng, eta in zip(
                sequence, lats[start:end], lngs[start:end], etas[start:end], strict=True)
        )
        routes[rider_id] = RiderPlan(rider_id, picked_up(sequence), carried + placed)
    return routes


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
