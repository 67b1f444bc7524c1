"""`CoalescingHttpProtocol`: uvicorn's httptools protocol, writing each response in one go.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, then the body on `http.response.body`: two `write` calls, and on an
idle socket each is its own system call and its own TCP segment, which the client then
reads (and wakes up for) separately. On a small JSON answer such as a created order, those
calls were the largest single cost of a request in the worker.

Here the connection's writes go to a buffer that is sent once at the end of the current
event-loop iteration (or at once when the connection is closed), so the head and the body
of a response, written in the same step of its task, leave in one call. Once 16 KiB are
queued they are sent at once, so a large or streamed body meets the transport's flow control
(`pause_writing`) as before. The bytes, their order and every other behaviour of uvicorn's
protocol are unchanged; a connection upgraded to a WebSocket is handed the real transport,
so the rider stream writes as before.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

FLUSH_AT = 16 * 1024  # queued bytes that are sent without waiting for the iteration's end


class _CoalescingTransport:
    """A transport whose writes of one loop iteration leave in one `write` of the real one.

    Only what uvicorn's HTTP protocol calls is provided; `write` is the one that differs.
    """

    __slots__ = ("_loop", "_pending", "_queued", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._queued = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue `data`; the first write of an iteration schedules the flush."""
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._queued += len(data)
        if self._queued >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Send what was queued, in one call (nothing if the connection is closing)."""
        pending, self._pending, self._queued = self._pending, [], 0
        if pending and not self.transport.is_closing():
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        """Send what was queued, then close (as a transport closes after its buffer)."""
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.transport.set_protocol(protocol)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + self._queued

    def abort(self) -> None:
        self._pending, self._queued = [], 0
        self.transport.abort()


class CoalescingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with each loop iteration's writes sent together."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def handle_websocket_upgrade(self) -> None:
        coalescing = self.transport
        if isinstance(coalescing, _CoalescingTransport):
            coalescing.flush()
            self.transport = coalescing.transport  # the WebSocket protocol writes directly
        super().handle_websocket_upgrade()
