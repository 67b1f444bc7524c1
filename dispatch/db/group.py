"""Group commit: run what concurrent callers submit together, one group at a time.

A caller submits one item and awaits its own result. While a group is being run (in the
database, say), new items queue; when it ends, the queued items go together as the next
group. Nothing waits for company: an item arriving at an idle runner starts at once, alone,
so under light load this adds no latency, and under load one round trip and one commit
serve many callers. The group runs in its own task, so a caller that is cancelled while
waiting does not cancel the others' work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
# Runs a group: one result (or the exception for that item alone) per item, in order.
RunGroup = Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]]


class GroupRunner(Generic[T, R]):
    """Coalesces concurrent `submit`s into groups of at most `max_group` items."""

    def __init__(self, run: RunGroup[T, R], *, max_group: int = 64) -> None:
        if max_group < 1:
            raise ValueError("max_group must be at least 1")
        self._run = run
        self._max_group = max_group
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Run `item` with whatever else is submitted meanwhile; its own result."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        running = self._running
        if running is None or running.get_loop() is not future.get_loop():
            # (a runner left over from a closed event loop starts afresh on this one)
            self._running = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                group, self._queue = (self._queue[:self._max_group],
                                      self._queue[self._max_group:])
                await self._run_group(group)
        except BaseException:  # cancelled (shutting down): nobody queued may wait forever
            queued, self._queue = self._queue, []
            for _, future in queued:
                future.cancel()
            raise
        finally:
            if self._running is asyncio.current_task():
                self._running = None

    async def _run_group(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in group])
        except BaseException as exc:  # every waiter learns it, then it goes on (cancellation)
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(group, results, strict=True):
            if future.done():  # its caller was cancelled
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
