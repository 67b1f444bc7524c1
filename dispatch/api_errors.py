"""The one place that maps `DispatchError`s and request validation to HTTP JSON responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dispatch.errors import DispatchError


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


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(DispatchError, _dispatch_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
