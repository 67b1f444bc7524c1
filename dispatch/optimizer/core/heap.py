"""`frozen_heap`: keep the garbage collector's full passes off what existed before a batch.

A batch allocates hundreds of thousands of objects that live until it ends (specs,
stops, routes; in the service, offers and their rows). CPython answers with full
collections, and each walks every object of the process: ~600,000 in the 20,000 x
80,000 benchmark, 0.3 s per pass, one or two per solve and per commit. Inside
`frozen_heap` the objects that existed before it are frozen (`gc.freeze`), so a full
pass walks only what the batch made. They are still freed by reference counting.
Nested or concurrent uses (one region's solve thread, another's commit) are safe: the
first to leave unfreezes everything, which ends the saving early.

The price: `gc.freeze` resets the collector's counters, so a process that spends its
life in batches (the service's region loop, a replay) never reaches an automatic full
collection, and a reference cycle that outlives the batch that made it (it is moved to
the oldest generation on leaving) would never be freed. A replay of day 8 grew by
~350 MB that way through its evening from OR-Tools' `CpModel`, a cycle per model
(`dispatch.optimizer.core.exact`). So on leaving, `frozen_heap` runs a full collection
itself once at least `FULL_PASS_EVERY_S` have passed since the last one and at least
`FULL_PASS_COST_FACTOR` times that pass's own duration: garbage cycles are freed within
five minutes, for at most ~1 % of the time. The interval is long because a full pass
holds the GIL, so in `dispatch serve` it pauses the rider stream (0.3-0.65 s with 10,000
riders on a slow host, see `dispatch.gc_policy`): once in five minutes at most. Cycles
are still best not made: the known ones are removed at their source.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections.abc import Iterator

# Least seconds between two full collections run on leaving a frozen heap.
FULL_PASS_EVERY_S = 300.0
# ...and at least this many times the last such pass's duration (<= ~1 % of the time).
FULL_PASS_COST_FACTOR = 100.0


class _FullPasses:
    """When the last full collection of `frozen_heap` ran and what it cost."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_s = time.monotonic()
        self._cost_s = 0.0
        self.count = 0

    def maybe_collect(self) -> None:
        """Run a full collection if one is due (never two threads at once)."""
        now = time.monotonic()
        due = self._last_s + max(FULL_PASS_EVERY_S, FULL_PASS_COST_FACTOR * self._cost_s)
        if now < due or not gc.isenabled() or not self._lock.acquire(blocking=False):
            return
        try:
            t0 = time.perf_counter()
            gc.collect()
            self._cost_s = time.perf_counter() - t0
            self._last_s = time.monotonic()
            self.count += 1
        finally:
            self._lock.release()


full_passes = _FullPasses()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Within the block, full garbage collections skip the objects that existed before it;
    on leaving, a full collection runs if one is due (see the module's docstring)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        full_passes.maybe_collect()
