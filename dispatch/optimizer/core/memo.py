"""`BatchMemo`: what one caller's consecutive batches share, carried from one to the next.

At the service's 2 s interval consecutive batches see nearly the same orders and riders,
and part of a batch is a pure function of one rider or of a few orders: a rider's row of
the batch arrays, and a candidate bundle's stop sequences with the legs between their
stops. A memo handed to `solve_batch` batch after batch keeps those of the last batch
and reuses them when the same input comes back:

- orders are matched by value (`OrderSpec` equality, every field: a changed ready time
  or a newly declined rider makes it a new order to the memo);
- riders by identity: the very `RiderSpec` object handed again (the replay keeps a
  courier's spec until its state changes) reuses its row; a rebuilt spec, even an equal
  one, is a miss (hashing thousands of riders would cost what it saves).

Each batch replaces the entries with its own, so a memo holds one batch's worth at most
and drops whatever the batch did not use; a change of `BatchParams` or of the batch's
set of vehicles drops everything. Answers are the same to the bit with a memo or without.
A memo serves one sequence of batches (one region): another region's batch only misses.
It is not thread-safe; `batch` hands out nothing while another thread holds it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import numpy.typing as npt

from dispatch.optimizer.core.models import OrderSpec, RiderSpec
from dispatch.optimizer.core.params import BatchParams
from dispatch.optimizer.core.routes import IntArray, Tasks
from dispatch.optimizer.core.task_store import TaskStore
from geo.distance import FloatArray

_MAX_KEY = 2**62  # packed group keys stay below this
_MAX_VEHICLES = 64  # distinct vehicle names remembered before the memo starts afresh

RiderRows = Callable[[Sequence[RiderSpec], dict[str, int]], FloatArray]


@dataclass(frozen=True)
class _Groups:
    """One group size's template tasks, findable by the member orders of the last batch."""

    keys: IntArray  # sorted packed member indices (in the last batch's order list)
    slot: IntArray  # the store's slot of each key
    base: int  # the packing base: the last batch's order count
    store: TaskStore
    vehicles: tuple[str, ...]  # the batch's vehicles, one column each of `leg_s`


def _pack(members: IntArray, base: int) -> IntArray:
    """Each row of member indices (all < base) as one integer."""
    key = np.zeros(len(members), dtype=np.int64)
    for col in range(members.shape[1]):
        key = key * base + members[:, col]
    return key


