"""The earliest any proposal of a batch could have to start: a bound that lets idle batches go.

A batch only matters for the replay through the proposals it commits, and a
proposal is committed when ``max(courier free, ready - pickup_service/2 - travel
to the first pickup) <= now + commit_ahead_s`` (`simulators.replay.commit`).
Every proposal's first pickup is one of its orders' pickups and its courier is one
of that order's candidates (bundles are priced only for riders that are candidates
of every member), and a bundle is ready no earlier than any member. So

    min over candidate edges (order o, rider r) of max(r free, ready(o) - pickup/2 - travel(r, o))

is a lower bound on every proposal's start; when it is later than
``now + commit_ahead_s`` the batch cannot commit anything and need not be solved.

The candidates are the optimizer's documented rule (`BatchParams`): the
`candidate_count` eligible riders nearest to the pickup in the travel model's plane
within `candidate_radius_m`, both times `widen_factor` for orders older than
`widen_after_s`. The bound takes a few more neighbours than that and gives up
(returns -inf) when they tie with the last candidate, so it never misses one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from dispatch.optimizer.core import BatchParams, OrderSpec, RiderSpec

# Neighbours taken beyond the rule's count, so that ties with the last one are seen.
_EXTRA = 4
_TIE_M = 1e-3


def earliest_start_s(
    orders: Sequence[OrderSpec], riders: Sequence[RiderSpec], params: BatchParams, now_s: float
) -> float:
    """A lower bound on when the courier of any proposal of this batch must leave.

    -inf when it cannot be bounded (ties at the candidate boundary), +inf when no
    order has a candidate.
    """
    free = np.array([max(now_s, r.available_s) for r in riders], dtype=np.float64)
    eligible = [
        i for i, r in enumerate(riders)
        if r.capacity - r.load >= 1 and (r.shift_end_s is None or r.shift_end_s > free[i])
    ]
    if not orders or not eligible:
        return math.inf
    model = params.travel
    plat = np.array([o.pickup_lat for o in orders], dtype=np.float64)
    plng = np.array([o.pickup_lng for o in orders], dtype=np.float64)
    origin = float(np.mean(plat))  # the optimizer's own projection origin
    elig = np.array(eligible, dtype=np.int64)
    rlat = np.array([riders[i].lat for i in eligible], dtype=np.float64)
    rlng = np.array([riders[i].lng for i in eligible], dtype=np.float64)
    tree = cKDTree(model.project(rlat, rlng, origin).reshape(-1, 2))
    points = model.project(plat, plng, origin).reshape(-1, 2)
    placed = np.array([o.placed_s for o in orders], dtype=np.float64)
    widened = (now_s - placed) > params.widen_after_s
    best = math.inf
    for group, factor in ((~widened, 1.0), (widened, params.widen_factor)):
        idx = np.flatnonzero(group)
        if len(idx) == 0:
            continue
        count = min(len(elig), math.ceil(params.candidate_count * factor))
        radius = params.candidate_radius_m * factor
        k = min(len(elig), count + _EXTRA)
        dist, nbr = tree.query(points[idx], k=k, distance_upper_bound=radius + _TIE_M)
        dist, nbr = dist.reshape(len(idx), k), nbr.reshape(len(idx), k)
        last = dist[:, count - 1]
        if k > count and np.any(np.isfinite(last) & (dist[:, -1] <= last + _TIE_M)):
            return -math.inf  # more ties at the boundary than neighbours taken
        found = np.isfinite(dist)
        rows, cols = np.nonzero(found)
        order, rider = idx[rows], elig[nbr[rows, cols]]
        best = min(best, _bound(orders, riders, order, rider, params))
    return best


def _bound(
    orders: Sequence[OrderSpec],
    riders: Sequence[RiderSpec],
    order: np.ndarray,
    rider: np.ndarray,
    params: BatchParams,
) -> float:
    """Least ``max(rider available, ready - pickup/2 - travel)`` over the (order, rider) pairs."""
    if len(order) == 0:
        return math.inf
    ready = np.array([orders[i].ready_s for i in order.tolist()], dtype=np.float64)
    olat = np.array([orders[i].pickup_lat for i in order.tolist()], dtype=np.float64)
    olng = np.array([orders[i].pickup_lng for i in order.tolist()], dtype=np.float64)
    leg = np.empty(len(order), dtype=np.float64)
    vehicles = np.array([riders[i].vehicle for i in rider.tolist()])
    for vehicle in set(vehicles.tolist()):
        at = vehicles == vehicle
        r = rider[at].tolist()
        leg[at] = params.travel.travel_s(
            np.array([riders[i].lat for i in r]), np.array([riders[i].lng for i in r]),
            olat[at], olng[at], vehicle,
        )
    available = np.array([riders[i].available_s for i in rider.tolist()], dtype=np.float64)
    start = np.maximum(available, ready - params.pickup_service_s / 2 - leg)
    return float(start.min())
