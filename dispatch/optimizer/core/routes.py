"""Vectorised route timing: many (task, rider) pairs evaluated at once with numpy.

A *task* is a fixed sequence of stops (one order's pickup and drop-off, a bundle's
pickups then drop-offs, or a rider's carried stops), padded to a common length.
Legs between consecutive stops are precomputed once per task and vehicle; only
the first leg, from the rider to the first stop, depends on the rider. Timing
follows `BatchParams`: pickup at ``max(ready, arrival + service/2)``, leave half a
service later; drop-off at ``arrival + service/2``.

Consecutive pickups at one place (the same merchant when both orders name one,
else identical coordinates) are one visit, as a one-restaurant bundle is picked
up: one pickup service, at ``max(last ready, arrival + service/2)``, and every
order of the visit gets that time as its ETA (the MDRP rule, and the replay's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dispatch.optimizer.core.params import BatchParams
from geo.distance import FloatArray
from geo.travel import HaversineTravel, TravelModel

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

PAD, PICKUP, DROPOFF = 0, 1, 2


@dataclass(frozen=True)
class Tasks:
    """Padded stop sequences, one row per task, with per-vehicle leg times."""

    lat: FloatArray  # (T, S)
    lng: FloatArray
    kind: npt.NDArray[np.int8]  # PAD, PICKUP or DROPOFF
    ready: FloatArray
    promised: FloatArray
    placed: FloatArray
    order: IntArray  # batch order index per stop, -1 for padding or carried stops
    size: IntArray  # (T,) total size of the task's batch orders
    leg_s: FloatArray  # (T, S - 1, V): stop s to stop s + 1 on vehicle v; 0 into padding
    joins: BoolArray  # (T, S): a pickup in the same visit as the pickup before it
    leg_m: FloatArray  # (T, S - 1): metres from stop s to stop s + 1; 0 into padding

    @property
    def count(self) -> int:
        """Number of tasks."""
        return int(self.lat.shape[0])


@dataclass(frozen=True)
class Starts:
    """Where and when each evaluated pair's rider starts, on which vehicle, until when."""

    lat: FloatArray
    lng: FloatArray
    time_s: FloatArray
    vcode: IntArray
    shift_end_s: FloatArray


@dataclass(frozen=True)
class RouteEval:
    """Per pair: objective cost, first leg, feasibility, route end; in detail, metres and ETAs."""

    cost: FloatArray
    first_s: FloatArray
    feasible: BoolArray
    end_s: FloatArray
    travel_m: FloatArray | None = None
    etas: FloatArray | None = None


def make_tasks(
    stops: dict[str, npt.NDArray[np.generic]],
    size: IntArray,
    model: TravelModel,
    vehicles: tuple[str, ...],
    legs: tuple[FloatArray, FloatArray] | None = None,
) -> Tasks:
    """`Tasks` from padded (T, S) arrays keyed lat, lng, kind, ready, promised, placed, order.

    An optional key `site` holds each pickup's merchant code (-1 when unknown) for
    telling visits apart. The legs are measured and timed here unless the caller
    passes them as `legs`: metres (T, S - 1) and seconds (T, S - 1, V).
    """
    lat = np.asarray(stops["lat"], dtype=np.float64)
    lng = np.asarray(stops["lng"], dtype=np.float64)
    kind = np.asarray(stops["kind"], dtype=np.int8)
    n_tasks, n_stops = lat.shape
    if legs is None:
        leg_m = np.zeros((n_tasks, max(n_stops - 1, 0)))
        leg_s = np.zeros((n_tasks, max(n_stops - 1, 0), len(vehicles)))
        for s in range(n_stops - 1):
            live = kind[:, s + 1] != PAD
            a = (lat[live, s], lng[live, s], lat[live, s + 1], lng[live, s + 1])
            leg_m[live, s], leg_s[live, s, :] = measure_legs(model, *a, vehicles)
    else:
        leg_m, leg_s = legs
    return Tasks(
        lat=lat,
        lng=lng,
        kind=kind,
        ready=np.asarray(stops["ready"], dtype=np.float64),
        promised=np.asarray(stops["promised"], dtype=np.float64),
        placed=np.asarray(stops["placed"], dtype=np.float64),
        order=np.asarray(stops["order"], dtype=np.int64),
        size=np.asarray(size, dtype=np.int64),
        leg_s=leg_s,
        joins=same_visit(lat, lng, kind, stops.get("site")),
        leg_m=leg_m,
    )


