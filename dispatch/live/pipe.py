"""`RespPipe`: one pipelined Redis connection for the live store's hottest call.

Every fix frame ends in the fix script (`APPLY_FIXES`). With riders sending a fix a
second, the writer's batches are small, so what a call costs is paid nearly per frame:
through redis-py (a pooled connection behind locks, retry and timeout wrappers,
observability hooks, nine arguments encoded one by one) a call cost the worker ~410,000
instructions of Python, against ~32,000 per fix it carries (callgrind, one call of one
fix against one of ten). Here a call is one RESP write on one connection that stays
open, and hiredis hands back the replies in the order the calls were sent.

What the redis-py client of `dispatch.live.client` guarantees is kept: a reply that does
not come within the timeout fails its call (and drops the connection: the replies still
due would no longer match their calls); a call that meets a dropped connection is sent
again on a new one, at most `retries` times, which only idempotent commands may allow
(the fix script ignores fixes it already has). A script Redis has forgotten (a restart)
is loaded again.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Sequence
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dispatch.live.client import RETRYABLE_ERRORS

# Timers may fire up to a millisecond early (the event loop's clock resolution).
_TIMER_SLACK_S = 0.001


def pack_command(args: tuple[str | bytes | int, ...]) -> bytes:
    """One command as RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    """One socket to Redis: replies are matched to calls in the order they were sent.

    One timer per connection, not one per call, enforces the timeout: it is set for the
    oldest call still waiting and moved on when that call is answered. (`asyncio.timeout`
    around each call cost ~100,000 instructions, as much as the rest of a call.) A reply
    that has not come `timeout_s` after its call was sent fails that call with a timeout
    and drops the connection, which fails the calls behind it as a lost connection: the
    replies still due would no longer match their calls.
    """

    def __init__(self, timeout_s: float) -> None:
        self.reader = hiredis.Reader(encoding="utf-8")
        self.waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self.sent_at: collections.deque[float] = collections.deque()
        self.timeout_s = timeout_s
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.open = False
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open = True

    def send(self, command: bytes) -> asyncio.Future[Any]:
        assert self.transport is not None
        loop = self.loop
        reply: asyncio.Future[Any] = loop.create_future()
        self.waiting.append(reply)
        self.sent_at.append(loop.time())
        self.transport.write(command)
        if self._watchdog is None:
            self._watchdog = loop.call_at(self.sent_at[0] + self.timeout_s, self._watch)
        return reply

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            waiter = self.waiting.popleft()
            self.sent_at.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def _watch(self) -> None:
        self._watchdog = None
        if not self.waiting:
            return
        deadline = self.sent_at[0] + self.timeout_s
        if self.loop.time() < deadline - _TIMER_SLACK_S:
            self._watchdog = self.loop.call_at(deadline, self._watch)
            return
        waiter = self.waiting.popleft()
        self.sent_at.popleft()
        if not waiter.done():
            waiter.set_exception(
                RedisTimeoutError(f"no reply from Redis within {self.timeout_s} s"))
        self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self.sent_at.clear()
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(RedisConnectionError(f"connection to Redis lost: {exc}"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.connection_lost(ConnectionAbortedError("closed by this side"))


class RespPipe:
    """A pipelined connection to the Redis a redis-py client talks to (see the module)."""

    def __init__(self, connection_kwargs: dict[str, Any], *, timeout_s: float,
                 retries: int = 2) -> None:
        self._kwargs = connection_kwargs
        self.timeout_s = timeout_s
        self.retries = retries
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()
        self._closed = False

    @classmethod
    def for_client(cls, redis: Redis, *, timeout_s: float, retries: int = 2) -> RespPipe | None:
        """A pipe to `redis`'s server, or None where its connections are not plain TCP or
        unix sockets (TLS, say: the caller then keeps using redis-py)."""
        pool = redis.connection_pool
        if pool.connection_class not in (Connection, UnixDomainSocketConnection):
            return None
        return cls(dict(pool.connection_kwargs), timeout_s=timeout_s, retries=retries)

    async def call(self, *args: str | bytes | int, failed: int = 0) -> Any:
        """Send one command and return its reply; Redis's error replies are raised as
        redis-py's exceptions. `failed` counts attempts already made elsewhere (`send_now`),
        which use up the retries."""
        command = pack_command(args)
        for attempt in range(failed, self.retries + 1):
            if attempt:
                await asyncio.sleep(min(0.5, 0.02 * 2 ** (attempt - 1)))
            try:
                return unwrap_reply(await self._send(command))
            except RETRYABLE_ERRORS:
                if attempt == self.retries or self._closed:
                    raise
        raise RedisConnectionError(f"no attempt left after {failed} failed")

    def may_retry(self, *, failed: int) -> bool:
        """Whether a call that failed `failed` times may be sent again."""
        return failed <= self.retries and not self._closed

    def send_now(self, *args: str | bytes | int) -> asyncio.Future[Any] | None:
        """Send one command at once on the open connection, without a coroutine: the future
        gets the raw reply (pass it to `unwrap_reply`), or the error that lost the
        connection or timed the call out. None where no connection is open: use `call`."""
        connection = self._connection
        if connection is None or not connection.open:
            return None
        return connection.send(pack_command(args))

    async def evalsha(self, sha: str, script: str, keys: Sequence[str],
                      args: Sequence[str | bytes | int], *, failed: int = 0) -> Any:
        """Run a script by its digest, loading it first if Redis does not have it."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args, failed=failed)
        except NoScriptError:
            await self.call("SCRIPT", "LOAD", script)
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    async def aclose(self) -> None:
        """Close the connection; calls waiting for replies fail."""
        self._closed = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _send(self, command: bytes) -> Any:
        connection = self._connection
        if connection is None or not connection.open:
            connection = await self._connect()
        return await connection.send(command)

    async def _connect(self) -> _Connection:
        async with self._connecting:
            if self._closed:
                raise RedisConnectionError("the pipe to Redis is closed")
            if self._connection is not None and self._connection.open:
                return self._connection
            loop = asyncio.get_running_loop()
            kwargs = self._kwargs
            try:
                async with asyncio.timeout(self.timeout_s):
                    if kwargs.get("path"):
                        _, connection = await loop.create_unix_connection(
                            lambda: _Connection(self.timeout_s), kwargs["path"])
                    else:
                        _, connection = await loop.create_connection(
                            lambda: _Connection(self.timeout_s), kwargs.get("host", "localhost"),
                            kwargs.get("port", 6379))
                    await _introduce(connection, kwargs)
            except (OSError, TimeoutError) as exc:
                raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
            self._connection = connection
            return connection


async def _introduce(connection: _Connection, kwargs: dict[str, Any]) -> None:
    """AUTH and SELECT as the redis-py client's connections do; the connection is closed
    if Redis refuses either."""
    try:
        if kwargs.get("password"):
            credentials = ((kwargs["username"], kwargs["password"]) if kwargs.get("username")
                           else (kwargs["password"],))
            unwrap_reply(await connection.send(pack_command(("AUTH", *credentials))))
        if kwargs.get("db"):
            unwrap_reply(await connection.send(pack_command(("SELECT", kwargs["db"]))))
    except BaseException:
        connection.close()
        raise


def unwrap_reply(reply: Any) -> Any:
    """A reply as `call` returns it: Redis's error replies raised as redis-py's exceptions."""
    if isinstance(reply, hiredis.ReplyError):
        message = str(reply)
        if message.startswith("NOSCRIPT"):
            raise NoScriptError(message)
        raise ResponseError(message)
    return reply
