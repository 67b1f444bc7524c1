"""Candidate bundles: small groups of orders that one rider could serve in a single route.

Two orders may share a route when their pickups are within
`bundle_pickup_radius_m` of each other (or, with `same_merchant_only`, at the same
merchant) and their ready times differ by at most `bundle_ready_gap_s`; each order
looks at its `bundle_partners` nearest pickups and its `bundle_route_partners` nearest
in pickup and drop-off together only, so the number of bundles grows linearly with the
batch. Groups of three or more are cliques of such pairs.

Each group gets a few stop sequences: all pickups first (the pickups are close
together), then the drop-offs in every order; for pairs also both pickup orders.
A rider-independent pass keeps each group's best sequence, timed as if a rider
arrived at its first pickup when the soonest candidate could; that sequence is
priced per rider in `bundle_edges`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from functools import cache

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from dispatch.optimizer.core.arrays import OrderArrays, RiderArrays
from dispatch.optimizer.core.edges import Edges
from dispatch.optimizer.core.memo import BatchMemo
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import (
    DROPOFF,
    PICKUP,
    IntArray,
    Starts,
    Tasks,
    concat_tasks,
    evaluate,
    make_tasks,
    measure_legs,
    take_tasks,
)
from geo.distance import FloatArray


def candidate_groups(orders: OrderArrays, params: BatchParams) -> list[IntArray]:
    """Groups of orders that may share a route: one (G, m) array per size m >= 2.

    Members of a group are listed by ready time (ties by index), so the first is
    the one whose food is ready first.
    """
    n = orders.count
    if n < 2 or params.max_bundle_size < 2:
        return []
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), orders.ready))] = np.arange(n)
    pairs = _pairs(orders, params, rank)
    groups = [pairs]
    neighbours = _adjacency(pairs, n)
    keys = np.sort(np.minimum(pairs[:, 0], pairs[:, 1]) * n + np.maximum(pairs[:, 0], pairs[:, 1]))
    while len(groups) < params.max_bundle_size - 1 and len(groups[-1]):
        groups.append(_extend(groups[-1], neighbours, keys, rank, n))
    return [g for g in groups if len(g)]


def _pairs(orders: OrderArrays, params: BatchParams, rank: IntArray) -> IntArray:
    """Distinct (a, b) pairs that may be bundled, with rank[a] < rank[b]."""
    n = orders.count
    origin = float(np.mean(orders.pickup_lat))
    points = params.travel.project(orders.pickup_lat, orders.pickup_lng, origin)
    k = min(params.bundle_partners + 1, n)
    radius = params.bundle_pickup_radius_m
    dist, nbr = cKDTree(points).query(points, k=k, distance_upper_bound=radius)
    dist, nbr = dist.reshape(n, k), nbr.reshape(n, k)
    found = np.isfinite(dist) & (nbr != np.arange(n)[:, None])
    a, b = np.repeat(np.arange(n), k)[found.ravel()], nbr[found].astype(np.int64)
    keep = _may_share(a, b, orders, params)
    a, b = a[keep], b[keep]
    if params.bundle_route_partners:
        c, d = _route_partners(points, orders, params, origin)
        a, b = np.concatenate([a, c]), np.concatenate([b, d])
    swap = rank[a] > rank[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    if len(a) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    # Distinct rows in lexicographic order, as np.unique(axis=0) gives them, by one key per
    # row (a * n + b orders rows the same way), several times faster than unique over rows.
    key = np.unique(a * n + b)
    pairs: IntArray = np.column_stack([key // n, key % n])
    return pairs


def _may_share(a: IntArray, b: IntArray, orders: OrderArrays, params: BatchParams
               ) -> npt.NDArray[np.bool_]:
    """Whether orders a and b meet the ready-time (and merchant) rule of a pair."""
    keep = np.abs(orders.ready[a] - orders.ready[b]) <= params.bundle_ready_gap_s
    if params.same_merchant_only:
        keep &= (orders.merchant[a] == orders.merchant[b]) & (orders.merchant[a] >= 0)
    return keep


ROUTE_SEARCH = 3  # route partners are the first that qualify among 3x as many nearest


def _route_partners(pickups: FloatArray, orders: OrderArrays, params: BatchParams,
                    origin: float) -> tuple[IntArray, IntArray]:
    """(a, b): each order's `bundle_route_partners` nearest in pickup and drop-off together.

    The nearest pickups alone miss the best partners where many orders share a
    restaurant (they are all at distance 0, in no useful order); what one route saves
    comes from drop-offs that lie the same way, so these partners are searched in the
    4-d space of both points, and must meet every rule of a pair.
    """
    n = orders.count
    dropoffs = params.travel.project(orders.dropoff_lat, orders.dropoff_lng, origin)
    k = min(params.bundle_route_partners * ROUTE_SEARCH + 1, n)
    both = np.hstack([pickups, dropoffs])
    _, nbr = cKDTree(both).query(both, k=k)
    nbr = nbr.reshape(n, k).astype(np.int64)
    a = np.repeat(np.arange(n), k)
    b = nbr.ravel()
    gap = pickups[a] - pickups[b]
    ok = (a != b) & (np.hypot(gap[:, 0], gap[:, 1]) <= params.bundle_pickup_radius_m)
    ok &= _may_share(a, b, orders, params)
    ok &= (np.cumsum(ok.reshape(n, k), axis=1) <= params.bundle_route_partners).ravel()
    return a[ok], b[ok]


def _adjacency(pairs: IntArray, n: int) -> IntArray:
    """Each order's bundling partners as an (n, D) table padded with -1."""
    a = np.concatenate([pairs[:, 0], pairs[:, 1]])
    b = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.lexsort((b, a))
    a, b = a[order], b[order]
    counts = np.bincount(a, minlength=n)
    table = np.full((n, max(int(counts.max(initial=0)), 1)), -1, dtype=np.int64)
    slot = np.arange(len(a)) - np.repeat(np.cumsum(counts) - counts, counts)
    table[a, slot] = b
    return table


