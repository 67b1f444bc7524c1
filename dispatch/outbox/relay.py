"""The background loop: relay the outbox, expire offers, settle payment calls, purge keys."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.errors import DispatchError
from dispatch.idempotency import service as idempotency
from dispatch.live.pipe import RespPipe
from dispatch.orders import offers
from dispatch.outbox.service import relay_once
from dispatch.payments import service as payments
from dispatch.payments.provider import PaymentProvider

log = logging.getLogger(__name__)
HOUSEKEEPING_S = 5.0


@dataclass(frozen=True)
class RelayParams:
    """What the loop works on and how often."""

    db: async_sessionmaker[AsyncSession]
    redis: Redis
    provider: PaymentProvider
    stream: str
    batch: int
    maxlen: int
    poll_s: float
    pipe: RespPipe | None = None  # carries the publish script call, if given (see relay_once)


async def _housekeeping(params: RelayParams) -> None:
    await offers.expire_offers(db=params.db)
    await payments.settle_incomplete(db=params.db, provider=params.provider, older_than_s=60)
    async with params.db.begin() as session:
        await idempotency.purge_expired(session)


async def run_relay(params: RelayParams) -> None:
    """Run until cancelled; failures are logged and retried on the next tick."""
    next_housekeeping = time.monotonic() + HOUSEKEEPING_S
    while True:
        try:
            while await relay_once(db=params.db, redis=params.redis, stream=params.stream,
                                   batch=params.batch, maxlen=params.maxlen,
                                   pipe=params.pipe) == params.batch:
                pass
            if time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + HOUSEKEEPING_S
                await _housekeeping(params)
        except (RedisError, SQLAlchemyError, DispatchError, OSError) as exc:
            log.warning("outbox relay pass failed", extra={"error": str(exc)})
        await asyncio.sleep(params.poll_s)
