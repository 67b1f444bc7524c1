"""`/healthz` (the process runs), `/readyz` (it can reach Redis) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from dispatch.deps import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def get_health() -> dict[str, str]:
    """Liveness: the process is up and serving requests."""
    return {"status": "ok"}


@router.get("/readyz")
async def get_readiness(services: ServicesDep) -> JSONResponse:
    """Readiness: Redis answers; 503 with the failing check otherwise."""
    try:
        await asyncio.wait_for(services.redis.ping(), services.settings.redis_timeout_s)
    except (RedisError, OSError, TimeoutError) as exc:
        return JSONResponse({"status": "unavailable", "checks": {"redis": str(exc) or "timeout"}},
                            status_code=503)
    return JSONResponse({"status": "ready", "checks": {"redis": "ok"}})


@router.get("/metrics")
async def get_metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
