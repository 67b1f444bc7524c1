"""`PositionWriter`: coalesces the fixes of every connection on this worker into few Redis calls.

Each connection awaits its own write, but writes submitted while a flush is in
flight are gathered into the next one: at low load a fix is written at once, at
high load one script call carries up to `max_batch` riders. Throughput therefore
grows with load instead of falling with the number of round trips.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from redis.exceptions import RedisError

from dispatch.live.models import PositionWrite
from dispatch.live.store import LiveStore

log = logging.getLogger(__name__)

_Pending = list[tuple[PositionWrite, "asyncio.Future[bool]"]]


class PositionWriter:
    """Batches `PositionWrite`s across connections; each `submit` resolves when written."""

    def __init__(self, store: LiveStore, *, max_batch: int = 2000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._pending: defaultdict[str, _Pending] = defaultdict(list)
        self._flusher: asyncio.Task[None] | None = None

    def submit(self, write: PositionWrite) -> asyncio.Future[bool]:
        """Queue a write; the future is True if it moved the rider, False if it was older."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[write.region].append((write, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_all())
        return future

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                pending, self._pending = self._pending, defaultdict(list)
                await asyncio.gather(*(
                    self._write(region, items[i:i + self.max_batch])
                    for region, items in pending.items()
                    for i in range(0, len(items), self.max_batch)
                ))
        finally:
            self._flusher = None

    async def _write(self, region: str, items: _Pending) -> None:
        try:
            applied = await self.store.apply_positions(region, [w for w, _ in items])
        except (RedisError, OSError) as exc:
            log.warning("position write failed", extra={"region": region, "error": str(exc)})
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), moved in zip(items, applied, strict=True):
            if not future.done():
                future.set_result(moved)

    async def drain(self) -> None:
        """Wait until everything submitted so far is written (used at shutdown)."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
