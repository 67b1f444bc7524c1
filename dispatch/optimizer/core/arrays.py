"""Orders and riders as numpy arrays, and the rider's effective start after its carried stops.

New work is appended to a rider's carried stops, so for the optimizer a rider
"starts" at its last carried stop, when it has finished them; riders that carry
nothing start where they are, at ``max(now, available_s)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from dispatch.optimizer.core.memo import BatchMemo
from dispatch.optimizer.core.models import OrderSpec, RiderSpec
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import (
    DROPOFF,
    PICKUP,
    IntArray,
    Starts,
    Tasks,
    evaluate,
    make_tasks,
)
from geo.distance import FloatArray


@dataclass(frozen=True)
class OrderArrays:
    """Column arrays of the batch's orders, in input order."""

    ids: tuple[str, ...]
    pickup_lat: FloatArray
    pickup_lng: FloatArray
    dropoff_lat: FloatArray
    dropoff_lng: FloatArray
    placed: FloatArray
    ready: FloatArray
    promised: FloatArray
    size: IntArray
    merchant: IntArray  # merchant code, -1 when unknown
    penalty: FloatArray  # cost of leaving the order unassigned

    @property
    def count(self) -> int:
        """Number of orders."""
        return len(self.ids)


@dataclass(frozen=True)
class RiderArrays:
    """Column arrays of the batch's riders; `lat`/`lng`/`start_s` are the effective start."""

    ids: tuple[str, ...]
    lat: FloatArray
    lng: FloatArray
    start_s: FloatArray
    vcode: IntArray
    shift_end_s: FloatArray
    free: IntArray  # capacity - load
    vehicles: tuple[str, ...]
    carried_etas: tuple[tuple[float, ...], ...]  # per rider, the ETA of each carried stop

    @property
    def count(self) -> int:
        """Number of riders."""
        return len(self.ids)

    def starts(self, rider: IntArray) -> Starts:
        """The `Starts` of the given riders (one entry per pair)."""
        return Starts(
            self.lat[rider], self.lng[rider], self.start_s[rider],
            self.vcode[rider], self.shift_end_s[rider],
        )


def order_arrays(orders: Sequence[OrderSpec], params: BatchParams, now_s: float) -> OrderArrays:
    """Columns of `orders`, with the unassigned penalty of each."""
    merchants: dict[str, int] = {}
    codes = [-1 if o.merchant_id is None else merchants.setdefault(o.merchant_id, len(merchants))
             for o in orders]
    placed = np.array([o.placed_s for o in orders], dtype=np.float64)
    promised = np.array([o.promised_s for o in orders], dtype=np.float64)
    return OrderArrays(
        ids=tuple(o.order_id for o in orders),
        pickup_lat=np.array([o.pickup_lat for o in orders], dtype=np.float64),
        pickup_lng=np.array([o.pickup_lng for o in orders], dtype=np.float64),
        dropoff_lat=np.array([o.dropoff_lat for o in orders], dtype=np.float64),
        dropoff_lng=np.array([o.dropoff_lng for o in orders], dtype=np.float64),
        placed=placed,
        ready=np.array([o.ready_s for o in orders], dtype=np.float64),
        promised=promised,
        size=np.array([o.size for o in orders], dtype=np.int64),
        merchant=np.array(codes, dtype=np.int64),
        penalty=unassigned_penalty(placed, promised, params, now_s),
    )


def unassigned_penalty(
    placed: FloatArray, promised: FloatArray, params: BatchParams, now_s: float
) -> FloatArray:
    """Each order's cost of being left for the next batch (see `params` for why)."""
    age = np.maximum(0.0, now_s - placed)
    overdue = np.maximum(0.0, now_s - promised)
    late_rate = params.delivery_weight + params.lateness_weight
    penalty: FloatArray = (
        params.unassigned_penalty_s + params.age_weight * age + late_rate * overdue
    )
    return penalty


def single_tasks(orders: OrderArrays, params: BatchParams, vehicles: tuple[str, ...]) -> Tasks:
    """One task per order: its pickup then its drop-off."""
    n = orders.count
    stops: dict[str, npt.NDArray[np.generic]] = {
        "lat": np.column_stack([orders.pickup_lat, orders.dropoff_lat]),
        "lng": np.column_stack([orders.pickup_lng, orders.dropoff_lng]),
        "kind": np.tile(np.array([PICKUP, DROPOFF], dtype=np.int8), (n, 1)),
        "ready": np.column_stack([orders.ready, np.full(n, -math.inf)]),
        "promised": np.column_stack([np.full(n, math.inf), orders.promised]),
        "placed": np.column_stack([orders.placed, orders.placed]),
        "order": np.repeat(np.arange(n, dtype=np.int64)[:, None], 2, axis=1),
    }
    return make_tasks(stops, orders.size, params.travel, vehicles)


