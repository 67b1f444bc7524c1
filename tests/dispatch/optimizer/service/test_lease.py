"""The region lease and its fencing token: one owner at a time, and a stale token commits
nothing; a crashing batch does not end its loop (real redis-server, real database)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from dispatch.background import stop_tasks
from dispatch.live.store import LiveStore
from dispatch.metrics import Metrics
from dispatch.optimizer.service import fences
from dispatch.optimizer.service.lease import RegionLease
from dispatch.optimizer.service.loop import LoopDeps, RegionLoop
from dispatch.optimizer.service.params import LoopParams
from dispatch.optimizer.service.report import BatchReport
from dispatch.orders.models import OfferIn, OfferRow, OrderRow
from dispatch.orders.offers import Db, record_offers
from dispatch.users.models import UserRow

pytestmark = pytest.mark.asyncio


async def seed_order(db: Db) -> str:
    """A rider account and one order waiting in the pool; the order's id."""
    now = dt.datetime.now(dt.UTC)
    async with db.begin() as session:
        session.add(UserRow(id="usr_r", email="r@x", password_hash="-", role="rider",
                            region="city", active=True, created_at=now))
        session.add(OrderRow(
            id="ord_1", customer_id="usr_c", merchant_id="usr_m", region="city",
            state="pending_dispatch", pickup_lat=52.52, pickup_lng=13.405, dropoff_lat=52.51,
            dropoff_lng=13.39, items=[{"name": "x", "quantity": 1}], amount_minor=100,
            currency="EUR", ready_at=now, promised_at=now, rider_id=None, created_at=now,
            updated_at=now))
    return "ord_1"


async def take(redis: Redis, db: Db, owner: str, ttl_s: float = 5.0) -> RegionLease:
    """What a batch loop does to start: acquire above the stored floor, register."""
    lease = RegionLease(redis, "city", owner=owner, ttl_s=ttl_s)
    token = await lease.acquire(floor=await fences.stored_token(db=db, region="city"))
    assert token is not None
    assert await fences.register_token(db=db, region="city", token=token)
    return lease


async def commit(db: Db, token: int, order_id: str) -> list[OfferRow]:
    async def guard(session: fences.AsyncSession) -> None:
        await fences.advance(session, region="city", token=token)

    return await record_offers(db=db, batch=[OfferIn(order_id=order_id, rider_id="usr_r")],
                               rider_capacity=3, guard=guard)


async def test_only_one_owner_holds_a_region_at_a_time(redis: Redis) -> None:
    a = RegionLease(redis, "city", owner="a", ttl_s=5)
    b = RegionLease(redis, "city", owner="b", ttl_s=5)
    assert await a.acquire(floor=0) == 1
    assert await b.acquire(floor=0) is None
    assert await a.renew() and not await b.renew()
    assert await a.acquire(floor=0) == 1  # the holder keeps its token
    assert await RegionLease(redis, "elsewhere", owner="b", ttl_s=5).acquire(floor=0) == 1


async def test_a_lapsed_lease_passes_on_with_a_higher_token_and_the_old_owner_knows(
    redis: Redis,
) -> None:
    a = RegionLease(redis, "city", owner="a", ttl_s=0.2)
    b = RegionLease(redis, "city", owner="b", ttl_s=5)
    assert await a.acquire(floor=0) == 1
    await asyncio.sleep(0.3)
    assert await b.acquire(floor=0) == 2
    assert not await a.renew() and a.token is None
    await a.release()  # releasing a lease we lost leaves the new owner's alone
    assert await b.renew()


async def test_a_released_lease_is_free_at_once(redis: Redis) -> None:
    a = RegionLease(redis, "city", owner="a", ttl_s=60)
    await a.acquire(floor=0)
    await a.release()
    assert await RegionLease(redis, "city", owner="b", ttl_s=60).acquire(floor=0) == 2


async def test_a_paused_optimizer_cannot_commit_after_another_took_the_region(
    redis: Redis, db: Db,
) -> None:
    order_id = await seed_order(db)
    paused = await take(redis, db, "paused", ttl_s=0.2)
    stale_token = paused.token
    assert stale_token is not None
    await asyncio.sleep(0.3)  # the paused one's lease lapses; another takes the region
    fresh = await take(redis, db, "fresh")
    with pytest.raises(fences.StaleFence):  # even before the new owner committed anything
        await commit(db, stale_token, order_id)
    async with db() as session:
        assert (await session.get(OrderRow, order_id)).state == "pending_dispatch"
        assert list((await session.execute(select(OfferRow))).scalars()) == []
    assert fresh.token is not None
    [offer] = await commit(db, fresh.token, order_id)
    assert offer.state == "pending"


async def test_two_commits_racing_with_old_and_new_tokens_let_only_the_new_one_in(
    redis: Redis, db: Db,
) -> None:
    order_id = await seed_order(db)
    old = await take(redis, db, "old", ttl_s=0.2)
    old_token = old.token
    await asyncio.sleep(0.3)
    new = await take(redis, db, "new")
    assert old_token is not None and new.token is not None
    results = await asyncio.gather(commit(db, old_token, order_id),
                                   commit(db, new.token, order_id), return_exceptions=True)
    assert isinstance(results[0], fences.StaleFence)
    assert [offer.order_id for offer in results[1]] == [order_id]  # type: ignore[union-attr]


async def test_tokens_keep_growing_when_redis_restarts_empty(redis: Redis, db: Db) -> None:
    before = await take(redis, db, "before")
    old_token = before.token
    assert old_token is not None
    await redis.flushall()  # the counter and the lease are gone
    after = await take(redis, db, "after")
    assert after.token is not None and after.token > old_token
    assert not await before.renew()
    with pytest.raises(fences.StaleFence):
        await commit(db, old_token, await seed_order(db))


class CrashingLoop(RegionLoop):
    """A region loop whose batch hits a bug (the solver raising something unexpected)."""

    async def run_once(self) -> BatchReport | None:
        raise AttributeError("a bug in the solver")


async def test_a_batch_that_crashes_is_counted_and_the_loop_goes_on(
    redis: Redis, db: Db,
) -> None:
    metrics = Metrics()
    deps = LoopDeps(db=db, redis=redis, store=LiveStore(redis), metrics=metrics.batch,
                    owner="w1")
    loop = CrashingLoop(deps, "city", LoopParams(interval_s=0.05, lease_ttl_s=1.0))
    task = asyncio.create_task(loop.run())
    try:
        while (metrics.registry.get_sample_value(
                "dispatch_batches_total", {"region": "city", "result": "crashed"}) or 0) < 3:
            assert not task.done(), "the loop died with the batch"
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class SwallowingLoop(RegionLoop):
    """A region loop whose batch is inside a library call that swallows a cancellation (as
    `asyncio.wait_for` on Python 3.11 does when its call completes at that instant)."""

    swallowed = 0

    async def run_once(self) -> BatchReport | None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.swallowed += 1
        return None


async def test_a_loop_whose_batch_swallowed_the_cancellation_still_stops(
    redis: Redis, db: Db,
) -> None:
    # The loops run in a TaskGroup, which cancels them once: stopping it must not hang.
    deps = LoopDeps(db=db, redis=redis, store=LiveStore(redis), metrics=Metrics().batch,
                    owner="w1")
    loop = SwallowingLoop(deps, "city", LoopParams(interval_s=0.05, lease_ttl_s=1.0))

    async def regions() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(loop.run())

    task = asyncio.create_task(regions())
    await asyncio.sleep(0.2)
    async with asyncio.timeout(10):
        await stop_tasks([task])
    assert loop.swallowed == 1 and task.done()
