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
from functools import cached_property

import numpy as np
from scipy.spatial import cKDTree

from dispatch.optimizer.core.arrays import OrderArrays, RiderArrays
from dispatch.optimizer.core.models import OrderSpec
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import BoolArray, IntArray
from geo.cells import cell_of, disk, rings_for_radius
from geo.distance import FloatArray

_TIE_M = 1e-6  # slack for recomputed distances against the tree's


@dataclass(frozen=True)
class Reach:
    """The candidate rule in closed form, to test many more (order, rider) pairs cheaply.

    A rider is a candidate of an order when it is eligible, has not declined it, and
    is no farther (in the plane) than the order's farthest candidate when the order
    filled its count, or than its radius when it did not.
    """

    order_x: FloatArray  # projected pickups
    order_y: FloatArray
    rider_x: FloatArray  # projected rider starts
    rider_y: FloatArray
    reach_m: FloatArray  # per order
    eligible: BoolArray  # per rider
    declined: IntArray  # sorted keys order * R + rider

    def allows(self, order: IntArray, rider: IntArray) -> BoolArray:
        """Whether each (order, rider) pair keeps the candidate rule (room aside)."""
        dx = self.rider_x[rider] - self.order_x[order]
        dy = self.rider_y[rider] - self.order_y[order]
        ok: BoolArray = self.eligible[rider] & (dx * dx + dy * dy <= self.reach2[order])
        if len(self.declined):
            ok &= ~sorted_member(order * len(self.rider_x) + rider, self.declined)
        return ok

    @cached_property
    def reach2(self) -> FloatArray:
        """Squared reach, with a hair of slack for distances recomputed outside the tree."""
        out: FloatArray = (self.reach_m + _TIE_M) ** 2
        return out


@dataclass(frozen=True)
class Candidates:
    """Edges (order index, rider index), sorted by order then distance, and the rule's reach."""

    order: IntArray
    rider: IntArray
    dist_m: FloatArray
    reach: Reach

    @property
    def count(self) -> int:
        """Number of edges."""
        return len(self.order)


def sorted_member(keys: IntArray, table: IntArray) -> BoolArray:
    """Whether each key is in `table` (sorted, non-empty); `np.isin` sorts both, this
    only searches the small table."""
    at = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    found: BoolArray = table[at] == keys
    return found


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
    is_eligible = (riders.free >= 1) & (riders.shift_end_s > riders.start_s)
    eligible = np.flatnonzero(is_eligible)
    origin_lat = float(np.mean(orders.pickup_lat)) if orders.count else 0.0
    model = params.travel
    points = model.project(orders.pickup_lat, orders.pickup_lng, origin_lat).reshape(-1, 2)
    rider_xy = model.project(riders.lat, riders.lng, origin_lat).reshape(-1, 2)
    reach = Reach(
        points[:, 0].copy(), points[:, 1].copy(), rider_xy[:, 0].copy(), rider_xy[:, 1].copy(),
        np.zeros(orders.count), is_eligible, _declined_keys(order_specs, riders),
    )
    if orders.count == 0 or len(eligible) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty, np.zeros(0), reach)
    tree = cKDTree(rider_xy[eligible], leafsize=32, balanced_tree=False)  # faster to build
    widened = (now_s - orders.placed) > params.widen_after_s
    parts = []
    for group, factor in ((~widened, 1.0), (widened, params.widen_factor)):
        idx = np.flatnonzero(group)
        if len(idx):
            count = min(len(eligible), math.ceil(params.candidate_count * factor))
            radius = params.candidate_radius_m * factor
            parts.append(_query(tree, points[idx], idx, count, radius, reach.reach_m))
    o = np.concatenate([p[0] for p in parts])
    r = eligible[np.concatenate([p[1] for p in parts])]
    d = np.concatenate([p[2] for p in parts])
    keep = riders.free[r] >= orders.size[o]
    if len(reach.declined):
        keep &= ~sorted_member(o * riders.count + r, reach.declined)
    o, r, d = o[keep], r[keep], d[keep]
    order = np.argsort(o, kind="stable")  # each order's riders stay nearest first
    return Candidates(o[order], r[order], d[order], reach)


def _query(
    tree: cKDTree, points: FloatArray, idx: IntArray, count: int, radius: float,
    reach_m: FloatArray,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Neighbours of `points` (orders `idx`); records each order's reach in place."""
    dist, nbr = tree.query(points, k=count, distance_upper_bound=radius)
    dist, nbr = dist.reshape(len(idx), count), nbr.reshape(len(idx), count)
    found = np.isfinite(dist)
    reach_m[idx] = np.where(found[:, -1], dist[:, -1], radius)
    return np.repeat(idx, count)[found.ravel()], nbr[found], dist[found]


def _declined_keys(order_specs: Sequence[OrderSpec], riders: RiderArrays) -> IntArray:
    """Sorted keys ``order * R + rider`` of the riders who declined each order."""
    if not any(spec.excluded_riders for spec in order_specs):
        return np.zeros(0, dtype=np.int64)  # the usual batch: no rider index to build
    index = {rid: i for i, rid in enumerate(riders.ids)}
    keys = [
        i * riders.count + index[rid]
        for i, spec in enumerate(order_specs)
        for rid in spec.excluded_riders
        if rid in index
    ]
    return np.unique(np.array(keys, dtype=np.int64))
