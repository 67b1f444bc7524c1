"""Stopping a process's background tasks (batch loops, outbox relay, eviction) for good.

On Python 3.11 `asyncio.wait_for`, which libraries we call use (redis-py among them),
can swallow a cancellation that arrives just as the call it guards completes; the task
then carries on and awaiting it after one `cancel()` never returns (seen as a service
whose shutdown hung in the outbox relay's next sleep). So a task is cancelled again
until it has ended.

Re-cancelling reaches only the tasks given: a `TaskGroup` cancels its children once, when
its own task is first cancelled, and not again. A loop run inside one therefore checks,
after each step, whether a cancellation of its task was swallowed on the way
(`reraise_swallowed_cancellation`); the region batch loops hung a service's shutdown so
(the CI run that never finished; reproduced once in 26 runs on a loaded machine).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

RECANCEL_S = 0.5  # how long to wait for cancelled tasks before cancelling them again


def reraise_swallowed_cancellation() -> None:
    """Raise `CancelledError` if this task was asked to stop but carried on (a library
    swallowed the cancellation); call it between a loop's steps."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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
