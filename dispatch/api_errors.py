"""The one place that maps errors to HTTP JSON responses: ours, validation, backends, the rest."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dispatch.errors import DispatchError

log = logging.getLogger(__name__)


async def _dispatch_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DispatchError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.status_code, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems: list[dict[str, Any]] = [
        {"field": ".".join(str(part) for part in err["loc"] if part not in ("body", "query")),
         "message": err["msg"], "in": err["loc"][0] if err["loc"] else None}
        for err in exc.errors()
    ]
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    return JSONResponse(
        {"error": {"code": "request.invalid", "message": first["message"],
                   "field": first["field"], "problems": problems}},
        status_code=422,
    )


async def _backend_error(request: Request, exc: Exception) -> JSONResponse:
    """A database or Redis failure: 503 in our JSON shape (retry later), logged with its cause."""
    log.warning("backend unavailable", extra={"path": request.url.path, "error": repr(exc)[:300]})
    return JSONResponse({"error": {"code": "service.unavailable",
                                   "message": "a backing store is unavailable; retry shortly"}},
                        status_code=503, headers={"Retry-After": "1"})


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Anything else: 500 in our JSON shape, with the traceback in the log only."""
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse({"error": {"code": "internal.error", "message": "internal error"}},
                        status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(DispatchError, _dispatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for backend in (SQLAlchemyError, RedisError, asyncpg.PostgresError, OSError, TimeoutError):
        app.add_exception_handler(backend, _backend_error)
    app.add_exception_handler(Exception, _unexpected_error)
