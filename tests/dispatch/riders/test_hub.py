"""The hub's shutdown: timers cancelled, connections closed, background work ended."""

from __future__ import annotations

import asyncio

import pytest

from dispatch.riders.hub import Connection, RiderHub

pytestmark = pytest.mark.asyncio


async def test_close_all_returns_only_once_every_background_task_has_ended() -> None:
    hub = RiderHub(worker_id="w1")
    closed: list[tuple[str, int]] = []
    started, cleaned_up = asyncio.Event(), asyncio.Event()

    async def holds_a_connection() -> None:  # as a status write waiting on Redis would
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.05)  # its cleanup takes a loop turn or two
            cleaned_up.set()

    hub.attach(Connection("r1", "city", "w1:0", close=lambda code, _: closed.append(
        ("r1", code))))
    gone = Connection("r2", "city", "w1:1", close=lambda code, _: closed.append(("r2", code)))
    hub.attach(gone)
    fired: list[str] = []

    async def offline() -> None:
        fired.append("r2")

    hub.detach(gone, 0.05, offline)  # r2 left: its grace timer is pending
    hub.spawn(holds_a_connection())
    await started.wait()
    await hub.close_all(1001, "server shutting down")
    assert cleaned_up.is_set()
    assert closed == [("r1", 1001)]
    await asyncio.sleep(0.1)
    assert fired == []  # the grace timer was cancelled, not run after shutdown