def _extend(
    groups: IntArray, neighbours: IntArray, keys: IntArray, rank: IntArray, n: int
) -> IntArray:
    """Groups one larger: add a partner of the first member that pairs with every member."""
    extra = neighbours[groups[:, 0]]
    rows = np.repeat(np.arange(len(groups)), extra.shape[1])
    new = extra.ravel()
    ok = (new >= 0) & (rank[np.maximum(new, 0)] > rank[groups[rows, -1]])
    for col in range(1, groups.shape[1]):
        member = groups[rows, col]
        key = np.minimum(member, new) * n + np.maximum(member, new)
        at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        ok &= keys[at] == key
    out: IntArray = np.column_stack([groups[rows[ok]], new[ok]])
    return out


@cache
def templates(m: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8]]:
    """Stop sequences of an m-order group as (L, 2m) local member indices and stop kinds."""
    pick_orders = list(itertools.permutations(range(m))) if m <= 2 else [tuple(range(m))]
    rows = [p + d for p in pick_orders for d in itertools.permutations(range(m))]
    kinds = [PICKUP] * m + [DROPOFF] * m
    return np.array(rows, dtype=np.int64), np.tile(np.array(kinds, dtype=np.int8), (len(rows), 1))


@cache
def template_leg_index(m: int) -> tuple[IntArray, IntArray]:
    """The distinct legs of an m-order group's templates as (from, to) points (pickup j is
    point j, drop-off j is m + j), and which of them each template's legs are."""
    local, _ = templates(m)
    point = np.hstack([local[:, :m], m + local[:, m:]])
    pairs = np.stack([point[:, :-1], point[:, 1:]], axis=-1).reshape(-1, 2)
    legs, which = np.unique(pairs, axis=0, return_inverse=True)
    return legs, which.reshape(-1)


def bundle_options(
    groups: list[IntArray], orders: OrderArrays, riders: RiderArrays, edges: Edges,
    params: BatchParams, now_s: float, memo: BatchMemo | None = None,
) -> tuple[Tasks, IntArray] | None:
    """Each group's best sequence as a task (task g is group g), and the member table.

    With a `memo`, the template tasks of groups the last batch had too are reused.
    """
    if not groups:
        return None
    arrive, vcode = _earliest_arrival(edges, riders, orders.count, now_s)
    best: Tasks | None = None
    for g in groups:
        local, _ = templates(g.shape[1])
        tasks = _template_tasks(g, orders, params, riders, memo)
        first = tasks.order[:, 0]
        inf = np.full(len(first), math.inf)
        starts = Starts(tasks.lat[:, 0], tasks.lng[:, 0], arrive[first], vcode[first], inf)
        cost = evaluate(tasks, np.arange(tasks.count), starts, params, riders.vehicles).cost
        rows = np.arange(len(g)) * len(local) + cost.reshape(len(g), len(local)).argmin(axis=1)
        kept = take_tasks(tasks, rows)
        best = kept if best is None else concat_tasks(best, kept)
    width = max(g.shape[1] for g in groups)
    members = np.concatenate(
        [np.pad(g, ((0, 0), (0, width - g.shape[1])), constant_values=-1) for g in groups]
    )
    assert best is not None
    return best, members