class BatchMemo:
    """Rider rows and bundle templates of the last batch, for the next one (see module)."""

    def __init__(self, *, spare_slots: int = 1024) -> None:
        self._lock = threading.Lock()
        self._spare_slots = spare_slots  # kept groups no batch uses any more, before compacting
        self._forget(None)

    def _forget(self, params: BatchParams | None) -> None:
        """Drop every entry; the entries to come are for `params`."""
        self._params = params
        self.vehicle_codes: dict[str, int] = {}
        self._riders: list[RiderSpec] = []  # held, so that their ids stay theirs
        self._rider_ids: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)  # sorted ids
        self._rider_row: IntArray = np.zeros(0, dtype=np.int64)  # each sorted id's table row
        self._rider_table: FloatArray = np.zeros((0, 0))
        self._order_at: dict[OrderSpec, int] = {}
        self._order_prev: IntArray = np.zeros(0, dtype=np.int64)
        self._groups: dict[int, _Groups] = {}
        self._fresh: dict[int, _Groups] = {}
        self.reused = {"riders": 0, "groups": 0}  # what the last batch took from the one before

    def held(self) -> dict[str, int]:
        """How many riders, orders and groups the memo holds for the next batch, and how
        many groups' tasks it stores (those, and some that batches no longer use)."""
        return {"riders": len(self._riders), "orders": len(self._order_at),
                "groups": sum(len(g.keys) for g in self._groups.values()),
                "stored": sum(g.store.slots for g in self._groups.values())}

    @contextlib.contextmanager
    def batch(
        self, orders: Sequence[OrderSpec], params: BatchParams
    ) -> Iterator[BatchMemo | None]:
        """The memo for one batch of `orders` (None while another thread uses it)."""
        if not self._lock.acquire(blocking=False):
            yield None
            return
        try:
            if params != self._params or len(self.vehicle_codes) > _MAX_VEHICLES:
                self._forget(params)
            self._order_prev = np.array(
                list(map(self._order_at.get, orders, repeat(-1))), dtype=np.int64)
            self._order_at = dict(zip(orders, range(len(orders)), strict=True))
            self._fresh = {}
            self.reused = {"riders": 0, "groups": 0}
            yield self
        finally:
            self._groups, self._fresh = self._fresh, {}  # keyed by this batch's indices
            self._lock.release()

    def rider_table(self, riders: Sequence[RiderSpec], build: RiderRows) -> FloatArray:
        """Each rider's row: the last batch's for a spec handed again, `build`'s for others.

        `build(specs, vehicle_codes)` makes rows whose vehicle column is a code of
        `vehicle_codes` (which it may extend); the memo keeps the codes.
        """
        ids = np.fromiter(map(id, riders), dtype=np.uint64, count=len(riders))
        prev = self._rider_rows_of(ids)
        miss = np.flatnonzero(prev < 0)
        fresh = build([riders[i] for i in miss.tolist()], self.vehicle_codes)
        table = np.empty((len(riders), fresh.shape[1]))
        hit = np.flatnonzero(prev >= 0)
        self.reused["riders"] += len(hit)
        if len(hit):
            table[hit] = self._rider_table[prev[hit]]
        table[miss] = fresh
        self._riders = list(riders)
        self._rider_row = np.argsort(ids, kind="stable")
        self._rider_ids = ids[self._rider_row]
        self._rider_table = table
        return table

    def _rider_rows_of(self, ids: npt.NDArray[np.uint64]) -> IntArray:
        """The last batch's table row of each rider id (`id()` of its spec), -1 if none."""
        if len(self._rider_ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._rider_ids, ids), len(self._rider_ids) - 1)
        rows: IntArray = np.where(self._rider_ids[at] == ids, self._rider_row[at], -1)
        return rows

    def group_tasks(
        self, groups: IntArray, width: int, vehicles: tuple[str, ...],
        build: Callable[[IntArray], Tasks],
    ) -> Tasks:
        """`width` tasks per group of member orders (group-major), as `build(groups)` makes
        them: kept ones for groups the last batch had too, `build`'s for others.

        `build` must depend on the member orders' specs alone (not on their indices).
        """
        m = groups.shape[1]
        stored = self._groups.get(m)
        if stored is not None and (stored.store.width, stored.vehicles) != (width, vehicles):
            stored = None
        slot = np.full(len(groups), -1, dtype=np.int64)
        if stored is not None and len(stored.keys):
            prev = self._order_prev[groups]
            known = np.flatnonzero((prev >= 0).all(axis=1))
            key = _pack(prev[known], stored.base)
            at = np.minimum(np.searchsorted(stored.keys, key), len(stored.keys) - 1)
            found = stored.keys[at] == key
            slot[known[found]] = stored.slot[at[found]]
        miss = np.flatnonzero(slot < 0)
        self.reused["groups"] += len(groups) - len(miss)
        fresh = build(groups[miss])
        store = TaskStore(width) if stored is None else stored.store
        if store.slots > 2 * len(groups) + self._spare_slots:  # mostly groups gone: start afresh
            hit = np.flatnonzero(slot >= 0)
            kept = store.take(slot[hit])
            store = TaskStore(width)
            slot[hit] = store.append(kept)
        slot[miss] = store.append(fresh)
        self._keep(groups, slot, store, vehicles)
        return store.take(slot)

    def _keep(
        self, groups: IntArray, slot: IntArray, store: TaskStore, vehicles: tuple[str, ...]
    ) -> None:
        """Make this batch's groups findable by the next batch."""
        base = max(len(self._order_prev), 1)
        if float(base) ** groups.shape[1] >= _MAX_KEY:
            return
        key = _pack(groups, base)
        order = np.argsort(key, kind="stable")
        self._fresh[groups.shape[1]] = _Groups(key[order], slot[order], base, store, vehicles)
