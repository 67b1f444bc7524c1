"""Input hygiene shared by every HTTP route: no NUL characters in bodies, paths or queries.

PostgreSQL text cannot hold U+0000; left unchecked, a NUL in any field became a 500 from
the database. `ApiIn` (the base of request bodies) refuses it per field, and
`RejectNulMiddleware` refuses it in the path and query string, both as 422 naming where.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from pydantic import BaseModel, field_validator
from starlette.types import ASGIApp, Receive, Scope, Send

NUL_MESSAGE = "text must not contain NUL (U+0000) characters"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class ApiIn(BaseModel):
    """Base of request bodies: every field, nested ones included, refuses NUL characters."""

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value


class RejectNulMiddleware:
    """Answer 422 to a request whose path or query string carries a NUL character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _nul_location(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps({"error": {"code": "request.invalid", "message": NUL_MESSAGE,
                                       "field": where}})
        await send({"type": "http.response.start", "status": 422,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _nul_location(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
        return "query"
    return None
