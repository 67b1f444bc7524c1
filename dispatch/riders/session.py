"""`RiderSession`: one authenticated rider connection's frame handling, transport-free.

The transport (`dispatch.riders.fastpath`) calls `on_frame` for each text frame and
gives the session a `send` function. Fix frames are validated inline and handed to
the shared `PositionWriter`; their ack is sent from the writer's callback, so the
connection never waits on Redis between two frames.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dispatch.errors import DispatchError, ValidationFailed
from dispatch.live.models import PositionWrite, RiderStatus
from dispatch.live.store import LiveStore, now_ms
from dispatch.live.writer import PositionWriter
from dispatch.metrics import Metrics
from dispatch.riders import protocol as p
from dispatch.riders.ratelimit import FloodGuard

log = logging.getLogger(__name__)

Send = Callable[[bytes], None]
# (rider_id, region, order_id, accept) -> the reply frame; raises `DispatchError`s.
Answer = Callable[[str, str, str, bool], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Per-connection protocol limits, taken from the settings."""

    fixes: p.FixLimits
    max_fixes_per_batch: int
    max_inflight: int = 32


@dataclass(frozen=True, slots=True)
class SessionDeps:
    """What every session on this worker shares."""

    store: LiveStore
    writer: PositionWriter
    metrics: Metrics
    limits: SessionLimits
    answer: Answer | None = None  # offer answers; None where offers are not served


