"""`RiderHub`: the rider connections open on this worker, and the offline grace timers."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dispatch.background import stop_tasks

log = logging.getLogger(__name__)

CloseFn = Callable[[int, str], None]
SendFn = Callable[[bytes], None]


@dataclass(slots=True)
class Connection:
    """One open rider connection: who, which connection id, how to close it and send to it."""

    rider_id: str
    region: str
    conn_id: str
    close: CloseFn
    send: SendFn | None = None


@dataclass
class RiderHub:
    """Tracks one connection per rider on this worker and runs their offline-grace timers."""

    worker_id: str
    _connections: dict[str, Connection] = field(default_factory=dict)
    _timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    _tasks: set[asyncio.Task[object]] = field(default_factory=set)
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    def new_conn_id(self) -> str:
        """A connection id unique across workers and restarts of this one."""
        return f"{self.worker_id}:{next(self._counter)}"

    def __len__(self) -> int:
        return len(self._connections)

    def get(self, rider_id: str) -> Connection | None:
        """The rider's connection on this worker, if any."""
        return self._connections.get(rider_id)

    def attach(self, connection: Connection) -> Connection | None:
        """Register a connection; return the one it replaces (the caller closes it)."""
        timer = self._timers.pop(connection.rider_id, None)
        if timer is not None:
            timer.cancel()
        previous = self._connections.get(connection.rider_id)
        self._connections[connection.rider_id] = connection
        return previous

    def detach(
        self, connection: Connection, grace_s: float, on_grace: Callable[[], Awaitable[object]]
    ) -> None:
        """Forget a closed connection; after `grace_s` without a new one, run `on_grace`."""
        if self._connections.get(connection.rider_id) is not connection:
            return  # replaced by a newer connection, which owns the rider now
        del self._connections[connection.rider_id]
        loop = asyncio.get_running_loop()
        self._timers[connection.rider_id] = loop.call_later(
            grace_s, self._fire, connection.rider_id, on_grace
        )

    def _fire(self, rider_id: str, on_grace: Callable[[], Awaitable[object]]) -> None:
        self._timers.pop(rider_id, None)
        self.spawn(on_grace())

    def spawn(self, work: Awaitable[object]) -> None:
        """Run `work` in the background; failures are logged, shutdown cancels it."""
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("rider background task failed", extra={"error": str(task.exception())})

    async def close_all(self, code: int, reason: str) -> None:
        """Close every connection (shutdown), cancel pending timers, and stop the background
        tasks: they have ended when this returns, so none is left holding a Redis
        connection as the client closes (one was, once, and leaked its socket)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for connection in list(self._connections.values()):
            connection.close(code, reason)
        await stop_tasks(list(self._tasks))
