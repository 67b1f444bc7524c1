"""Background tasks stop even when one swallows its cancellation (as `wait_for` can on 3.11)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from dispatch.background import stop_tasks

pytestmark = pytest.mark.asyncio


async def stubborn() -> None:
    """Loses its first cancellation, like a loop whose awaited call swallowed it."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)


async def failing() -> None:
    raise RuntimeError("broke before shutdown")


async def test_a_task_that_swallows_its_cancellation_is_still_stopped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = [asyncio.create_task(stubborn()), asyncio.create_task(asyncio.sleep(3600)),
             asyncio.create_task(failing())]
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="dispatch.background"):
        await asyncio.wait_for(stop_tasks(tasks), 10)
    assert all(task.done() for task in tasks)
    assert [r.getMessage() for r in caplog.records] == ["background task failed"]
