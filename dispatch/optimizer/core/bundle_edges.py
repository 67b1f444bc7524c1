"""Pricing bundles per rider: which riders may take a bundle, and at what cost.

A rider may take a bundle only when the candidate rule allows it for every member
order (so reach, declined riders and shift ends hold for bundles as for single
orders) and it has room for all of them. Each group (one task, its best stop
sequence) is priced for up to `limit` riders nearest to the first member's pickup,
timed exactly like single orders; an edge is kept only when it costs less
than leaving all the members for the next batch. The ride to the first pickup is
the first member's single-order leg when the sequence starts there, so it is not
computed twice.
"""

from __future__ import annotations

import numpy as np

from dispatch.optimizer.core.arrays import OrderArrays, RiderArrays
from dispatch.optimizer.core.candidates import Reach
from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import IntArray, Tasks, evaluate, first_leg
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
    """(group, single edge of the first member) pairs whose rider may take the whole group.

    `singles` must be sorted by task (order index), as `price_edges` leaves the
    candidate graph, so riders come nearest first; up to `limit` per group, the nearest
    that qualify. The anchor's `limit` nearest riders are tested first, the rest only for
    the groups some of those failed: nearly every rider near one member may take the
    group, so screening with a few riders tests a few, not all the anchor's candidates.
    """
    anchor = members[:, 0]
    lo = np.searchsorted(singles.task, anchor, side="left")
    hi = np.searchsorted(singles.task, anchor, side="right")
    # First each group's `limit` nearest; then, for the groups some of those failed, the rest.
    cut = np.minimum(lo + limit, hi)
    group, at = _qualified(members, singles, reach, np.arange(len(anchor)), lo, cut)
    short = np.flatnonzero((np.bincount(group, minlength=len(anchor)) < limit) & (cut < hi))
    if len(short) == 0:
        return group, at  # group-major, each group's riders nearest first, none past limit
    more = _qualified(members, singles, reach, short, cut[short], hi[short])
    group, at = np.concatenate([group, more[0]]), np.concatenate([at, more[1]])
    order = np.lexsort((at, group))  # by group, each group's riders nearest first
    group, at = group[order], at[order]
    new = np.ones(len(group), dtype=bool)
    new[1:] = group[1:] != group[:-1]
    run_start = np.maximum.accumulate(np.where(new, np.arange(len(group)), 0))
    keep = np.arange(len(group)) - run_start < limit
    return group[keep], at[keep]


def _qualified(
    members: IntArray, singles: Edges, reach: Reach, groups: IntArray, lo: IntArray,
    hi: IntArray,
) -> tuple[IntArray, IntArray]:
    """(group, single edge) pairs among edges [lo, hi) of `groups` whose rider may take
    the whole group."""
    which, at = expand_ranges(lo, hi)
    group = groups[which]
    ok = np.ones(len(group), dtype=bool)
    for col in range(1, members.shape[1]):
        member = members[group, col]
        ok &= (member < 0) | reach.allows(np.maximum(member, 0), singles.rider[at])
    return group[ok], at[ok]


def member_penalty(members: IntArray, penalty: FloatArray) -> FloatArray:
    """Per group, the cost of leaving all of its members unassigned."""
    out: FloatArray = np.where(members >= 0, penalty[np.maximum(members, 0)], 0.0).sum(axis=1)
    return out


def bundle_edges(
    options: Tasks,
    members: IntArray,
    singles: Edges,
    reach: Reach,
    orders: OrderArrays,
    riders: RiderArrays,
    params: BatchParams,
    limit: int,
) -> Edges:
    """Feasible, worthwhile (group, rider) edges for up to `limit` riders per group.

    Group g is task g of `options`.
    """
    group, at = group_riders(members, singles, reach, limit)
    rider = singles.rider[at]
    fits = riders.free[rider] >= options.size[group]
    group, at, rider = group[fits], at[fits], rider[fits]
    starts = riders.starts(rider)
    first_s = singles.first_s[at]
    elsewhere = np.flatnonzero(options.order[group, 0] != members[group, 0])
    if len(elsewhere):
        first_s = first_s.copy()
        first_s[elsewhere] = first_leg(
            options, group[elsewhere], riders.starts(rider[elsewhere]), params.travel,
            riders.vehicles,
        )
    timed = evaluate(options, group, starts, params, riders.vehicles, first_s=first_s)
    worth = member_penalty(members, orders.penalty)[group]
    ok = timed.feasible & (timed.cost < worth)
    return Edges(group[ok], rider[ok], timed.cost[ok], first_s[ok])
