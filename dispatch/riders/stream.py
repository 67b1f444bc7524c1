"""The rider location websocket endpoint: authenticate, then feed frames to a `RiderSession`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from fastapi import APIRouter, WebSocket
from redis.exceptions import RedisError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from dispatch.errors import DispatchError, NotAuthenticated
from dispatch.live.models import RiderStatus
from dispatch.live.store import now_ms
from dispatch.riders import protocol as p
from dispatch.riders.hub import Connection
from dispatch.riders.ratelimit import FloodGuard, TokenBucket
from dispatch.riders.session import RiderSession, SessionLimits

if TYPE_CHECKING:
    from dispatch.services import Services

log = logging.getLogger(__name__)
router = APIRouter()


class StreamClosed(Exception):
    """Close the connection with this websocket close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _hello(websocket: WebSocket, services: Services) -> tuple[str, str]:
    """Wait for the `hello` frame and verify its token; return (rider_id, region)."""
    timeout = services.settings.auth_timeout_s
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout)
    except TimeoutError:
        raise StreamClosed(p.CLOSE_AUTH_TIMEOUT, "no hello frame in time") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    try:
        obj = p.decode_frame(message.get("text") or message.get("bytes") or b"")
        if obj["type"] != "hello" or not isinstance(obj.get("token"), str):
            raise NotAuthenticated("the first frame must be hello with a token")
        principal = services.signer.verify(obj["token"])
    except DispatchError as err:
        raise StreamClosed(p.CLOSE_UNAUTHORIZED, err.message[:120]) from None
    if principal.role != "rider" or not principal.region:
        raise StreamClosed(p.CLOSE_UNAUTHORIZED, "not a rider token with a region")
    return principal.subject, principal.region


async def _close(websocket: WebSocket, services: Services, code: int, reason: str) -> None:
    services.metrics.stream_closes.labels(str(code)).inc()
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close(code, reason)  # may fail if the peer is already gone


@router.websocket("/v1/riders/stream")
async def rider_stream(websocket: WebSocket) -> None:
    """Riders' location stream; the protocol is documented in docs/rider-stream.md."""
    services: Services = websocket.app.state.services
    await websocket.accept()
    try:
        rider_id, region = await _hello(websocket, services)
    except StreamClosed as closed:
        await _close(websocket, services, closed.code, closed.reason)
        return
    except WebSocketDisconnect:
        return
    await _serve(websocket, services, rider_id, region)


async def _serve(websocket: WebSocket, services: Services, rider_id: str, region: str) -> None:
    settings = services.settings
    hub = services.hub
    connection = Connection(
        rider_id=rider_id, region=region, conn_id=hub.new_conn_id(),
        close=lambda code, reason: _close(websocket, services, code, reason),
    )
    previous = hub.attach(connection)
    if previous is not None:
        await previous.close(p.CLOSE_REPLACED, "replaced by a newer connection")
    services.metrics.riders_connected.inc()
    try:
        last_seq = await services.store.attach(region, rider_id, connection.conn_id)
        session = _session(services, connection)
        await websocket.send_text(p.frame(
            "welcome", rider_id=rider_id, region=region, conn=connection.conn_id,
            last_seq=last_seq, server_ts=now_ms(),
            limits={"max_fixes_per_batch": settings.max_fixes_per_batch,
                    "max_frame_bytes": settings.max_frame_bytes,
                    "frames_per_s": settings.rate_frames_per_s,
                    "burst_frames": settings.rate_burst_frames},
        ).decode())
        await _pump(websocket, session)
        if session.close_code is not None:
            await _close(websocket, services, session.close_code, "rate limit exceeded")
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the peer went away mid-send
    except RedisError as exc:
        log.warning("rider stream lost the store", extra={"rider": rider_id, "error": str(exc)})
        await _close(websocket, services, p.CLOSE_INTERNAL, "store unavailable; reconnect")
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


async def _pump(websocket: WebSocket, session: RiderSession) -> None:
    """Receive frames and send replies until the peer leaves or the session must close."""
    receive = websocket.receive
    send = websocket.send_text
    while session.close_code is None:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("text")
        for reply in await session.handle(data if data is not None else message.get("bytes", b"")):
            await send(reply.decode())
