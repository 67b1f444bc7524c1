"""An idempotent consumer of the event stream: consumer groups, acknowledgement, dedup.

Delivery is at least once (the relay may publish an event twice, and a consumer that dies
before acknowledging gets it again), so each group remembers the event ids it has handled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

Handler = Callable[[dict[str, str]], Awaitable[None]]


class StreamConsumer:
    """One consumer in a group; `poll` handles a batch and acknowledges it."""

    def __init__(self, redis: Redis, *, stream: str, group: str, name: str,
                 seen_ttl_s: int = 7 * 86_400) -> None:
        self.redis, self.stream, self.group, self.name = redis, stream, group, name
        self.seen_ttl_s = seen_ttl_s

    async def ensure_group(self) -> None:
        """Create the group (from the stream's start) if it does not exist."""
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def poll(self, handler: Handler, *, count: int = 100, block_ms: int = 1000) -> int:
        """Handle new and abandoned entries once each per event id; how many were handled."""
        claimed_reply: Any = await self.redis.xautoclaim(
            self.stream, self.group, self.name, min_idle_time=30_000, count=count)
        claimed = claimed_reply[1]
        reply: Any = await self.redis.xreadgroup(self.group, self.name, {self.stream: ">"},
                                                 count=count, block=block_ms)
        entries = list(claimed) + [entry for _, batch in reply or [] for entry in batch]
        handled = 0
        for entry_id, fields in entries:
            seen = f"{self.stream}:{self.group}:seen:{fields['id']}"
            if not await self.redis.exists(seen):
                await handler(fields)
                handled += 1
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(seen, 1, ex=self.seen_ttl_s)
                pipe.xack(self.stream, self.group, entry_id)
                await pipe.execute()
        return handled
