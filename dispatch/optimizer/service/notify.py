"""Pushing frames to riders through Redis pub/sub, whichever API worker holds their socket.

The optimizer publishes `<rider_id>\\n<frame>` on its region's channel; every API worker
pattern-subscribes to all regions' channels and hands each message to the rider's socket
if it holds it. Pub/sub is fire-and-forget: a rider who was between sockets gets its
pending offers again when it reconnects (`answers.pending_offer_frames`), and an offer
nobody answers expires and returns to the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from dispatch.live.keys import RegionKeys
from dispatch.riders.hub import RiderHub

log = logging.getLogger(__name__)

CHANNEL_PATTERN = "d:{*}:riders:msgs"
RETRY_S = 0.5


def channel(region: str) -> str:
    """The pub/sub channel of frames for riders of a region."""
    return f"{RegionKeys(region).tag}:riders:msgs"


async def publish(redis: Redis, region: str, messages: Iterable[tuple[str, bytes]]) -> int:
    """Publish frames to riders of a region; how many were sent."""
    sent = 0
    async with redis.pipeline(transaction=False) as pipe:
        for rider_id, frame in messages:
            pipe.publish(channel(region), rider_id.encode() + b"\n" + frame)
            sent += 1
        if sent:
            await pipe.execute()
    return sent


def deliver(hub: RiderHub, data: str | bytes) -> bool:
    """Send one published message to its rider if this worker holds the socket."""
    raw = data.encode() if isinstance(data, str) else data
    rider_id, _, frame = raw.partition(b"\n")
    connection = hub.get(rider_id.decode())
    if connection is None or connection.send is None or not frame:
        return False
    connection.send(frame)
    return True


async def _listen(pubsub: PubSub, hub: RiderHub) -> None:
    await pubsub.psubscribe(CHANNEL_PATTERN)
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if message is not None and message.get("type") == "pmessage":
            deliver(hub, message["data"])


async def run_listener(redis: Redis, hub: RiderHub) -> None:
    """Deliver published rider frames to this worker's sockets until cancelled."""
    while True:
        pubsub = redis.pubsub()
        try:
            await _listen(pubsub, hub)
        except (RedisError, OSError) as exc:
            log.warning("rider message subscription lost; resubscribing",
                        extra={"error": str(exc)})
        finally:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(1.0):  # shutdown must not wait on a dead Redis
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
        await asyncio.sleep(RETRY_S)
