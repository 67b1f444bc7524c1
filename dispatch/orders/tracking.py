"""Live order tracking: an order's events as Server-Sent Events, starting with a snapshot.

The subscriber first gets `event: snapshot` (state, rider, live offer, and `event_id`, the
newest event it reflects), then every later state change the outbox relay announces on
the order's channel, each with the outbox `id` as the SSE id (an event may repeat after a
relay restart: de-duplicate by id). The stream ends after a terminal state or after
`timeout_s`; comments keep idle proxies from closing it.

One `OrderEvents` per process holds a single pattern subscription and fans messages out
to the streams open on it, so a thousand followers cost one Redis connection, not a
thousand taken from the pool the live store needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from dispatch.orders.states import TERMINAL
from dispatch.outbox.service import event_channel

Snapshot = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
QUEUE_LIMIT = 256  # a follower this far behind is cut off (it reconnects for a snapshot)


class OrderEvents:
    """The process's one subscription to every order's channel, shared by its followers."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._followers: dict[str, set[asyncio.Queue[str | bytes | None]]] = {}
        self._pump: asyncio.Task[None] | None = None
        self._started = asyncio.Lock()

    async def _start(self) -> None:
        async with self._started:
            if self._pump is None or self._pump.done():
                pubsub = self.redis.pubsub()
                await pubsub.psubscribe(event_channel("order", "*"))
                self._pump = asyncio.create_task(self._forward(pubsub))

    async def _forward(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    self._deliver(str(message["channel"]).rsplit(":", 1)[-1], message["data"])
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    def _deliver(self, order_id: str, data: str | bytes) -> None:
        followers = self._followers.get(order_id, set())
        for queue in list(followers):
            if queue.qsize() >= QUEUE_LIMIT:  # too far behind: end its stream
                followers.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(data)

    @contextlib.asynccontextmanager
    async def follow(self, order_id: str) -> AsyncIterator[asyncio.Queue[str | bytes | None]]:
        """A queue of the order's event messages while the context is open."""
        await self._start()
        queue: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._followers.setdefault(order_id, set()).add(queue)
        try:
            yield queue
        finally:
            followers = self._followers.get(order_id, set())
            followers.discard(queue)
            if not followers:
                self._followers.pop(order_id, None)

    async def close(self) -> None:
        """Stop the subscription (at shutdown)."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    """One Server-Sent Event."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def _event_of(data: str | bytes) -> tuple[str, dict[str, Any], str]:
    fields = orjson.loads(data)
    payload = orjson.loads(fields["payload"])
    return fields["event"], {**payload, "created_at": fields["created_at"]}, fields["id"]


async def order_events(*, events: OrderEvents, order_id: str, snapshot: Snapshot,
                       heartbeat_s: float, timeout_s: float) -> AsyncIterator[bytes]:
    """The SSE byte stream of one order (the caller has checked the subscriber may see it)."""
    deadline = time.monotonic() + timeout_s
    # Follow before the snapshot so that no change falls between the two.
    async with events.follow(order_id) as queue:
        seen_id, first = await snapshot()
        yield sse("snapshot", {**first, "event_id": seen_id})
        if first["state"] in TERMINAL:
            return
        while (left := deadline - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(queue.get(), min(heartbeat_s, left))
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if data is None:  # fell too far behind: end, the client reconnects
                return
            name, payload, event_id = _event_of(data)
            if int(event_id) <= seen_id:  # already reflected in the snapshot
                continue
            yield sse(name, payload, event_id)
            if payload.get("state") in TERMINAL:
                return
