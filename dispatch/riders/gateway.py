"""ASGI middleware that serves the rider stream before the FastAPI stack sees the request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from dispatch.riders.channel import Receive, Send, WsChannel
from dispatch.riders.stream import STREAM_PATH, serve_rider_stream

ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class RiderStreamGateway:
    """Routes websocket connections to `STREAM_PATH` to the lean stream handler."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == STREAM_PATH:
            await serve_rider_stream(WsChannel(receive, send), scope["app"].state.services)
            return
        await self.app(scope, receive, send)
