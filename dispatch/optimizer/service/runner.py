"""Running the batch loops: inside an API process (the embedded default), or on their own
(`dispatch optimizer`, one process per group of regions, sharing Redis and the database)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket

from prometheus_client import start_http_server

from dispatch.config import Settings
from dispatch.db.engine import create_engine, session_factory
from dispatch.db.migrate import migrate
from dispatch.live.client import connect_redis
from dispatch.live.store import LiveStore
from dispatch.metrics import Metrics
from dispatch.optimizer.service.loop import LoopDeps, run_regions
from dispatch.optimizer.service.notify import run_listener
from dispatch.optimizer.service.params import LoopParams, regions_to_run
from dispatch.orders.areas import load_areas
from dispatch.services import Services

log = logging.getLogger(__name__)


def owner_id(settings: Settings) -> str:
    """This process's name in region leases: unique across hosts, processes and restarts."""
    return settings.worker_id or (
        f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}").replace("|", "-")


def start_in_app(services: Services) -> list[asyncio.Task[None]]:
    """The background tasks an API process runs: rider message delivery, and the batch
    loops of its regions unless the optimizer runs as its own process."""
    tasks = [asyncio.create_task(run_listener(services.redis, services.hub))]
    settings = services.settings
    if settings.optimizer_embedded:
        deps = LoopDeps(db=services.db, redis=services.redis, store=services.store,
                        metrics=services.metrics.batch, owner=owner_id(settings))
        regions = regions_to_run(settings, services.areas.regions())
        tasks.append(asyncio.create_task(run_regions(deps, regions,
                                                     LoopParams.from_settings(settings))))
    return tasks


async def run_standalone(settings: Settings, regions: list[str], *,
                         metrics_port: int | None = None) -> None:
    """Run the batch loops of `regions` in this process until SIGTERM or SIGINT."""
    if settings.redis_url is None:
        raise ValueError("a standalone optimizer needs DISPATCH_REDIS_URL: the API's Redis")
    redis = connect_redis(settings.redis_url, timeout_s=settings.redis_timeout_s,
                          max_connections=settings.redis_max_connections)
    engine = create_engine(settings)
    metrics = Metrics()
    if metrics_port is not None:
        start_http_server(metrics_port, registry=metrics.registry)
    try:
        if settings.migrate_on_start:
            await migrate(engine, schema=settings.database_schema)
        store = LiveStore(redis, resolution=settings.h3_resolution,
                          stale_after_s=settings.stale_after_s,
                          rider_ttl_s=settings.rider_key_ttl_s)
        deps = LoopDeps(db=session_factory(engine), redis=redis, store=store,
                        metrics=metrics.batch, owner=owner_id(settings))
        regions = regions or regions_to_run(settings, load_areas(settings).regions())
        main = asyncio.create_task(run_regions(deps, regions, LoopParams.from_settings(settings)))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, main.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await main
    finally:
        await redis.aclose()
        await engine.dispose()