def measure_legs(
    model: TravelModel,
    lat1: FloatArray,
    lng1: FloatArray,
    lat2: FloatArray,
    lng2: FloatArray,
    vehicles: tuple[str, ...],
) -> tuple[FloatArray, FloatArray]:
    """Metres (N,) and seconds on every vehicle (N, V) from each point 1 to its point 2.

    Where one distance serves every vehicle (`_speeds_mps`) it is measured once; any other
    model is asked once per vehicle.
    """
    metres = model.distance_m(lat1, lng1, lat2, lng2)
    speeds = _speeds_mps(model, vehicles)
    if speeds is not None:
        columns = [metres / speed for speed in speeds.tolist()]
    else:
        columns = [model.travel_s(lat1, lng1, lat2, lng2, vehicle) for vehicle in vehicles]
    seconds = np.stack(columns, axis=-1) if columns else np.zeros((len(metres), 0))
    return metres, seconds


def _speeds_mps(model: TravelModel, vehicles: tuple[str, ...]) -> FloatArray | None:
    """Each vehicle's speed when `model` times a ride as its distance over that speed
    (`HaversineTravel`: one distance then serves every vehicle, the same figures to the
    bit for a fraction of the trigonometry); None for any other model."""
    if not isinstance(model, HaversineTravel):
        return None
    return np.array([model.speed_mps(vehicle) for vehicle in vehicles], dtype=np.float64)


def same_visit(
    lat: FloatArray,
    lng: FloatArray,
    kind: npt.NDArray[np.int8],
    site: npt.NDArray[np.generic] | None = None,
) -> BoolArray:
    """Per stop: a pickup at the place of the pickup just before it (one visit for both).

    The place is the merchant when both stops name one (`site` >= 0), else the coordinates.
    """
    joins = np.zeros(lat.shape, dtype=bool)
    if lat.shape[1] < 2:
        return joins
    both = (kind[:, 1:] == PICKUP) & (kind[:, :-1] == PICKUP)
    same = (lat[:, 1:] == lat[:, :-1]) & (lng[:, 1:] == lng[:, :-1])
    if site is not None:
        code = np.asarray(site, dtype=np.int64)
        named = (code[:, 1:] >= 0) & (code[:, :-1] >= 0)
        same = np.where(named, code[:, 1:] == code[:, :-1], same)
    joins[:, 1:] = both & same
    return joins


def first_leg(
    tasks: Tasks, task: IntArray, starts: Starts, model: TravelModel, vehicles: tuple[str, ...]
) -> FloatArray:
    """Seconds from each pair's rider start to its task's first stop."""
    lat2, lng2 = tasks.lat[task, 0], tasks.lng[task, 0]
    speeds = _speeds_mps(model, vehicles)
    if speeds is not None:  # one distance, each over its rider's speed
        metres = model.distance_m(starts.lat, starts.lng, lat2, lng2)
        out: FloatArray = metres / speeds[starts.vcode] if len(vehicles) else metres
        return out
    seconds = np.empty(len(task))
    for v, vehicle in enumerate(vehicles):
        mask = starts.vcode == v if len(vehicles) > 1 else slice(None)
        seconds[mask] = model.travel_s(
            starts.lat[mask], starts.lng[mask], lat2[mask], lng2[mask], vehicle
        )
    return seconds


