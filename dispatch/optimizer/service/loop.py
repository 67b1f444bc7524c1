"""`RegionLoop`: one region's batch every `interval_s`, while this process holds its lease.

A batch: hold the lease (renew, or acquire and register a new fencing token), sweep
offers that can no longer be answered, read the pool and the candidate riders, solve off
the event loop, commit the plan fenced by the token, push the offers to riders, and
record the batch's metrics and one structured log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dispatch.background import reraise_swallowed_cancellation
from dispatch.db.base import utcnow
from dispatch.errors import DispatchError
from dispatch.live.store import LiveStore
from dispatch.metrics import BatchMetrics
from dispatch.optimizer.core import BatchMemo, Plan, solve_batch
from dispatch.optimizer.service import fences, notify, queries
from dispatch.optimizer.service.answers import offer_frame
from dispatch.optimizer.service.commit import commit_plan
from dispatch.optimizer.service.inputs import BatchInput, gather_input
from dispatch.optimizer.service.lease import RegionLease
from dispatch.optimizer.service.params import LoopParams
from dispatch.optimizer.service.report import BatchReport, record
from dispatch.optimizer.service.sweep import sweep
from dispatch.optimizer.service.tally import AnswerTally

log = logging.getLogger(__name__)

FAILURES = (RedisError, SQLAlchemyError, OSError, DispatchError, TimeoutError)


@dataclass(frozen=True)
class LoopDeps:
    """What every region loop of a process shares."""

    db: queries.Db
    redis: Redis
    store: LiveStore
    metrics: BatchMetrics
    owner: str  # this process's name in the leases


class RegionLoop:
    """Batches one region while holding its lease."""

    def __init__(self, deps: LoopDeps, region: str, params: LoopParams) -> None:
        self.deps = deps
        self.region = region
        self.params = params
        self.lease = RegionLease(deps.redis, region, owner=deps.owner, ttl_s=params.lease_ttl_s)
        self.tally = AnswerTally(since=utcnow())
        # This region's batches only: bundles of orders still pending are not rebuilt. A
        # solve that outlived its timeout still holds it; the next one then goes without.
        self.memo = BatchMemo()

    async def hold(self) -> int | None:
        """Our fencing token if we hold (or just took) the region's lease; None if not."""
        if await self.lease.renew():
            return self.lease.token
        floor = await fences.stored_token(db=self.deps.db, region=self.region)
        token = await self.lease.acquire(floor=floor)
        if token is not None and not await fences.register_token(
                db=self.deps.db, region=self.region, token=token):
            await self.lease.release()
            token = None
        if token is not None:
            log.info("optimizer lease taken", extra={"region": self.region, "token": token})
            self.tally.restart(utcnow())  # answers before this were the previous holder's
        return token

    async def run_once(self) -> BatchReport | None:
        """One batch, if we hold the lease; its report."""
        token = await self.hold()
        self.deps.metrics.has_lease.labels(self.region).set(1 if token is not None else 0)
        if token is None:
            return None
        started = time.perf_counter()
        db, store, params = self.deps.db, self.deps.store, self.params
        swept = await sweep(db=db, store=store, region=self.region,
                            stale_after_s=params.stale_after_s)
        batch = await gather_input(db=db, store=store, region=self.region, params=params)
        plan = await self._solve(batch) if batch.orders and batch.riders else None
        offers = [] if plan is None else await commit_plan(
            db=db, store=store, region=self.region, token=token, plan=plan, params=params)
        await notify.publish(self.deps.redis, self.region, (
            (offer.rider_id, offer_frame(offer, batch.pool[offer.order_id])) for offer in offers))
        now = utcnow()
        outcomes = self.tally.count(await queries.answers(
            db=db, region=self.region, since=self.tally.window_start(now)), now)
        report = BatchReport.of(region=self.region, token=token, batch=batch, plan=plan,
                                offers=len(offers), outcomes=outcomes, swept=swept,
                                total_s=time.perf_counter() - started)
        record(self.deps.metrics, report)
        return report

    async def _solve(self, batch: BatchInput) -> Plan:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the solve finishes, and the loop would then outlive its shutdown.
        async with asyncio.timeout(self.params.solve_timeout_s):
            return await asyncio.to_thread(solve_batch, batch.orders, batch.riders,
                                           self.params.batch, now_s=batch.now_s, memo=self.memo)

    async def run(self) -> None:
        """Batch every `interval_s` until cancelled; then give the lease up."""
        try:
            while True:
                started = time.monotonic()
                await self._guarded_once()
                reraise_swallowed_cancellation()  # run_regions' TaskGroup cancels us once
                elapsed = time.monotonic() - started
                await asyncio.sleep(max(0.0, self.params.interval_s - elapsed))
        finally:
            with contextlib.suppress(*FAILURES):
                async with asyncio.timeout(1.0):
                    await self.lease.release()
            self.deps.metrics.has_lease.labels(self.region).set(0)

    async def _guarded_once(self) -> None:
        try:
            await self.run_once()
        except fences.StaleFence as exc:
            log.warning("optimizer fenced out; dropping the lease",
                        extra={"region": self.region, "error": exc.message})
            self.deps.metrics.batches.labels(self.region, "stale_fence").inc()
            await self.lease.release()
        except FAILURES as exc:
            log.warning("batch failed", extra={"region": self.region, "error": repr(exc)})
            self.deps.metrics.batches.labels(self.region, "failed").inc()
        except Exception:  # a bug: said loudly, and the next batches still run
            log.exception("batch crashed", extra={"region": self.region})
            self.deps.metrics.batches.labels(self.region, "crashed").inc()


async def run_regions(deps: LoopDeps, regions: list[str], params: LoopParams) -> None:
    """Run one loop per region until cancelled."""
    log.info("optimizer starting", extra={"regions": regions, "owner": deps.owner})
    async with asyncio.TaskGroup() as group:
        for region in regions:
            group.create_task(RegionLoop(deps, region, params).run())
