"""`tune_collector`: how `dispatch serve` sets up CPython's garbage collector.

Two things, both for a process that is this server alone:

- What start-up made lives as long as the process, so it is frozen (`gc.freeze`) out of
  the collector's sight: the collections that requests trigger have that much less to
  traverse.
- The youngest generation is collected every `young_threshold` allocations instead of
  Python's 700. Every connected rider holds objects (its protocol, session, websocket
  state) that a full collection walks: ~0.3-0.65 s per pass with 10,000 riders on a slow
  2-core host, during which no frame is read. Full passes come when enough objects have
  been promoted out of the young generations, and what gets promoted is what is alive
  when a young collection runs: the fixes waiting for their Redis round trip. At 700 a
  young collection ran ~140 times a second at 10,000 fixes/s, so those in-flight objects
  were promoted by the hundred thousand and a full pass ran every 2-5 seconds — each one
  making the queue longer and the next promotion larger. At 50,000 the young collections
  run ~70 times less often, a young pass costs a few milliseconds, and the full passes
  of a steady stream all but stop (`benchmarks/README.md`, "ingest").

A process that also runs the optimizer loses the first point after its first batch:
`dispatch.optimizer.core.heap.frozen_heap` freezes around a batch and unfreezes
everything when it ends, start-up objects included (re-freezing them would need a full
collection, or would keep whatever cyclic garbage exists then for ever). The young
threshold, which matters most for the stream, is not affected. Such a process also
gets a full pass from `frozen_heap` at most every five minutes (a batch's freeze resets
the counters that would trigger one, and garbage cycles must be freed some time).
"""

from __future__ import annotations

import gc

# The young generation's threshold `dispatch serve` uses unless configured (see above).
YOUNG_THRESHOLD = 50_000


def tune_collector(young_threshold: int) -> None:
    """Freeze what exists now and collect the young generation every `young_threshold`
    allocations (0 keeps Python's default)."""
    gc.collect()
    gc.freeze()
    if young_threshold:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(young_threshold, middle, old)
