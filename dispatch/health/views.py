"""Operations routes: `/healthz` (process up), `/readyz` (Redis and database answer), `/metrics`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatch.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def get_health() -> dict[str, str]:
    """Liveness: the process is up and serving requests."""
    return {"status": "ok"}


async def _check(probe: Awaitable[object], timeout_s: float) -> str:
    """'ok', or why the probe failed."""
    try:
        await asyncio.wait_for(probe, timeout_s)
    except (RedisError, SQLAlchemyError, OSError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__
    return "ok"


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


@router.get("/readyz")
async def get_readiness(services: ServicesDep) -> JSONResponse:
    """Readiness: Redis and the database answer; 503 naming the failing check otherwise."""
    settings = services.settings
    checks = {
        "redis": await _check(services.redis.ping(), settings.redis_timeout_s),
        "database": await _check(_select_one(services.engine), settings.database_timeout_s),
    }
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, responses={
    200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
          "description": "Prometheus text exposition format"}})
async def get_metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
