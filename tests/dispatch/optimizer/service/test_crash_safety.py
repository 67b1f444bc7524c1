"""Crash safety (issue 4): kill -9 of the optimizer mid-batch, kill -9 of an API worker
holding riders' sockets, and Redis restarting empty. Afterwards every order is pending,
offered or assigned exactly once, and dispatch resumes. PostgreSQL and a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select, text

from dispatch.config import Settings
from dispatch.orders.models import OrderRow
from dispatch.redis_server import EmbeddedRedis
from tests.dispatch.optimizer.service.conftest import FAST
from tests.dispatch.optimizer.service.flow import check_exactly_once, eventually
from tests.dispatch.optimizer.service.processes import (
    child_env,
    free_port,
    kill_9,
    spawn,
    stop,
    wait_healthy,
)
from tests.dispatch.optimizer.service.riders import RiderApp, rider_app
from tests.support.accounts import Account, register
from tests.support.orders import World, make_world
from tests.support.server import RunningService, run_service

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres, pytest.mark.slow]

ORDERS = 8
RIDERS = 4
BUDGET_S = 240  # a hung test fails with a traceback of where it hung


@contextlib.asynccontextmanager
async def fleet(url: str, riders: list[Account], *, accept: bool
                ) -> AsyncIterator[list[RiderApp]]:
    """Riders connected to `url`, reporting all the time, accepting offers if `accept`."""
    async with contextlib.AsyncExitStack() as stack:
        apps = [await stack.enter_async_context(rider_app(url, r.token, r.id)) for r in riders]
        tasks = [asyncio.create_task(app.keep_reporting()) for app in apps]
        if accept:
            tasks += [asyncio.create_task(app.accept_everything()) for app in apps]
        try:
            yield apps
        finally:
            for task in tasks:
                task.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=10)
            assert not stuck, f"rider tasks ignored cancellation: {stuck}"


async def setup_world(service: RunningService, client: httpx.AsyncClient
                      ) -> tuple[World, list[Account]]:
    world = await make_world(service, client)
    return world, [world.rider, *[await register(client, "rider") for _ in range(RIDERS - 1)]]


async def waiting_on(service: RunningService, pid: int) -> bool:
    """Whether some database session is blocked by the session with backend `pid`."""
    async with service.services.db() as session:
        return bool((await session.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid})).scalar_one())


async def starts(log: Path, n: int) -> bool:
    """Whether the optimizer log shows at least `n` process starts."""
    return (await asyncio.to_thread(log.read_text)).count("optimizer starting") >= n


async def offered(apps: list[RiderApp]) -> bool:
    """Whether any rider has received an offer frame yet."""
    return any(frame["type"] == "offer" for app in apps for frame in app.seen)


async def all_assigned(service: RunningService, order_ids: list[str]) -> bool:
    found = await check_exactly_once(service.services.db, order_ids)
    return all(state == "assigned" for state in found.values())


async def test_killing_the_optimizer_mid_batch_loses_and_duplicates_nothing(
    redis: Redis, make_settings: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = make_settings(**FAST, optimizer_embedded=False)
    env = child_env(settings, optimizer_embedded="false")
    log = tmp_path / "optimizer.log"
    async with asyncio.timeout(BUDGET_S), run_service(settings) as service, \
            httpx.AsyncClient(base_url=service.http, timeout=30) as client:
        world, riders = await setup_world(service, client)
        order_ids = [await world.order() for _ in range(ORDERS // 2)]
        async with fleet(service.ws, riders, accept=True) as apps:
            # 1. Inside the commit: we hold the orders' row locks, so the optimizer's commit
            # transaction (fence advanced, orders being locked) waits on us; kill it there.
            async with service.services.db.begin() as holder:
                await holder.execute(select(OrderRow.id).where(
                    OrderRow.id.in_(order_ids)).with_for_update())
                pid = (await holder.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                optimizer = await spawn(["optimizer", "--region", "city"], env, log)
                await eventually(lambda: waiting_on(service, pid), timeout_s=60)
                await kill_9(optimizer)
            assert set((await check_exactly_once(service.services.db, order_ids)).values()
                       ) == {"pending_dispatch"}
            # 2. As soon as a batch has pushed offers, before it has finished.
            optimizer = await spawn(["optimizer", "--region", "city"], env, log)
            await eventually(lambda: offered(apps), timeout_s=60, every_s=0.01)
            await kill_9(optimizer)
            await check_exactly_once(service.services.db, order_ids)
            # 3. At random points of a running loop, while new orders keep coming.
            rng = random.Random(4)
            for started in range(3, 7):
                optimizer = await spawn(["optimizer", "--region", "city"], env, log)
                await eventually(lambda n=started: starts(log, n), timeout_s=60)
                order_ids.append(await world.order())
                await asyncio.sleep(rng.uniform(0.0, 1.5))
                await kill_9(optimizer)
                await check_exactly_once(service.services.db, order_ids)
            # Dispatch resumes with the next process: late orders are served too.
            optimizer = await spawn(["optimizer", "--region", "city"], env, log)
            order_ids += [await world.order() for _ in range(2)]
            try:
                await eventually(lambda: all_assigned(service, order_ids), timeout_s=90)
            finally:
                await stop(optimizer)
    assert "batch" in log.read_text()


async def test_killing_an_api_worker_that_holds_riders_sockets_loses_nothing(
    redis: Redis, make_settings: Callable[..., Settings], tmp_path: Path,
) -> None:
    settings = make_settings(**FAST, offer_timeout_s=60)
    port = free_port()
    worker = await spawn(["serve", "--port", str(port)], child_env(settings),
                         tmp_path / "worker.log")
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", worker)
        async with asyncio.timeout(BUDGET_S), run_service(settings) as service, \
                httpx.AsyncClient(base_url=service.http, timeout=30) as client:
            world, riders = await setup_world(service, client)
            doomed_ws = f"ws://127.0.0.1:{port}/v1/riders/stream"
            order_ids = [await world.order() for _ in range(ORDERS)]
            async with fleet(doomed_ws, riders, accept=False) as apps:
                # Offers reach riders through the doomed worker; nobody answers yet.
                await eventually(lambda: offered(apps), timeout_s=60)
                await kill_9(worker)
            await check_exactly_once(service.services.db, order_ids)
            async with fleet(service.ws, riders, accept=True):
                await eventually(lambda: all_assigned(service, order_ids), timeout_s=90)
    finally:
        await stop(worker)


async def test_redis_restarting_empty_loses_nothing_and_dispatch_resumes(
    make_settings: Callable[..., Settings],
) -> None:
    with EmbeddedRedis() as own_redis:
        settings = make_settings(**FAST, redis_url=own_redis.url)
        async with asyncio.timeout(BUDGET_S), run_service(settings) as service, \
                httpx.AsyncClient(base_url=service.http, timeout=30) as client:
            world, riders = await setup_world(service, client)
            async with fleet(service.ws, riders, accept=True) as apps:
                before = [await world.order() for _ in range(ORDERS // 2)]
                await eventually(lambda: offered(apps), timeout_s=60)
                own_redis.restart_empty()
                await check_exactly_once(service.services.db, before)
                after = [await world.order() for _ in range(ORDERS // 2)]
                await eventually(lambda: all_assigned(service, before + after), timeout_s=90)