def _template_tasks(
    groups: IntArray, orders: OrderArrays, params: BatchParams, riders: RiderArrays,
    memo: BatchMemo | None,
) -> Tasks:
    """One task per (group, template) of (G, m) groups, group-major."""
    m = groups.shape[1]
    local, _ = templates(m)
    if memo is None:
        tasks = _template_rows(groups, orders, params, riders)
    else:
        tasks = memo.group_tasks(groups, len(local), riders.vehicles,
                                 lambda g: _template_rows(g, orders, params, riders))
    return replace(tasks, order=groups[:, local].reshape(-1, 2 * m))


def _template_rows(
    groups: IntArray, orders: OrderArrays, params: BatchParams, riders: RiderArrays
) -> Tasks:
    """`_template_tasks` from scratch: everything but `order` a function of the members' specs.

    The templates of a group share most legs (a triple's 6 sequences use 11 distinct
    legs out of 30), so each distinct leg is timed once per group and gathered.
    """
    m = groups.shape[1]
    local, _ = templates(m)
    seq = groups[:, local].reshape(-1, 2 * m)
    picks, drops = seq[:, :m], seq[:, m:]
    inf = np.full(drops.shape, math.inf)
    stops: dict[str, npt.NDArray[np.generic]] = {
        "lat": np.hstack([orders.pickup_lat[picks], orders.dropoff_lat[drops]]),
        "lng": np.hstack([orders.pickup_lng[picks], orders.dropoff_lng[drops]]),
        "ready": np.hstack([orders.ready[picks], -inf]),
        "promised": np.hstack([inf, orders.promised[drops]]),
        "placed": orders.placed[seq],
        "kind": np.repeat(np.array([[PICKUP] * m + [DROPOFF] * m], dtype=np.int8), len(seq), 0),
        "order": seq,
        "site": np.hstack([orders.merchant[picks], np.full(drops.shape, -1)]),
    }
    size = orders.size[picks].sum(axis=1)
    legs = _template_legs(groups, orders, params, riders)
    return make_tasks(stops, size, params.travel, riders.vehicles, legs)


def _template_legs(
    groups: IntArray, orders: OrderArrays, params: BatchParams, riders: RiderArrays
) -> tuple[FloatArray, FloatArray]:
    """Metres (G * L, 2m - 1) and seconds (G * L, 2m - 1, V) of every template's legs."""
    m = groups.shape[1]
    local, _ = templates(m)
    legs, which = template_leg_index(m)
    lat = np.hstack([orders.pickup_lat[groups], orders.dropoff_lat[groups]])
    lng = np.hstack([orders.pickup_lng[groups], orders.dropoff_lng[groups]])
    a, b = legs[:, 0], legs[:, 1]
    ends = (lat[:, a].ravel(), lng[:, a].ravel(), lat[:, b].ravel(), lng[:, b].ravel())
    metres, seconds = measure_legs(params.travel, *ends, riders.vehicles)
    at = which.reshape(len(local), 2 * m - 1)
    rows = len(groups) * len(local)
    leg_m = metres.reshape(len(groups), len(legs))[:, at].reshape(rows, 2 * m - 1)
    v = seconds.shape[-1]
    leg_s = seconds.reshape(len(groups), len(legs), v)[:, at, :].reshape(rows, 2 * m - 1, v)
    return leg_m, leg_s


def _earliest_arrival(
    edges: Edges, riders: RiderArrays, n: int, now_s: float
) -> tuple[npt.NDArray[np.float64], IntArray]:
    """Per order: when its soonest candidate reaches the pickup, and the nearest's vehicle."""
    arrive = np.full(n, now_s)
    vcode = np.zeros(n, dtype=np.int64)
    if edges.count:  # sorted by task (order index), then distance
        task, head = np.unique(edges.task, return_index=True)
        arrive[task] = np.minimum.reduceat(riders.start_s[edges.rider] + edges.first_s, head)
        vcode[task] = riders.vcode[edges.rider[head]]  # the nearest rider's vehicle
    return arrive, vcode
