"""Tasks from explicit stop sequences of batch orders (bundles, or routes read back from a plan)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from dispatch.optimizer.core.arrays import OrderArrays
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import DROPOFF, PAD, PICKUP, IntArray, Tasks, make_tasks

Sequence_ = Sequence[tuple[int, int]]  # (order index, PICKUP or DROPOFF) per stop


def stop_tasks(
    order: IntArray,
    kind: npt.NDArray[np.int8],
    orders: OrderArrays,
    params: BatchParams,
    vehicles: tuple[str, ...],
) -> Tasks:
    """One task per row of (T, S) arrays of order index and stop kind (PAD where unused)."""
    live = kind != PAD
    idx = order[live]
    pick = kind[live] == PICKUP
    stops: dict[str, npt.NDArray[np.generic]] = {}
    for name, at_pick, at_drop, fill in (
        ("lat", orders.pickup_lat, orders.dropoff_lat, 0.0),
        ("lng", orders.pickup_lng, orders.dropoff_lng, 0.0),
        ("ready", orders.ready, None, -math.inf),
        ("promised", None, orders.promised, math.inf),
        ("placed", orders.placed, orders.placed, 0.0),
    ):
        column = np.full(order.shape, fill)
        pick_values = at_pick[idx] if at_pick is not None else fill
        drop_values = at_drop[idx] if at_drop is not None else fill
        column[live] = np.where(pick, pick_values, drop_values)
        stops[name] = column
    size = np.where(live & (kind == PICKUP), orders.size[np.maximum(order, 0)], 0).sum(axis=1)
    stops["kind"], stops["order"] = kind, np.where(live, order, -1)
    stops["site"] = np.where(live & (kind == PICKUP), orders.merchant[np.maximum(order, 0)], -1)
    return make_tasks(stops, size.astype(np.int64), params.travel, vehicles)


def sequence_tasks(
    sequences: Sequence[Sequence_],
    orders: OrderArrays,
    params: BatchParams,
    vehicles: tuple[str, ...],
) -> Tasks:
    """One task per sequence of (order index, stop kind), padded to the longest."""
    width = max((len(seq) for seq in sequences), default=1)
    shape = (len(sequences), max(width, 1))
    kind = np.full(shape, PAD, dtype=np.int8)
    order = np.full(shape, -1, dtype=np.int64)
    for row, seq in enumerate(sequences):
        for s, (i, k) in enumerate(seq):
            kind[row, s], order[row, s] = k, i
    return stop_tasks(order, kind, orders, params, vehicles)


def is_valid_sequence(seq: Sequence_) -> bool:
    """Every order picked up exactly once, before its single drop-off."""
    picked: set[int] = set()
    dropped: set[int] = set()
    for i, k in seq:
        if k == PICKUP and i not in picked and i not in dropped:
            picked.add(i)
        elif k == DROPOFF and i in picked and i not in dropped:
            dropped.add(i)
        else:
            return False
    return picked == dropped
