"""`frozen_heap`: keep the garbage collector's full passes off what existed before a batch.

A batch allocates hundreds of thousands of objects that live until it ends (specs,
stops, routes; in the service, offers and their rows). CPython answers with full
collections, and each walks every object of the process: ~600,000 in the 20,000 x
80,000 benchmark, 0.3 s per pass, one or two per solve and per commit. Inside
`frozen_heap` the objects that existed before it are frozen (`gc.freeze`), so a full
pass walks only what the batch made. They are still freed by reference counting;
on leaving they return to the oldest generation, and cycles among them are collected
as before, only later. Nested or concurrent uses (one region's solve thread, another's
commit) are safe: the first to leave unfreezes everything, which ends the saving early.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Within the block, full garbage collections skip the objects that existed before it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
