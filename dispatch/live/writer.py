"""`PositionWriter`: coalesces the fixes of every connection on this worker into few Redis calls.

Connections hand in a write and go on reading; writes submitted while a flush is in
flight are gathered into the next one. At low load a fix is written at once, at high
load one script call carries up to `max_batch` riders, so throughput grows with load
instead of falling with the number of round trips.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from redis.exceptions import RedisError

from dispatch.live.models import PositionWrite
from dispatch.live.store import LiveStore

log = logging.getLogger(__name__)


class WriteSink(Protocol):
    """Who hears how a submitted write went (a rider's session)."""

    def written(self, outcome: bool | BaseException, token: Any) -> None:
        """Called once per write: True if it moved the rider, False if older, or the error;
        `token` is what was submitted with the write."""


class _Batch:
    """One region's writes waiting for a flush, with whom to tell and what to tell them.

    Parallel lists rather than an object per write: every write waits a Redis round
    trip, long enough for the garbage collector to move per-write containers (closures,
    tuples holding a session) to older generations, whose collections then traverse
    the whole heap several times a second. The tokens are tuples of numbers, which the
    collector stops tracking.
    """

    __slots__ = ("sinks", "tokens", "writes")

    def __init__(self) -> None:
        self.writes: list[PositionWrite] = []
        self.sinks: list[WriteSink] = []
        self.tokens: list[Any] = []


class PositionWriter:
    """Batches `PositionWrite`s across connections and reports each one's outcome.

    Up to `max_concurrent` flushes are in flight at once, so frames that arrive
    while Redis runs one batch do not wait for it to return before being sent.
    Two flushes may carry fixes of the same rider: the store script keeps the
    newest by device time and sequence whichever lands first.
    """

    def __init__(self, store: LiveStore, *, max_batch: int = 2000, max_concurrent: int = 4) -> None:
        self.store = store
        self.max_batch = max_batch
        self.max_concurrent = max_concurrent
        self._pending: dict[str, _Batch] = {}
        self._scheduled = False
        self._flushes: set[asyncio.Task[None]] = set()

    def submit(self, write: PositionWrite, sink: WriteSink, token: Any) -> None:
        """Queue a write; `sink.written(outcome, token)` is called from the event loop once it
        is written or failed."""
        batch = self._pending.get(write.region)
        if batch is None:
            batch = self._pending[write.region] = _Batch()
        batch.writes.append(write)
        batch.sinks.append(sink)
        batch.tokens.append(token)
        if not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and len(self._flushes) < self.max_concurrent:
            self._scheduled = True
            # call_soon runs after the I/O callbacks already queued in this loop
            # iteration, so every frame read in the same iteration joins this flush.
            asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        task = asyncio.get_running_loop().create_task(self._flush(pending))
        self._flushes.add(task)
        task.add_done_callback(self._flush_done)

    def _flush_done(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if self._pending:
            self._schedule()

    async def _flush(self, pending: dict[str, _Batch]) -> None:
        step = self.max_batch
        calls = [self._write(region, batch.writes[i:i + step], batch.sinks[i:i + step],
                             batch.tokens[i:i + step])
                 for region, batch in pending.items()
                 for i in range(0, len(batch.writes), step)]
        if len(calls) == 1:  # the usual flush: no task per call to gather
            await calls[0]
        else:
            await asyncio.gather(*calls)

    async def _write(self, region: str, writes: list[PositionWrite], sinks: list[WriteSink],
                     tokens: list[Any]) -> None:
        outcomes: Sequence[bool | BaseException]
        try:
            outcomes = await self.store.apply_positions(region, writes)
        except (RedisError, OSError) as exc:
            log.warning("position write failed", extra={"region": region, "error": str(exc)})
            outcomes = [exc] * len(writes)
        for sink, token, outcome in zip(sinks, tokens, outcomes, strict=True):
            try:
                sink.written(outcome, token)
            except Exception:  # one connection's failure must not starve the others
                log.exception("write callback failed")

    async def drain(self) -> None:
        """Wait until everything submitted so far is written (used at shutdown)."""
        while self._pending or self._flushes:
            if self._flushes:
                await asyncio.gather(*self._flushes, return_exceptions=True)
            else:
                self._start_flush()
