"""The application factory: builds the FastAPI app and owns its long-lived resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from dispatch.api_errors import install_error_handlers
from dispatch.api_input import RejectNulMiddleware
from dispatch.auth.tokens import TokenSigner, load_or_create_secret
from dispatch.background import stop_tasks
from dispatch.config import Settings, get_settings
from dispatch.db.engine import create_engine, session_factory
from dispatch.db.migrate import migrate
from dispatch.gc_policy import tune_collector
from dispatch.health import views as health_views
from dispatch.live.client import connect_redis
from dispatch.live.pipe import RespPipe
from dispatch.live.store import LiveStore
from dispatch.live.writer import PositionWriter
from dispatch.metrics import Metrics
from dispatch.optimizer.service.runner import start_in_app
from dispatch.orders import views as order_views
from dispatch.orders.areas import load_areas
from dispatch.orders.fastpath import CreateOrderFastPath
from dispatch.orders.tracking import OrderEvents
from dispatch.outbox.relay import RelayParams, run_relay
from dispatch.payments import views as payment_views
from dispatch.payments.provider import SandboxProvider
from dispatch.redis_server import EmbeddedRedis
from dispatch.riders import protocol
from dispatch.riders import views as rider_views
from dispatch.riders.hub import RiderHub
from dispatch.services import Services
from dispatch.users import views as user_views
from dispatch.users.passwords import Passwords

log = logging.getLogger(__name__)


def _worker_id(settings: Settings) -> str:
    return settings.worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


async def _evict_loop(services: Services) -> None:
    """Periodically drop riders that stopped reporting from every region's index."""
    store = services.store
    while True:
        await asyncio.sleep(services.settings.evict_interval_s)
        try:
            for region in await store.regions():
                evicted = await store.evict_stale(region)
                services.metrics.evicted.inc(len(evicted))
        except (RedisError, OSError) as exc:
            log.warning("eviction pass failed", extra={"error": str(exc)})


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if url is None:
        # Spawned on the loop's thread, which lives as long as the service: the child's
        # parent-death signal follows the thread that forked it.
        embedded = EmbeddedRedis(settings.redis_server_binary).spawn()
        await asyncio.to_thread(embedded.wait_until_ready)
        url = embedded.url
        log.info("started embedded redis-server", extra={"pid": embedded.pid, "url": url})
    redis = connect_redis(url, timeout_s=settings.redis_timeout_s,
                          max_connections=settings.redis_max_connections)
    engine = create_engine(settings)
    if settings.migrate_on_start:
        await migrate(engine, schema=settings.database_schema)
    pipe = RespPipe.for_client(redis, timeout_s=settings.redis_timeout_s)
    store = LiveStore(redis, resolution=settings.h3_resolution,
                      stale_after_s=settings.stale_after_s, rider_ttl_s=settings.rider_key_ttl_s,
                      pipe=pipe)
    services = Services(
        settings=settings, redis=redis, store=store,
        writer=PositionWriter(store, max_batch=settings.max_write_batch,
                              max_concurrent=settings.max_write_calls),
        hub=RiderHub(worker_id=_worker_id(settings)), metrics=Metrics(),
        signer=TokenSigner(load_or_create_secret(settings.secret_key, settings.data_dir),
                           ttl_s=settings.token_ttl_s),
        engine=engine, db=session_factory(engine),
        passwords=Passwords(time_cost=settings.password_time_cost,
                            memory_kib=settings.password_memory_kib),
        payments=SandboxProvider(), areas=load_areas(settings),
        order_events=OrderEvents(redis),
    )
    app.state.services = services
    evictor = asyncio.create_task(_evict_loop(services))
    # The relay's own pipe: its script calls are large, and the fix writes' pipe should not
    # wait behind them.
    relay_pipe = (RespPipe.for_client(redis, timeout_s=settings.redis_timeout_s)
                  if settings.outbox_relay else None)
    relay = asyncio.create_task(run_relay(RelayParams(
        db=services.db, redis=redis, provider=services.payments, stream=settings.outbox_stream,
        batch=settings.outbox_batch, maxlen=settings.outbox_stream_maxlen,
        poll_s=settings.outbox_poll_s, pipe=relay_pipe))) if settings.outbox_relay else None
    dispatching = start_in_app(services)
    if getattr(app.state, "freeze_gc", False):
        tune_collector(settings.gc_young_threshold)
    try:
        yield
    finally:
        await stop_tasks([*dispatching, evictor, *([relay] if relay is not None else [])])
        await services.hub.close_all(protocol.CLOSE_GOING_AWAY, "server shutting down")
        await services.order_events.close()
        await services.writer.drain()
        for opened in (pipe, relay_pipe):
            if opened is not None:
                await opened.aclose()
        await redis.aclose()
        await engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


class DispatchApp(FastAPI):
    """FastAPI with the hot create served ahead of its whole middleware stack.

    `CreateOrderFastPath` sees each request first and hands every other one, and every create
    it declines, to FastAPI as it came. The layers it skips (FastAPI's telemetry check,
    Starlette's error, telemetry and body-limit middleware) took ~2-3% of a worker's CPU
    under creates. Its errors go through the app's own exception handlers, as there.
    (FastAPI's own telemetry, not configured here, would not see the creates it serves.)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._front = CreateOrderFastPath(super().__call__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self  # as Starlette sets it: the fast path reads the services there
        await self._front(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A configured app; resources are created when it starts (its lifespan)."""
    app = DispatchApp(
        title="dispatch",
        summary="Real-time rider dispatch and geospatial matching for same-city delivery",
        version="0.1.0",
        lifespan=_lifespan,
    )
    app.state.settings = settings or get_settings()
    install_error_handlers(app)
    app.add_middleware(RejectNulMiddleware)
    app.include_router(health_views.router)
    app.include_router(rider_views.router)
    app.include_router(user_views.router)
    app.include_router(order_views.router)
    app.include_router(payment_views.router)
    return app
