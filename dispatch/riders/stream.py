"""Opening a rider stream session: verify the `hello` token, admit the rider, register the
connection, welcome.

The transport that calls this is `dispatch.riders.fastpath`; the protocol is
documented in docs/rider-stream.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from dispatch.auth.tokens import Principal, TokenSigner
from dispatch.errors import DispatchError, NotAuthenticated
from dispatch.live.models import RiderStatus
from dispatch.live.scripts import MAX_ID_BYTES
from dispatch.live.store import LiveStore, now_ms
from dispatch.optimizer.service.answers import answer_offer, pending_offer_frames
from dispatch.riders import protocol as p
from dispatch.riders.batching import Batcher
from dispatch.riders.hub import Connection
from dispatch.riders.ratelimit import FloodGuard, TokenBucket
from dispatch.riders.session import RiderSession, Send, SessionDeps, SessionLimits
from dispatch.services import Services
from dispatch.users.service import check_riders

log = logging.getLogger(__name__)

STREAM_PATH = "/v1/riders/stream"
BUSY = "server busy; reconnect in a few seconds"  # the reason of a 1013 close


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
    if not 0 < len(principal.subject.encode()) <= MAX_ID_BYTES:
        # The live store could not hold its fixes: refused here, not as "store unavailable"
        # on every fix (which would have the app reconnect for ever).
        raise StreamClosed(p.CLOSE_UNAUTHORIZED, f"rider id over {MAX_ID_BYTES} bytes")
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
    principal = Principal(subject=rider_id, role="rider", region=region)
    return (await answer_offer(db=services.db, principal=principal, order_id=order_id,
                               accept=accept)).frame


class Opener:
    """Opens this worker's rider sessions, with admission control.

    At most `max_opening_riders` hellos are between their token check and their welcome; a
    hello beyond that is closed with 1013 (try again later), and so is one whose lookups
    take longer than the hello timeout, so a connect storm meets a quick, documented
    refusal instead of exhausted pools. The lookups a hello needs (account check,
    connection record in Redis, pending offers) are batched across hellos (`Batcher`).
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.deps = session_deps(services)
        self.opening = 0
        db, store = services.db, services.store
        self.accounts: Batcher[tuple[str, str], str | None] = Batcher(
            lambda riders: check_riders(db=db, riders=riders))
        self.attach: Batcher[tuple[str, str, str], int] = Batcher(_attach_many(store))
        self.offers: Batcher[str, list[bytes]] = Batcher(
            lambda rider_ids: pending_offer_frames(db=db, rider_ids=rider_ids))

    async def open(self, rider_id: str, region: str, *, send: Send,
                   close: Callable[[int, str], None]) -> tuple[RiderSession, Connection]:
        """Admit the rider, register the connection (replacing an older one), record it in
        the store, welcome it, and send it the offers still waiting for its answer.

        Raises `StreamClosed` when the rider is refused or the server is too busy, and
        the database's or Redis's errors when they fail.
        """
        settings = self.services.settings
        if self.opening >= settings.max_opening_riders:
            raise StreamClosed(p.CLOSE_TRY_AGAIN, BUSY)
        self.opening += 1
        try:
            async with asyncio.timeout(settings.auth_timeout_s):
                return await self._open(rider_id, region, send, close)
        except TimeoutError:
            raise StreamClosed(p.CLOSE_TRY_AGAIN, BUSY) from None
        finally:
            self.opening -= 1

    async def _open(self, rider_id: str, region: str, send: Send,
                    close: Callable[[int, str], None]) -> tuple[RiderSession, Connection]:
        services, settings = self.services, self.services.settings
        if settings.rider_accounts_required and (
                refusal := await self.accounts.get((rider_id, region))):
            raise StreamClosed(p.CLOSE_UNAUTHORIZED, refusal)
        connection = Connection(rider_id=rider_id, region=region,
                                conn_id=services.hub.new_conn_id(), close=close, send=send)
        last_seq = await self.attach.get((region, rider_id, connection.conn_id))
        previous = services.hub.attach(connection)
        if previous is not None:
            previous.close(p.CLOSE_REPLACED, "replaced by a newer connection")
        session = RiderSession(
            rider_id=rider_id, region=region, conn_id=connection.conn_id, deps=self.deps,
            send=send,
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
        # Off the opening path: the welcome does not wait for the offers.
        services.hub.spawn(self._replay_offers(rider_id, send))
        return session, connection

    async def _replay_offers(self, rider_id: str, send: Send) -> None:
        try:
            offers = await self.offers.get(rider_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not replay pending offers",
                        extra={"rider": rider_id, "error": str(exc)})
            return
        for offer in offers:
            send(offer)  # a no-op if the connection closed meanwhile


def _attach_many(store: LiveStore) -> Callable[[list[tuple[str, str, str]]],
                                              Awaitable[dict[tuple[str, str, str], int]]]:
    async def attach(connections: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
        return dict(zip(connections, await store.attach_many(connections), strict=True))
    return attach


def close_session(services: Services, connection: Connection) -> None:
    """Forget a closed connection; the rider goes offline if it does not return in time."""
    store = services.store
    services.hub.detach(connection, services.settings.offline_grace_s, lambda: store.set_status(
        connection.region, connection.rider_id, RiderStatus.OFFLINE,
        only_conn=connection.conn_id,
    ))
