"""`RiderStreamProtocol`: uvicorn's websocket protocol class, serving the rider stream inline.

uvicorn hands every websocket upgrade to this class. For the rider stream path it
speaks the websocket protocol itself (framing by the `websockets` sans-I/O core)
and calls the `RiderSession` straight from `data_received`: no ASGI queue and no
task per connection, so a fix frame costs no task switch and a connected rider a
few kilobytes. Any other path is handed to uvicorn's own websocket protocol and
so to the FastAPI app.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, cast

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

from dispatch.riders import protocol as p
from dispatch.riders.hub import Connection
from dispatch.riders.session import RiderSession
from dispatch.riders.stream import (
    STREAM_PATH,
    Opener,
    StreamClosed,
    authenticate,
    close_session,
)
from dispatch.services import Services

log = logging.getLogger(__name__)

HANDSHAKE, HELLO, OPEN, CLOSING, CLOSED = range(5)
MAX_EARLY_FRAMES = 64  # frames a client may send before its hello is answered
CLOSE_TIMEOUT_S = 2.0
_WHOLE_DATA_FRAME = (0x81, 0x82)  # FIN, no reserved bits, text or binary
_SHORT_TEXT_HEADERS = [bytes((0x81, size)) for size in range(126)]  # an ack's, for one


class RiderStreamProtocol(asyncio.Protocol):
    """One websocket connection (see the module docstring)."""

    __slots__ = ("app_state", "config", "connection", "early", "handshake_bytes", "hello_task",
                 "loop", "phase", "ping_payload", "server_state", "session", "timer",
                 "transport", "ws")

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.transport: asyncio.Transport | None = None
        self.ws = ServerProtocol(max_size=config.ws_max_size)
        self.phase = HANDSHAKE
        self.handshake_bytes = b""
        self.session: RiderSession | None = None
        self.connection: Connection | None = None
        self.early: list[bytes] | None = None
        self.hello_task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.ping_payload: bytes | None = None

    @property
    def services(self) -> Services:
        services: Services = self.config.app.state.services  # type: ignore[union-attr]
        return services

    # asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.server_state.connections.add(self)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.phase == OPEN and not self.ws.reader.buffer:
            data = self._whole_frames(data)
            if not data:
                return
        if self.phase == HANDSHAKE:
            self.handshake_bytes += data
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self._handshake(event)
                if self.phase == HANDSHAKE:
                    return  # handed over, or refused
            elif isinstance(event, Frame):
                self._frame(event)
        self._flush()

    def eof_received(self) -> None:
        self.ws.receive_eof()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        was_open = self.phase == OPEN or (self.phase == CLOSING and self.session is not None)
        self.phase = CLOSED
        self._cancel_timer()
        self.server_state.connections.discard(self)
        if self.hello_task is not None:
            self.hello_task.cancel()
        if self.connection is not None:
            close_session(self.services, self.connection)
        if was_open:
            self.services.metrics.riders_connected.dec()

    def pause_writing(self) -> None:
        # The client does not read its acks: stop reading its frames until it does.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not (self.session and self.session.saturated):
            self.transport.resume_reading()

    def shutdown(self) -> None:
        """Called by uvicorn when the server stops."""
        if self.phase in (HELLO, OPEN):
            self.close(p.CLOSE_GOING_AWAY, "server shutting down")
        elif self.transport is not None:
            self.transport.close()

    # websocket ----------------------------------------------------------------------

    def _handshake(self, request: Request) -> None:
        if request.path.partition("?")[0] != STREAM_PATH:
            self._hand_over()
            return
        response = self.ws.accept(request)
        self.ws.send_response(response)
        self._flush()
        if response.status_code != 101:
            assert self.transport is not None
            self.transport.close()
            return
        self.phase = HELLO
        self.handshake_bytes = b""
        self.timer = self.loop.call_later(self.services.settings.auth_timeout_s,
                                          self.close, p.CLOSE_AUTH_TIMEOUT, "no hello in time")

    def _hand_over(self) -> None:
        """Give the connection to uvicorn's own websocket protocol (and so to the app)."""
        assert self.transport is not None
        other = WebSocketsSansIOProtocol(config=self.config, server_state=self.server_state,
                                         app_state=self.app_state, _loop=self.loop)
        self.server_state.connections.discard(self)
        other.connection_made(self.transport)
        self.transport.set_protocol(other)
        other.data_received(self.handshake_bytes)
        self.handshake_bytes = b""

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if not frame.fin:
                self.close(1003, "fragmented messages are not supported")
            elif self.phase == OPEN:
                self._message(bytes(frame.data))
            elif self.phase == HELLO:
                self._early(bytes(frame.data))
        elif opcode is Opcode.PONG:
            self._pong(bytes(frame.data))
        elif opcode is Opcode.CLOSE:
            self._peer_closed()
        elif opcode is Opcode.CONT:
            self.close(1003, "fragmented messages are not supported")

    def _peer_closed(self) -> None:
        # The websocket layer has queued the reply close frame: send it, then hang up.
        self.phase = CLOSING
        self._flush()
        if self.ws.close_expected() and self.transport is not None:
            self.transport.close()

    def _whole_frames(self, data: bytes) -> bytes:
        """Handle the whole, unfragmented data frames that `data` starts with; return the rest.

        The websockets parser costs several microseconds a frame, as much as the rest of a
        fix's handling. A rider's frames are nearly always whole small text frames, so those
        are unmasked here. Anything else (control frames, fragments, a frame cut by TCP, a
        frame over the size limit, unmasked or with reserved bits) is left to the websockets
        layer, and so are the bytes after it: it is only ever handed data that starts at a
        frame boundary while its own buffer is empty, so its parser stays in step.
        """
        pos, end = 0, len(data)
        limit = self.ws.max_message_size
        while self.phase == OPEN and end - pos >= 6:
            length = data[pos + 1] ^ 0x80  # the mask bit set: 0..127
            if data[pos] not in _WHOLE_DATA_FRAME or length > 126:
                break
            if length < 126:
                start = pos + 6
            elif end - pos >= 8:
                length = int.from_bytes(data[pos + 2:pos + 4])
                start = pos + 8
            else:
                break
            stop = start + length
            if stop > end or (limit is not None and length > limit):
                break
            self._message(apply_mask(data[start:stop], data[start - 4:start]))
            pos = stop
        return data[pos:] if pos else data

    def _message(self, data: bytes) -> None:
        session = self.session
        assert session is not None
        session.on_frame(data)
        if session.close_code is not None:
            self.close(session.close_code, "rate limit exceeded")
        elif session.saturated and self.transport is not None:
            self.transport.pause_reading()

    def _early(self, data: bytes) -> None:
        if self.early is None:
            self.early = []
            self._start_hello(data)
        elif len(self.early) >= MAX_EARLY_FRAMES:
            self.close(p.CLOSE_POLICY, "too many frames before the welcome")
        else:
            self.early.append(data)

    def _start_hello(self, data: bytes) -> None:
        self._cancel_timer()
        services = self.services
        try:
            rider_id, region = authenticate(data, services.signer)
        except StreamClosed as closed:
            self.close(closed.code, closed.reason)
            return
        self.hello_task = self.loop.create_task(self._open(services, rider_id, region))

    async def _open(self, services: Services, rider_id: str, region: str) -> None:
        state = self.config.app.state  # type: ignore[union-attr]
        opener: Opener | None = getattr(state, "rider_opener", None)
        if opener is None or opener.services is not services:
            opener = state.rider_opener = Opener(services)
        try:
            session, connection = await opener.open(rider_id, region, send=self.send,
                                                    close=self.close)
        except StreamClosed as closed:
            self.close(closed.code, closed.reason)
            return
        except SQLAlchemyError as exc:
            log.warning("rider stream could not reach the database", extra={"error": str(exc)})
            self.close(p.CLOSE_INTERNAL, "accounts unavailable; reconnect")
            return
        except (RedisError, OSError) as exc:
            log.warning("rider stream could not reach the store", extra={"error": str(exc)})
            self.close(p.CLOSE_INTERNAL, "store unavailable; reconnect")
            return
        self.hello_task = None
        self.connection = connection
        if self.phase != HELLO:  # closed while we were waiting
            close_session(services, connection)
            return
        self.session = session
        session.on_drained = self._drained
        self.phase = OPEN
        services.metrics.riders_connected.inc()
        self._schedule_ping()
        for data in self.early or ():
            if self.phase == OPEN:
                self._message(data)
        self.early = None
        self._flush()

    def _drained(self) -> None:
        if self.transport is not None and self.phase == OPEN:
            self.transport.resume_reading()

    def send(self, payload: bytes) -> None:
        """Send one text frame now (no-op once the connection is closing)."""
        transport = self.transport
        if self.phase in (OPEN, HELLO) and transport is not None and (
                not transport.is_closing()):
            # Framed here rather than by the websockets layer (whose state it does not
            # change: an unfragmented text frame from the server is a header and the bytes).
            size = len(payload)
            if size < 126:
                header = _SHORT_TEXT_HEADERS[size]
            elif size < 65_536:
                header = b"\x81\x7e" + size.to_bytes(2)
            else:
                header = b"\x81\x7f" + size.to_bytes(8)
            transport.write(header + payload)

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake with `code`; drop the TCP connection soon after."""
        if self.phase >= CLOSING or self.transport is None:
            return
        if self.phase in (HELLO, OPEN):
            self.services.metrics.stream_closes.labels(str(code)).inc()
        self.phase = CLOSING
        self._cancel_timer()
        self.ws.send_close(code, reason)
        self._flush()
        self.timer = self.loop.call_later(CLOSE_TIMEOUT_S, self.transport.close)

    def _flush(self) -> None:
        chunks = self.ws.data_to_send()
        if chunks and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(chunks))
        if self.ws.parser_exc is not None and self.transport is not None and self.phase < CLOSING:
            # The websocket layer failed the connection (e.g. 1009 for an oversized frame).
            self.phase = CLOSING
            self._cancel_timer()
            self.timer = self.loop.call_later(CLOSE_TIMEOUT_S, self.transport.close)

    # keepalive ----------------------------------------------------------------------

    def _schedule_ping(self) -> None:
        self._cancel_timer()
        if self.phase == OPEN:
            self.timer = self.loop.call_later(self.services.settings.ping_interval_s, self._ping)

    def _ping(self) -> None:
        if self.phase != OPEN:
            return
        self.ping_payload = os.urandom(4)
        self.ws.send_ping(self.ping_payload)
        self._flush()
        self.timer = self.loop.call_later(self.services.settings.ping_timeout_s, self._dead)

    def _pong(self, payload: bytes) -> None:
        if self.ping_payload is not None and payload == self.ping_payload:
            self.ping_payload = None
            self._schedule_ping()

    def _dead(self) -> None:
        log.info("rider connection missed its pong", extra={
            "rider": self.session.rider_id if self.session else None})
        if self.transport is not None:
            self.close(p.CLOSE_INTERNAL, "keepalive ping timeout")
            self.transport.abort()

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