def evaluate(
    tasks: Tasks,
    task: IntArray,
    starts: Starts,
    params: BatchParams,
    vehicles: tuple[str, ...],
    *,
    detail: bool = False,
    first_s: FloatArray | None = None,
) -> RouteEval:
    """Time every pair's route and price it on the batch objective.

    Non-pickup stops have ``ready = -inf`` and non-drop-off stops ``promised = inf``,
    so waiting and lateness need no masks; `detail` adds metres ridden and stop ETAs.
    `first_s` passes the rides to the first stops when the caller already has them.
    """
    if first_s is None:
        first_s = first_leg(tasks, task, starts, params.travel, vehicles)
    clock = starts.time_s + first_s
    cost = params.travel_weight * first_s
    feasible = np.ones(len(task), dtype=bool)
    etas = np.full((len(task), tasks.lat.shape[1]), np.nan) if detail else None
    half_p, half_d = params.pickup_service_s / 2, params.dropoff_service_s / 2
    # Column-major copies: gathering rows of one stop from a contiguous column is several
    # times faster than numpy's two-dimensional fancy indexing.
    kinds, ready, promised, placed = (
        np.ascontiguousarray(a.T) for a in (tasks.kind, tasks.ready, tasks.promised, tasks.placed)
    )
    joins = np.ascontiguousarray(tasks.joins.T)
    n_legs, n_vehicles = tasks.leg_s.shape[1:]
    legs = np.ascontiguousarray(tasks.leg_s.transpose(1, 0, 2)).reshape(
        n_legs, tasks.count * n_vehicles
    )
    leg_at = task * n_vehicles + starts.vcode
    for s in range(tasks.lat.shape[1]):
        if s > 0:
            leg = legs[s - 1][leg_at]
            clock += leg
            cost += params.travel_weight * leg
        kind = kinds[s][task]
        pick, drop = kind == PICKUP, kind == DROPOFF
        # A pickup joining the visit before it shares its service: the earliest it can
        # happen is that visit's time, not a new arrival plus half a service.
        earliest = clock + np.where(joins[s][task], -half_p, half_p)
        at_pickup = np.maximum(ready[s][task], earliest)
        cost += params.wait_weight * (at_pickup - earliest)
        feasible &= ~pick | (at_pickup <= starts.shift_end_s)
        at_drop = clock + half_d
        cost += params.lateness_weight * np.maximum(0.0, at_drop - promised[s][task])
        if params.delivery_weight:
            cost += params.delivery_weight * np.where(drop, at_drop - placed[s][task], 0.0)
        if etas is not None:
            etas[:, s] = np.where(pick, at_pickup, np.where(drop, at_drop, np.nan))
        clock = np.where(pick, at_pickup + half_p, np.where(drop, at_drop + half_d, clock))
    if etas is not None:
        _visit_etas(etas, tasks.joins[task])
    metres = None
    if detail or params.distance_weight:
        metres = route_metres(tasks, task, starts, params.travel)
        cost += params.distance_weight * metres
    return RouteEval(cost, first_s, feasible, clock, metres if detail else None, etas)


def _visit_etas(etas: FloatArray, joins: BoolArray) -> None:
    """Give every pickup of a visit the visit's time, the last one's (in place)."""
    for s in range(etas.shape[1] - 1, 0, -1):
        etas[:, s - 1] = np.where(joins[:, s], etas[:, s], etas[:, s - 1])


def route_metres(tasks: Tasks, task: IntArray, starts: Starts, model: TravelModel) -> FloatArray:
    """Metres each pair's rider rides: to the first stop, then between its task's stops."""
    first = model.distance_m(starts.lat, starts.lng, tasks.lat[task, 0], tasks.lng[task, 0])
    metres: FloatArray = first + tasks.leg_m.sum(axis=1)[task]
    return metres


_PAD_VALUE = {"ready": -np.inf, "promised": np.inf, "order": -1}
_DTYPE = {"kind": np.int8, "order": np.int64, "joins": np.bool_}  # the rest are float64
_PER_LEG = ("leg_s", "leg_m")  # one column fewer than stops


def concat_tasks(first: Tasks, second: Tasks) -> Tasks:
    """The rows of `first` then of `second`, padded to the wider of the two."""
    width = max(first.lat.shape[1], second.lat.shape[1])
    n = first.count
    columns: dict[str, Any] = {}  # each of its Tasks field's dtype
    for name in ("lat", "lng", "kind", "ready", "promised", "placed", "order", "leg_s", "joins",
                 "leg_m"):
        one, two = getattr(first, name), getattr(second, name)
        stops = max(width - 1, 0) if name in _PER_LEG else width
        out = np.full((n + len(two), stops, *one.shape[2:]), _PAD_VALUE.get(name, 0),
                      dtype=_DTYPE.get(name, np.float64))
        out[:n, : one.shape[1]] = one
        out[n:, : two.shape[1]] = two
        columns[name] = out
    return Tasks(size=np.concatenate([first.size, second.size]), **columns)


def take_tasks(tasks: Tasks, rows: IntArray) -> Tasks:
    """The subset of `tasks` at `rows`."""
    return Tasks(
        tasks.lat[rows], tasks.lng[rows], tasks.kind[rows], tasks.ready[rows],
        tasks.promised[rows], tasks.placed[rows], tasks.order[rows], tasks.size[rows],
        tasks.leg_s[rows], tasks.joins[rows], tasks.leg_m[rows],
    )


def task_members(tasks: Tasks) -> IntArray:
    """Each task's batch orders, in pickup order, as a (T, m) array padded with -1."""
    picks = (tasks.kind == PICKUP) & (tasks.order >= 0)
    width = max(int(picks.sum(axis=1).max(initial=0)), 1)
    members = np.full((tasks.count, width), -1, dtype=np.int64)
    rank = np.cumsum(picks, axis=1) - 1
    rows, cols = np.nonzero(picks)
    members[rows, rank[rows, cols]] = tasks.order[rows, cols]
    return members
