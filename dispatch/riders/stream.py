"""The rider location websocket: authenticate with a `hello` frame, then feed a `RiderSession`.

Served as plain ASGI by `dispatch.riders.gateway`, below FastAPI's routing, to keep
each connection small and each frame cheap. The protocol is in docs/rider-stream.md.
"""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import RedisError

from dispatch.errors import DispatchError, NotAuthenticated
from dispatch.live.models import RiderStatus
from dispatch.live.store import now_ms
from dispatch.riders import protocol as p
from dispatch.riders.channel import Disconnected, WsChannel
from dispatch.riders.hub import Connection
from dispatch.riders.ratelimit import FloodGuard, TokenBucket
from dispatch.riders.session import RiderSession, SessionLimits
from dispatch.services import Services

log = logging.getLogger(__name__)

STREAM_PATH = "/v1/riders/stream"


class StreamClosed(Exception):
    """Close the connection with this websocket close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _hello(channel: WsChannel, services: Services) -> tuple[str, str]:
    """Wait for the `hello` frame and verify its token; return (rider_id, region)."""
    try:
        data = await asyncio.wait_for(channel.receive(), services.settings.auth_timeout_s)
    except TimeoutError:
        raise StreamClosed(p.CLOSE_AUTH_TIMEOUT, "no hello frame in time") from None
    try:
        obj = p.decode_frame(data)
        if obj["type"] != "hello" or not isinstance(obj.get("token"), str):
            raise NotAuthenticated("the first frame must be hello with a token")
        principal = services.signer.verify(obj["token"])
    except DispatchError as err:
        raise StreamClosed(p.CLOSE_UNAUTHORIZED, err.message[:120]) from None
    if principal.role != "rider" or not principal.region:
        raise StreamClosed(p.CLOSE_UNAUTHORIZED, "not a rider token with a region")
    return principal.subject, principal.region


async def _close(channel: WsChannel, services: Services, code: int, reason: str) -> None:
    if not channel.closed:
        services.metrics.stream_closes.labels(str(code)).inc()
    await channel.close(code, reason)


async def serve_rider_stream(channel: WsChannel, services: Services) -> None:
    """Run one rider connection from handshake to close."""
    try:
        await channel.accept()
        rider_id, region = await _hello(channel, services)
    except StreamClosed as closed:
        await _close(channel, services, closed.code, closed.reason)
        return
    except Disconnected:
        return
    await _serve(channel, services, rider_id, region)


async def _serve(channel: WsChannel, services: Services, rider_id: str, region: str) -> None:
    settings = services.settings
    hub = services.hub
    connection = Connection(
        rider_id=rider_id, region=region, conn_id=hub.new_conn_id(),
        close=lambda code, reason: _close(channel, services, code, reason),
    )
    previous = hub.attach(connection)
    if previous is not None:
        await previous.close(p.CLOSE_REPLACED, "replaced by a newer connection")
    services.metrics.riders_connected.inc()
    try:
        last_seq = await services.store.attach(region, rider_id, connection.conn_id)
        session = _session(services, connection)
        await channel.send(p.frame(
            "welcome", rider_id=rider_id, region=region, conn=connection.conn_id,
            last_seq=last_seq, server_ts=now_ms(),
            limits={"max_fixes_per_batch": settings.max_fixes_per_batch,
                    "max_frame_bytes": settings.max_frame_bytes,
                    "frames_per_s": settings.rate_frames_per_s,
                    "burst_frames": settings.rate_burst_frames},
        ))
        await _pump(channel, session)
        await _close(channel, services, p.CLOSE_POLICY, "rate limit exceeded")
    except Disconnected:
        pass  # the rider went away; the grace timer below decides when it is offline
    except (RedisError, OSError) as exc:
        log.warning("rider stream lost the store", extra={"rider": rider_id, "error": str(exc)})
        await _close(channel, services, p.CLOSE_INTERNAL, "store unavailable; reconnect")
    finally:
        services.metrics.riders_connected.dec()
        hub.detach(connection, settings.offline_grace_s, lambda: services.store.set_status(
            region, rider_id, RiderStatus.OFFLINE, only_conn=connection.conn_id
        ))


def _session(services: Services, connection: Connection) -> RiderSession:
    settings = services.settings
    return RiderSession(
        rider_id=connection.rider_id, region=connection.region, conn_id=connection.conn_id,
        store=services.store, writer=services.writer, metrics=services.metrics,
        limits=SessionLimits(
            fixes=p.FixLimits(max_future_ms=int(settings.max_future_skew_s * 1000),
                              max_age_ms=int(settings.max_fix_age_s * 1000)),
            max_fixes_per_batch=settings.max_fixes_per_batch,
        ),
        guard=FloodGuard(TokenBucket(settings.rate_frames_per_s, settings.rate_burst_frames),
                         settings.rate_max_violations),
    )


async def _pump(channel: WsChannel, session: RiderSession) -> None:
    """Receive frames and send replies until the peer leaves or the session must close."""
    receive = channel.receive
    send = channel.send
    while session.close_code is None:
        for reply in await session.handle(await receive()):
            await send(reply)
