"""Opening a rider stream session: verify the `hello` token, register the connection, welcome.

The transport that calls this is `dispatch.riders.fastpath`; the protocol is
documented in docs/rider-stream.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from dispatch.auth.tokens import TokenSigner
from dispatch.errors import DispatchError, NotAuthenticated
from dispatch.live.models import RiderStatus
from dispatch.live.store import now_ms
from dispatch.optimizer.service.answers import answer_offer, pending_offer_frames
from dispatch.riders import protocol as p
from dispatch.riders.hub import Connection
from dispatch.riders.ratelimit import FloodGuard, TokenBucket
from dispatch.riders.session import RiderSession, Send, SessionDeps, SessionLimits
from dispatch.services import Services

STREAM_PATH = "/v1/riders/stream"


class StreamClosed(Exception):
    """Close the connection with this websocket close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def authenticate(data: bytes, signer: TokenSigner) -> tuple[str, str]:
    """The (rider_id, region) of a `hello` frame's token, or `StreamClosed` with 4401."""
    try:
        obj = p.decode_frame(data)
        if obj["type"] != "hello" or not isinstance(obj.get("token"), str):
            raise NotAuthenticated("the first frame must be hello with a token")
        principal = signer.verify(obj["token"])
    except DispatchError as err:
        raise StreamClosed(p.CLOSE_UNAUTHORIZED, err.message[:120]) from None
    if principal.role != "rider" or not principal.region:
        raise StreamClosed(p.CLOSE_UNAUTHORIZED, "not a rider token with a region")
    return principal.subject, principal.region


def session_deps(services: Services) -> SessionDeps:
    """What all sessions of this worker share, built once."""
    settings = services.settings
    return SessionDeps(
        store=services.store, writer=services.writer, metrics=services.metrics,
        limits=SessionLimits(
            fixes=p.FixLimits(max_future_ms=int(settings.max_future_skew_s * 1000),
                              max_age_ms=int(settings.max_fix_age_s * 1000)),
            max_fixes_per_batch=settings.max_fixes_per_batch,
        ),
        answer=functools.partial(_answer, services),
    )


async def _answer(services: Services, rider_id: str, region: str, order_id: str,
                  accept: bool) -> bytes:
    return await answer_offer(db=services.db, rider_id=rider_id, region=region,
                              order_id=order_id, accept=accept)


async def open_session(
    services: Services, deps: SessionDeps, rider_id: str, region: str, *,
    send: Send, close: Callable[[int, str], None],
) -> tuple[RiderSession, Connection]:
    """Register the connection (replacing an older one), record it in the store, welcome it,
    and send it the offers still waiting for its answer."""
    settings = services.settings
    connection = Connection(rider_id=rider_id, region=region,
                            conn_id=services.hub.new_conn_id(), close=close, send=send)
    previous = services.hub.attach(connection)
    if previous is not None:
        previous.close(p.CLOSE_REPLACED, "replaced by a newer connection")
    last_seq = await services.store.attach(region, rider_id, connection.conn_id)
    session = RiderSession(
        rider_id=rider_id, region=region, conn_id=connection.conn_id, deps=deps, send=send,
        guard=FloodGuard(TokenBucket(settings.rate_frames_per_s, settings.rate_burst_frames),
                         settings.rate_max_violations),
    )
    send(p.frame(
        "welcome", rider_id=rider_id, region=region, conn=connection.conn_id,
        last_seq=last_seq, server_ts=now_ms(),
        limits={"max_fixes_per_batch": settings.max_fixes_per_batch,
                "max_frame_bytes": settings.max_frame_bytes,
                "frames_per_s": settings.rate_frames_per_s,
                "burst_frames": settings.rate_burst_frames},
    ))
    # Off the opening path: a connect storm should not wait on the database.
    services.hub.spawn(_replay_offers(services, rider_id, send))
    return session, connection


async def _replay_offers(services: Services, rider_id: str, send: Send) -> None:
    async with services.hub.db_gate:
        offers = await pending_offer_frames(db=services.db, rider_id=rider_id)
    for offer in offers:
        send(offer)  # a no-op if the connection closed meanwhile


def close_session(services: Services, connection: Connection) -> None:
    """Forget a closed connection; the rider goes offline if it does not return in time."""
    store = services.store
    services.hub.detach(connection, services.settings.offline_grace_s, lambda: store.set_status(
        connection.region, connection.rider_id, RiderStatus.OFFLINE,
        only_conn=connection.conn_id,
    ))