def rider_rows(riders: Sequence[RiderSpec], codes: dict[str, int]) -> FloatArray:
    """One row per rider: lat, lng, available, vehicle code (in `codes`, which grows with
    new vehicles), room (capacity - load), shift end, carried stops."""
    table: FloatArray = np.array(
        [
            (r.lat, r.lng, r.available_s, codes.setdefault(r.vehicle, len(codes)),
             r.capacity - r.load, math.inf if r.shift_end_s is None else r.shift_end_s,
             len(r.carried))
            for r in riders
        ],
        dtype=np.float64,
    ).reshape(-1, 7)
    return table


def rider_arrays(
    riders: Sequence[RiderSpec], params: BatchParams, now_s: float, memo: BatchMemo | None = None
) -> RiderArrays:
    """Columns of `riders`, their starts moved to the end of their carried stops.

    With a `memo`, the rows of riders handed to the last batch too are reused.
    """
    if memo is None:
        codes: dict[str, int] = {}
        table = rider_rows(riders, codes)
    else:
        codes = memo.vehicle_codes
        table = memo.rider_table(riders, rider_rows)
    name = {code: vehicle for vehicle, code in codes.items()}
    vehicles = tuple(sorted(name[c] for c in np.unique(table[:, 3]).astype(np.int64).tolist()))
    recode = np.zeros(len(codes), dtype=np.int64)  # the memo's codes to this batch's
    recode[[codes[v] for v in vehicles]] = np.arange(len(vehicles))
    lat, lng = table[:, 0].copy(), table[:, 1].copy()
    start = np.maximum(now_s, table[:, 2])
    vcode = recode[table[:, 3].astype(np.int64)]
    etas: list[tuple[float, ...]] = [()] * len(riders)
    carrying = np.flatnonzero(table[:, 6])
    if len(carrying):
        _advance_past_carried(riders, carrying, params, vehicles, (lat, lng, start, vcode), etas)
    return RiderArrays(
        ids=tuple(map(attrgetter("rider_id"), riders)),
        lat=lat,
        lng=lng,
        start_s=start,
        vcode=vcode,
        shift_end_s=table[:, 5].copy(),
        free=table[:, 4].astype(np.int64),
        vehicles=vehicles,
        carried_etas=tuple(etas),
    )


def _advance_past_carried(
    riders: Sequence[RiderSpec],
    carrying: IntArray,
    params: BatchParams,
    vehicles: tuple[str, ...],
    state: tuple[FloatArray, FloatArray, FloatArray, IntArray],
    etas: list[tuple[float, ...]],
) -> None:
    """Time the carried stops of `carrying` riders; move their start to the last one (in place)."""
    lat, lng, start, vcode = state
    width = max(len(riders[i].carried) for i in carrying)
    shape = (len(carrying), width)
    cols: dict[str, FloatArray] = {k: np.zeros(shape) for k in ("lat", "lng", "placed")}
    cols["ready"] = np.full(shape, -math.inf)
    cols["promised"] = np.full(shape, math.inf)
    kind = np.zeros(shape, dtype=np.int8)
    flat = [
        (row, s, stop)
        for row, i in enumerate(carrying.tolist())
        for s, stop in enumerate(riders[i].carried)
    ]
    at = (np.array([f[0] for f in flat]), np.array([f[1] for f in flat]))
    for name, attr in (("lat", "lat"), ("lng", "lng"), ("ready", "ready_s"),
                       ("promised", "promised_s")):
        cols[name][at] = [getattr(f[2], attr) for f in flat]
    kind[at] = [PICKUP if f[2].kind == "pickup" else DROPOFF for f in flat]
    stops: dict[str, npt.NDArray[np.generic]] = {
        **cols, "kind": kind, "order": np.full(shape, -1, dtype=np.int64)
    }
    tasks = make_tasks(stops, np.zeros(len(carrying), dtype=np.int64), params.travel, vehicles)
    inf = np.full(len(carrying), math.inf)
    starts = Starts(lat[carrying], lng[carrying], start[carrying], vcode[carrying], inf)
    timed = evaluate(tasks, np.arange(len(carrying)), starts, params, vehicles, detail=True)
    last = (kind != 0).sum(axis=1) - 1
    rows = np.arange(len(carrying))
    lat[carrying], lng[carrying] = tasks.lat[rows, last], tasks.lng[rows, last]
    start[carrying] = timed.end_s
    assert timed.etas is not None
    ends = (last + 1).tolist()
    for i, times, n in zip(carrying.tolist(), timed.etas.tolist(), ends, strict=True):
        etas[i] = tuple(times[:n])
