"""`RiderSession`: one authenticated rider connection's message handling, transport-free.

The websocket endpoint feeds it frames and sends back what it returns, so the
protocol's behaviour lives here and the endpoint only moves bytes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from dispatch.errors import DispatchError, ValidationFailed
from dispatch.live.models import PositionWrite, RiderStatus
from dispatch.live.store import LiveStore, now_ms
from dispatch.live.writer import PositionWriter
from dispatch.metrics import Metrics
from dispatch.riders import protocol as p
from dispatch.riders.ratelimit import FloodGuard


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Per-connection protocol limits, taken from the settings."""

    fixes: p.FixLimits
    max_fixes_per_batch: int


_HANDLERS = {"fix": "_on_fix", "fixes": "_on_fixes", "status": "_on_status", "ping": "_on_ping"}


class RiderSession:
    """Validates and applies one rider's frames; `close_code` is set when it must be closed."""

    __slots__ = ("_started", "close_code", "conn_id", "guard", "limits", "metrics", "region",
                 "rider_id", "status", "store", "writer")

    def __init__(
        self,
        *,
        rider_id: str,
        region: str,
        conn_id: str,
        store: LiveStore,
        writer: PositionWriter,
        metrics: Metrics,
        limits: SessionLimits,
        guard: FloodGuard,
    ) -> None:
        self.rider_id = rider_id
        self.region = region
        self.conn_id = conn_id
        self.store = store
        self.writer = writer
        self.metrics = metrics
        self.limits = limits
        self.guard = guard
        self.status = RiderStatus.OFFLINE
        self.close_code: int | None = None
        self._started = 0.0

    async def handle(self, data: str | bytes) -> list[bytes]:
        """Process one frame; return the frames to send back, in order."""
        self._started = time.perf_counter()
        if not self.guard.allow():
            if self.guard.exhausted:
                self.close_code = p.CLOSE_POLICY
            return [self._error(p.RateLimited(
                "too many frames; slow down", retry_after_ms=self.guard.bucket.retry_after_ms
            ))]
        try:
            obj = p.decode_frame(data)
            name = _HANDLERS.get(obj["type"])
            if name is None:
                raise p.ProtocolError(f"unknown frame type {obj['type']!r}", field="type")
            handler: Callable[[dict[str, Any]], Awaitable[list[bytes]]] = getattr(self, name)
            return await handler(obj)
        except DispatchError as err:
            return [self._error(err)]

    def _error(self, err: DispatchError, **context: Any) -> bytes:
        self.metrics.stream_errors.labels(err.code).inc()
        return p.error_frame(err, **context)

    async def _on_fix(self, obj: dict[str, Any]) -> list[bytes]:
        try:
            fix = p.parse_fix(obj, now_ms(), self.limits.fixes)
        except ValidationFailed as err:
            self._count_rejected(err, 1)
            seq = obj.get("seq")
            return [self._error(err, seq=seq if type(seq) is int else None)]
        return await self._store([fix], [])

    async def _on_fixes(self, obj: dict[str, Any]) -> list[bytes]:
        raw = obj.get("fixes")
        if not isinstance(raw, list):
            raise ValidationFailed("fixes must be a list of fix objects", field="fixes")
        if len(raw) > self.limits.max_fixes_per_batch:
            raise p.BatchTooLarge(
                f"at most {self.limits.max_fixes_per_batch} fixes per frame", field="fixes",
                limit=self.limits.max_fixes_per_batch,
            )
        now = now_ms()
        good: list[p.Fix] = []
        rejected: list[dict[str, Any]] = []
        for index, item in enumerate(raw):
            try:
                good.append(p.parse_fix(item, now, self.limits.fixes))
            except ValidationFailed as err:
                self._count_rejected(err, 1)
                seq = item.get("seq") if isinstance(item, dict) else None
                rejected.append({"index": index, "seq": seq if type(seq) is int else None,
                                 **err.to_dict()})
        replies = []
        if rejected:
            replies.append(self._error(
                ValidationFailed(f"{len(rejected)} of {len(raw)} fixes rejected", field="fixes"),
                rejected=rejected,
            ))
        if not good:
            return replies
        return await self._store(good, replies)

    async def _store(self, fixes: list[p.Fix], replies: list[bytes]) -> list[bytes]:
        best = p.newest(fixes)
        write = PositionWrite(
            region=self.region, rider_id=self.rider_id, lat=best.lat, lng=best.lng,
            ts_ms=best.ts_ms, seq=best.seq, extra=best.extra,
            status_hint=self.status.value, conn=self.conn_id,
        )
        try:
            await self.writer.submit(write)
        except (RedisError, OSError):
            self.metrics.fixes.labels("store_unavailable").inc(len(fixes))
            return [*replies, self._error(p.StoreUnavailable("location store unavailable; "
                                                             "re-send these fixes"))]
        self.metrics.fixes.labels("accepted").inc(len(fixes))
        self.metrics.ack_latency.observe(time.perf_counter() - self._started)
        return [*replies, p.frame("ack", seq=max(f.seq for f in fixes), n=len(fixes))]

    def _count_rejected(self, err: ValidationFailed, n: int) -> None:
        self.metrics.fixes.labels(f"rejected_{err.field or 'fix'}").inc(n)

    async def _on_status(self, obj: dict[str, Any]) -> list[bytes]:
        status = p.parse_status(obj)
        try:
            await self.store.set_status(self.region, self.rider_id, status)
        except (RedisError, OSError):
            raise p.StoreUnavailable("location store unavailable; re-send the status") from None
        self.status = status
        return [p.frame("status", status=status.value)]

    async def _on_ping(self, obj: dict[str, Any]) -> list[bytes]:
        return [p.frame("pong", ts=now_ms(), echo=obj.get("echo"))]
