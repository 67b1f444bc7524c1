"""Stopping a process's background tasks (batch loops, outbox relay, eviction) for good.

On Python 3.11 `asyncio.wait_for`, which libraries we call use (redis-py among them),
can swallow a cancellation that arrives just as the call it guards completes; the task
then carries on and awaiting it after one `cancel()` never returns (seen as a service
whose shutdown hung in the outbox relay's next sleep). So a task is cancelled again
until it has ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

RECANCEL_S = 0.5  # how long to wait for cancelled tasks before cancelling them again


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and wait until every one has ended; log any that had failed."""
    tasks = list(tasks)
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception(),
                      extra={"task": task.get_name()})
