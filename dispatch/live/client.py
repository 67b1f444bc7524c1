"""The Redis client the service uses: timeouts on every call, one retry across a reconnect."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Errors after which a command may be sent again on a new connection.
RETRYABLE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionResetError)


def connect_redis(url: str, *, timeout_s: float, max_connections: int = 64) -> Redis:
    """A client for `url` over a bounded pool; commands that hit a dropped connection are
    retried twice.

    Every script and command the live store sends is idempotent (older and duplicate
    fixes are ignored), so a retry after a reconnect can never apply anything twice.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        max_connections=max_connections,
        timeout=timeout_s,  # wait this long for a free connection rather than fail at once
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.02), retries=2),
        retry_on_error=list(RETRYABLE_ERRORS),
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() disconnects it