class RiderSession:
    """Validates and applies one rider's frames.

    `close_code` becomes set when the connection must be closed; `inflight` counts
    fix frames not yet acknowledged, and `on_drained` is called when it falls back
    below the limit (the transport pauses reading while it is at the limit).
    """

    __slots__ = ("close_code", "conn_id", "deps", "guard", "inflight", "on_drained", "region",
                 "rider_id", "send", "status", "tasks")

    def __init__(self, *, rider_id: str, region: str, conn_id: str, deps: SessionDeps,
                 guard: FloodGuard, send: Send) -> None:
        self.rider_id = rider_id
        self.region = region
        self.conn_id = conn_id
        self.deps = deps
        self.guard = guard
        self.send = send
        self.status = RiderStatus.OFFLINE
        self.close_code: int | None = None
        self.inflight = 0
        self.on_drained: Callable[[], None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def saturated(self) -> bool:
        """True while as many fix frames await their ack as the limit allows."""
        return self.inflight >= self.deps.limits.max_inflight

    def on_frame(self, data: str | bytes) -> None:
        """Handle one frame; replies go out through `send`, now or when the write lands."""
        started = time.perf_counter()
        if not self.guard.allow(started):
            if self.guard.exhausted:
                self.close_code = p.CLOSE_POLICY
            self._error(p.RateLimited("too many frames; slow down",
                                      retry_after_ms=self.guard.bucket.retry_after_ms))
            return
        try:
            obj = p.decode_frame(data)
            handler = _HANDLERS.get(obj["type"])
            if handler is None:
                raise p.ProtocolError(f"unknown frame type {obj['type']!r}", field="type")
            handler(self, obj, started)
        except DispatchError as err:
            self._error(err)

    def _error(self, err: DispatchError, **context: Any) -> None:
        self.deps.metrics.stream_errors.labels(err.code).inc()
        self.send(p.error_frame(err, **context))

    def _on_fix(self, obj: dict[str, Any], started: float) -> None:
        try:
            fix = p.parse_fix(obj, now_ms(), self.deps.limits.fixes)
        except ValidationFailed as err:
            self._count_rejected(err)
            seq = obj.get("seq")
            self._error(err, seq=seq if type(seq) is int else None)
            return
        self._store(fix, fix.seq, 1, started)

    def _on_fixes(self, obj: dict[str, Any], started: float) -> None:
        raw = obj.get("fixes")
        if not isinstance(raw, list):
            raise ValidationFailed("fixes must be a list of fix objects", field="fixes")
        limit = self.deps.limits.max_fixes_per_batch
        if len(raw) > limit:
            raise p.BatchTooLarge(f"at most {limit} fixes per frame", field="fixes", limit=limit)
        now = now_ms()
        good: list[p.Fix] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(raw):
            try:
                good.append(p.parse_fix(item, now, self.deps.limits.fixes))
            except ValidationFailed as err:
                self._count_rejected(err)
                seq = item.get("seq") if isinstance(item, dict) else None
                rejected.append({"index": index, "seq": seq if type(seq) is int else None,
                                 **err.to_dict()})
        if rejected:
            self._error(ValidationFailed(f"{len(rejected)} of {len(raw)} fixes rejected",
                                         field="fixes"), rejected=rejected)
        if good:
            self._store(p.newest(good), max(f.seq for f in good), len(good), started)

    def _store(self, best: p.Fix, ack_seq: int, n: int, started: float) -> None:
        write = PositionWrite(self.region, self.rider_id, best.lat, best.lng, best.ts_ms,
                              best.seq, best.extra, self.status.value, self.conn_id)
        self.inflight += 1
        self.deps.writer.submit(write, self, (ack_seq, n, started))

    def written(self, outcome: bool | BaseException, token: tuple[int, int, float]) -> None:
        """The writer's report on one fix frame (`token`: its ack seq, fix count and arrival)."""
        ack_seq, n, started = token
        if isinstance(outcome, BaseException):
            self.deps.metrics.fixes.count("store_unavailable", n)
            self._error(p.StoreUnavailable("location store unavailable; re-send these fixes"),
                        seq=ack_seq)
        else:
            self.deps.metrics.fixes.acked(n, time.perf_counter() - started)
            self.send(p.ack_frame(ack_seq, n))
        self.inflight -= 1
        if self.on_drained is not None and self.inflight == self.deps.limits.max_inflight - 1:
            self.on_drained()

    def _count_rejected(self, err: ValidationFailed) -> None:
        self.deps.metrics.fixes.count(f"rejected_{err.field or 'fix'}")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _on_status(self, obj: dict[str, Any], _: float) -> None:
        self._spawn(self._set_status(p.parse_status(obj)))

    def _on_offer_answer(self, obj: dict[str, Any], _: float) -> None:
        if self.deps.answer is None:
            raise p.ProtocolError("offers are not served here", field="type")
        order_id = p.parse_offer_answer(obj)
        self._spawn(self._answer(order_id, p.OFFER_ANSWERS[obj["type"]]))

    async def _answer(self, order_id: str, accept: bool) -> None:
        assert self.deps.answer is not None
        try:
            reply = await self.deps.answer(self.rider_id, self.region, order_id, accept)
        except DispatchError as err:
            self._error(err, order_id=order_id)
            return
        except (SQLAlchemyError, OSError) as exc:
            log.warning("offer answer not recorded", extra={
                "rider": self.rider_id, "order": order_id, "error": str(exc)})
            self._error(p.StoreUnavailable("the answer was not recorded; send it again"),
                        order_id=order_id)
            return
        self.send(reply)

    async def _set_status(self, status: RiderStatus) -> None:
        try:
            await self.deps.store.set_status(self.region, self.rider_id, status)
        except (RedisError, OSError):
            self._error(p.StoreUnavailable("location store unavailable; re-send the status"))
            return
        self.status = status
        self.send(p.frame("status", status=status.value))

    def _on_ping(self, obj: dict[str, Any], _: float) -> None:
        self.send(p.frame("pong", ts=now_ms(), echo=obj.get("echo")))


_Handler = Callable[[RiderSession, dict[str, Any], float], None]
_HANDLERS: dict[str, _Handler] = {
    "fix": RiderSession._on_fix, "fixes": RiderSession._on_fixes,
    "status": RiderSession._on_status, "ping": RiderSession._on_ping,
    "offer.accept": RiderSession._on_offer_answer, "offer.reject": RiderSession._on_offer_answer,
}
