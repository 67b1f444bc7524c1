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

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from dispatch.live.client import RETRYABLE_ERRORS
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

    __slots__ = ("region", "sinks", "tokens", "writes")

    def __init__(self, region: str) -> None:
        self.region = region
        self.writes: list[PositionWrite] = []
        self.sinks: list[WriteSink] = []
        self.tokens: list[Any] = []

    def take(self, n: int) -> _Batch:
        """The first `n` writes as a batch of their own, removed from this one."""
        head = _Batch(self.region)
        head.writes, head.sinks, head.tokens = self.writes[:n], self.sinks[:n], self.tokens[:n]
        del self.writes[:n], self.sinks[:n], self.tokens[:n]
        return head

    def tell(self, outcomes: Sequence[bool | BaseException]) -> None:
        """Give each write's sink its outcome."""
        for sink, token, outcome in zip(self.sinks, self.tokens, outcomes, strict=True):
            try:
                sink.written(outcome, token)
            except Exception:  # one connection's failure must not starve the others
                log.exception("write callback failed")


class PositionWriter:
    """Batches `PositionWrite`s across connections and reports each one's outcome.

    Up to `max_concurrent` script calls are in flight at once, so frames that arrive
    while Redis runs one batch do not wait for it to return before being sent.
    Two calls may carry fixes of the same rider: the store script keeps the
    newest by device time and sequence whichever lands first.

    A call goes out at once on the store's open pipe connection and its outcome is
    handled in the reply's callback, with no task or coroutine per call (at one fix a
    second per rider most calls carry a few fixes, so a call's overhead is paid nearly
    per frame). A call that meets a lost connection, a timeout or a Redis that forgot the
    script is sent again by `LiveStore.apply_positions` in a task, within the same retries.
    """

    def __init__(self, store: LiveStore, *, max_batch: int = 2000, max_concurrent: int = 4) -> None:
        self.store = store
        self.max_batch = max_batch
        self.max_concurrent = max_concurrent
        self._pending: dict[str, _Batch] = {}
        self._scheduled = False
        self._in_flight: set[asyncio.Future[Any]] = set()

    def submit(self, write: PositionWrite, sink: WriteSink, token: Any) -> None:
        """Queue a write; `sink.written(outcome, token)` is called from the event loop once it
        is written or failed."""
        batch = self._pending.get(write.region)
        if batch is None:
            batch = self._pending[write.region] = _Batch(write.region)
        batch.writes.append(write)
        batch.sinks.append(sink)
        batch.tokens.append(token)
        if not self._scheduled:
            self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and len(self._in_flight) < self.max_concurrent:
            self._scheduled = True
            # call_soon runs after the I/O callbacks already queued in this loop
            # iteration, so every frame read in the same iteration joins this flush.
            asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        """Send what is pending, a call per region and up to `max_batch` writes, while
        fewer than `max_concurrent` calls are in flight; the rest waits for a reply."""
        self._scheduled = False
        pending = self._pending
        while pending and len(self._in_flight) < self.max_concurrent:
            batch = pending[next(iter(pending))]
            if len(batch.writes) <= self.max_batch:
                del pending[batch.region]
                self._send(batch)
            else:
                self._send(batch.take(self.max_batch))

    def _send(self, batch: _Batch) -> None:
        reply = self.store.send_positions(batch.region, batch.writes)
        if reply is None:
            self._retry(batch, failed=0)
            return
        self._in_flight.add(reply)
        reply.add_done_callback(lambda done: self._landed(done, batch))

    def _landed(self, reply: asyncio.Future[Any], batch: _Batch) -> None:
        self._in_flight.discard(reply)
        outcomes: Sequence[bool | BaseException]
        try:
            outcomes = self.store.position_outcomes(reply.result(), batch.writes)
        except NoScriptError:
            self._retry(batch, failed=0)
            return
        except RETRYABLE_ERRORS as exc:
            if self.store.may_resend(failed=1):
                self._retry(batch, failed=1)
                return
            outcomes = _failed(batch, exc)
        except (RedisError, OSError) as exc:
            outcomes = _failed(batch, exc)
        except asyncio.CancelledError:  # a shutdown's gather gave up on it
            outcomes = [RedisConnectionError("the write was cancelled")] * len(batch.writes)
        except Exception as exc:  # a bug: the riders still hear of it and send again
            log.exception("position write reply not understood", extra={"region": batch.region})
            outcomes = [exc] * len(batch.writes)
        batch.tell(outcomes)
        self._done(reply)

    def _retry(self, batch: _Batch, *, failed: int) -> None:
        task = asyncio.get_running_loop().create_task(self._write(batch, failed))
        self._in_flight.add(task)
        task.add_done_callback(self._done)

    def _done(self, call: asyncio.Future[Any]) -> None:
        """A call is over: make room for what waits."""
        self._in_flight.discard(call)
        if self._pending:
            self._schedule()

    async def _write(self, batch: _Batch, failed: int) -> None:
        outcomes: Sequence[bool | BaseException]
        try:
            outcomes = await self.store.apply_positions(batch.region, batch.writes, failed=failed)
        except (RedisError, OSError) as exc:
            outcomes = _failed(batch, exc)
        batch.tell(outcomes)

    async def drain(self) -> None:
        """Wait until everything submitted so far is written (used at shutdown)."""
        while self._pending or self._in_flight:
            if self._in_flight:
                await asyncio.gather(*self._in_flight, return_exceptions=True)
            else:
                self._start_flush()


def _failed(batch: _Batch, exc: BaseException) -> list[BaseException]:
    log.warning("position write failed", extra={"region": batch.region, "error": str(exc)})
    return [exc] * len(batch.writes)
