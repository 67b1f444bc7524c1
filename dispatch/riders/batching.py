"""`Batcher`: many concurrent one-key lookups answered by few many-key calls.

A connect storm brings thousands of riders' `hello`s within seconds; each needs its
account checked, its connection recorded in Redis and its pending offers read. Made one
by one, those lookups hold a database or Redis connection each and exhaust the pools.
A `Batcher` queues the keys and runs one call of its `fetch` at a time over everything
queued (up to `max_batch` keys): while one call runs, the next batch gathers, so the
number of calls adapts to the load and a storm costs a few queries, not thousands.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Batcher(Generic[K, V]):
    """Coalesces `get(key)` calls into `fetch(keys)` calls, one in flight at a time.

    `fetch` returns a value for every key it is given; if it raises, every caller of
    that batch gets the exception.
    """

    def __init__(self, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
                 max_batch: int = 500) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._fetch = fetch
        self.max_batch = max_batch
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._runner: asyncio.Task[None] | None = None
        self.calls = 0  # fetch calls made (for tests and metrics)

    @property
    def queued(self) -> int:
        """Keys waiting for the next call."""
        return len(self._waiting)

    async def get(self, key: K) -> V:
        """The value of `key`, fetched together with whatever else is queued."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if self._runner is None:
            self._runner = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            while self._waiting:
                keys = list(itertools.islice(self._waiting, self.max_batch))
                batch = {key: self._waiting.pop(key) for key in keys}
                self.calls += 1
                try:
                    found = await self._fetch(keys)
                except Exception as exc:  # handed to every caller of the batch
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for key, futures in batch.items():
                    for future in futures:
                        if future.done():
                            continue
                        if key in found:
                            future.set_result(found[key])
                        else:
                            future.set_exception(KeyError(f"fetch gave no value for {key!r}"))
        finally:
            self._runner = None
