"""Live order tracking: an order's events as Server-Sent Events, starting with a snapshot.

The subscriber first gets `event: snapshot` (state, rider, live offer, and `event_id`, the
newest event it reflects), then every later state change the outbox relay announces on
the order's channel, each with the outbox `id` as the SSE id (an event may repeat after a
relay restart: de-duplicate by id). The stream
ends after a terminal state or after `timeout_s`; comments keep idle proxies from
closing it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis

from dispatch.orders.states import TERMINAL
from dispatch.outbox.service import event_channel

Snapshot = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    """One Server-Sent Event."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def _event_of(message: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    fields = orjson.loads(message["data"])
    payload = orjson.loads(fields["payload"])
    return fields["event"], {**payload, "created_at": fields["created_at"]}, fields["id"]


async def order_events(*, redis: Redis, order_id: str, snapshot: Snapshot,
                       heartbeat_s: float, timeout_s: float) -> AsyncIterator[bytes]:
    """The SSE byte stream of one order (the caller has checked the subscriber may see it)."""
    deadline = time.monotonic() + timeout_s
    pubsub = redis.pubsub()
    try:
        # Subscribe before the snapshot so that no change falls between the two.
        await pubsub.subscribe(event_channel("order", order_id))
        seen_id, first = await snapshot()
        yield sse("snapshot", {**first, "event_id": seen_id})
        if first["state"] in TERMINAL:
            return
        while (left := deadline - time.monotonic()) > 0:
            message = await pubsub.get_message(ignore_subscribe_messages=True,
                                               timeout=min(heartbeat_s, left))
            if message is None:
                yield b": keep-alive\n\n"
                continue
            name, data, event_id = _event_of(message)
            if int(event_id) <= seen_id:  # already reflected in the snapshot
                continue
            yield sse(name, data, event_id)
            if data.get("state") in TERMINAL:
                return
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
