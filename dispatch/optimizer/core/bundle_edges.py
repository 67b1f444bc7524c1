"""Pricing bundles per rider: which riders may take a bundle, and at what cost.

A rider may take a bundle only when it is a feasible candidate of every member
order (so the candidate rules, declined riders and shift ends hold for bundles as
for single orders) and has room for all of them. Each group is priced for its
`bundle_riders` riders nearest to the first pickup, each with the group's
surviving sequences; an edge keeps the rider's cheapest sequence, and only when
it costs less than leaving all the members for the next batch.
"""

from __future__ import annotations

import numpy as np

from dispatch.optimizer.core.arrays import OrderArrays, RiderArrays
from dispatch.optimizer.core.candidates import Reach
from dispatch.optimizer.core.edges import Edges, cheapest_per_run, price_edges
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import IntArray, Tasks
from geo.distance import FloatArray


def expand_ranges(lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
    """For ranges [lo, hi): the index of the range and the position, for every element."""
    counts = np.maximum(hi - lo, 0)
    which = np.repeat(np.arange(len(lo)), counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return which, lo[which] + offset


def group_riders(
    members: IntArray, singles: Edges, reach: Reach, limit: int
) -> tuple[IntArray, IntArray]:
    """(group, rider) pairs: riders that are candidates of every member, nearest first.

    `singles` must be sorted by task (order index), as `price_edges` leaves the
    candidate graph; riders are taken in the first member's candidate order and
    kept when the candidate rule allows them for every other member too.
    """
    anchor = members[:, 0]
    lo = np.searchsorted(singles.task, anchor, side="left")
    hi = np.searchsorted(singles.task, anchor, side="right")
    group, at = expand_ranges(lo, hi)
    rider = singles.rider[at]
    ok = np.ones(len(group), dtype=bool)
    for col in range(1, members.shape[1]):
        member = members[group, col]
        ok &= (member < 0) | reach.allows(np.maximum(member, 0), rider)
    group, rider = group[ok], rider[ok]
    first = np.searchsorted(group, group, side="left")
    keep = (np.arange(len(group)) - first) < limit
    return group[keep], rider[keep]


def member_penalty(members: IntArray, penalty: FloatArray) -> FloatArray:
    """Per group, the cost of leaving all of its members unassigned."""
    out: FloatArray = np.where(members >= 0, penalty[np.maximum(members, 0)], 0.0).sum(axis=1)
    return out


def bundle_edges(
    options: Tasks,
    option_group: IntArray,
    members: IntArray,
    singles: Edges,
    reach: Reach,
    orders: OrderArrays,
    riders: RiderArrays,
    params: BatchParams,
) -> Edges:
    """Feasible (option, rider) edges, each rider's cheapest sequence of each group."""
    if singles.count == 0 or options.count == 0:
        return singles.take(np.zeros(0, dtype=np.int64))
    group, rider = group_riders(members, singles, reach, params.bundle_riders)
    lo = np.searchsorted(option_group, group, side="left")
    hi = np.searchsorted(option_group, group, side="right")
    pair, option = expand_ranges(lo, hi)
    priced = price_edges(options, option, rider[pair], riders, params)
    best = priced.take(cheapest_per_run(priced.cost, option_group[priced.task], priced.rider))
    worth = best.cost < member_penalty(members, orders.penalty)[option_group[best.task]]
    return best.take(np.flatnonzero(worth))
