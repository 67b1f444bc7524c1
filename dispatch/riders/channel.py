"""`WsChannel`: the few ASGI websocket operations the rider stream needs, without a framework.

The stream is served below FastAPI's routing (see `dispatch.riders.gateway`) so a
connection holds only the server's protocol object and our own session: that is
what keeps a connected rider to a few kilobytes of memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Disconnected(Exception):
    """The peer closed the connection (or it was lost)."""


class WsChannel:
    """Accept, receive, send text and close over an ASGI websocket connection."""

    __slots__ = ("_receive", "_send", "closed")

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self.closed = False

    async def accept(self) -> None:
        """Complete the handshake (after the ASGI `websocket.connect` message)."""
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise Disconnected()
        await self._send({"type": "websocket.accept"})

    async def receive(self) -> str | bytes:
        """The next frame's payload; `Disconnected` once the peer is gone."""
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self.closed = True
            raise Disconnected()
        text: str | None = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def send(self, payload: bytes) -> None:
        """Send one JSON frame (bytes of UTF-8) as a text frame."""
        try:
            await self._send({"type": "websocket.send", "text": payload.decode()})
        except OSError as exc:  # uvicorn's ClientDisconnected is an OSError
            self.closed = True
            raise Disconnected() from exc

    async def close(self, code: int, reason: str = "") -> None:
        """Close with a code and reason, unless already closed."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError, RuntimeError):  # the peer may already be gone
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
