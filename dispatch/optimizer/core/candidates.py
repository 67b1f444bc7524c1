"""The sparse candidate graph: which riders may be offered which order.

A rider is a candidate for an order when it has room for it (`capacity - load >=
size`), its shift has not ended, it has not declined the order, and it is among
the `candidate_count` riders nearest to the pickup within `candidate_radius_m`
(straight line in the travel model's plane, from where the rider will start the
new work). Orders that have waited longer than `widen_after_s` search
`widen_factor` times further and wider. A k-d tree answers all orders at once;
nothing city-wide and dense is ever built.

In the service the riders handed to a batch come from the live store's H3 index:
`search_cells` gives the cells whose riders can be candidates of an order, so that
fetching them and this exact rule agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from dispatch.optimizer.core.arrays import OrderArrays, RiderArrays
from dispatch.optimizer.core.models import OrderSpec
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import BoolArray, IntArray
from geo.cells import cell_of, disk, rings_for_radius
from geo.distance import FloatArray


@dataclass(frozen=True)
class Candidates:
    """Edges (order index, rider index), sorted by order then distance."""

    order: IntArray
    rider: IntArray
    dist_m: FloatArray

    @property
    def count(self) -> int:
        """Number of edges."""
        return len(self.order)


def search_radius_m(age_s: float, params: BatchParams) -> float:
    """The candidate radius for an order that has waited `age_s` seconds."""
    widen = age_s > params.widen_after_s
    return params.candidate_radius_m * (params.widen_factor if widen else 1.0)


def search_cells(lat: float, lng: float, age_s: float, params: BatchParams, res: int) -> list[str]:
    """H3 cells (resolution `res`) that surely hold every rider within the order's radius."""
    cell = cell_of(lat, lng, res)
    return disk(cell, rings_for_radius(cell, search_radius_m(age_s, params)))


def candidate_edges(
    order_specs: Sequence[OrderSpec],
    orders: OrderArrays,
    riders: RiderArrays,
    params: BatchParams,
    now_s: float,
) -> Candidates:
    """All (order, rider) candidate edges of the batch."""
    eligible = np.flatnonzero((riders.free >= 1) & (riders.shift_end_s > riders.start_s))
    if orders.count == 0 or len(eligible) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty, np.zeros(0))
    origin_lat = float(np.mean(orders.pickup_lat))
    model = params.travel
    tree = cKDTree(model.project(riders.lat[eligible], riders.lng[eligible], origin_lat))
    points = model.project(orders.pickup_lat, orders.pickup_lng, origin_lat)
    widened = (now_s - orders.placed) > params.widen_after_s
    parts = []
    for group, factor in ((~widened, 1.0), (widened, params.widen_factor)):
        idx = np.flatnonzero(group)
        if len(idx):
            count = min(len(eligible), math.ceil(params.candidate_count * factor))
            radius = params.candidate_radius_m * factor
            parts.append(_query(tree, points[idx], idx, count, radius))
    o = np.concatenate([p[0] for p in parts])
    r = eligible[np.concatenate([p[1] for p in parts])]
    d = np.concatenate([p[2] for p in parts])
    keep = riders.free[r] >= orders.size[o]
    keep &= ~_declined(order_specs, riders, o, r)
    o, r, d = o[keep], r[keep], d[keep]
    order = np.lexsort((r, d, o))
    return Candidates(o[order], r[order], d[order])


def _query(
    tree: cKDTree, points: FloatArray, idx: IntArray, count: int, radius: float
) -> tuple[IntArray, IntArray, FloatArray]:
    dist, nbr = tree.query(points, k=count, distance_upper_bound=radius)
    dist, nbr = dist.reshape(len(idx), count), nbr.reshape(len(idx), count)
    found = np.isfinite(dist)
    return np.repeat(idx, count)[found.ravel()], nbr[found], dist[found]


def _declined(
    order_specs: Sequence[OrderSpec], riders: RiderArrays, o: IntArray, r: IntArray
) -> BoolArray:
    """True for edges whose rider declined the order."""
    if not any(spec.excluded_riders for spec in order_specs):
        return np.zeros(len(o), dtype=bool)
    index = {rid: i for i, rid in enumerate(riders.ids)}
    keys = [
        i * riders.count + index[rid]
        for i, spec in enumerate(order_specs)
        for rid in spec.excluded_riders
        if rid in index
    ]
    if not keys:
        return np.zeros(len(o), dtype=bool)
    return np.isin(o * riders.count + r, np.array(keys, dtype=np.int64))
