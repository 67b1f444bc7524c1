"""Run the real service under uvicorn inside the test's event loop, and talk to it."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dispatch.auth.tokens import TokenSigner
from dispatch.cli import uvicorn_config
from dispatch.config import Settings
from dispatch.services import Services


@dataclass
class RunningService:
    """A started server: its URLs, its settings and its in-process services."""

    server: uvicorn.Server
    settings: Settings
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/riders/stream"

    @property
    def services(self) -> Services:
        services: Services = self.server.config.app.state.services  # type: ignore[union-attr]
        return services

    @property
    def signer(self) -> TokenSigner:
        return self.services.signer

    def rider_token(self, rider_id: str, region: str = "city") -> str:
        return self.signer.mint(rider_id, "rider", region=region)

    def operator_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.signer.mint('ops', 'operator')}"}

    @contextlib.asynccontextmanager
    async def rider(
        self, rider_id: str, region: str = "city", **connect_kw: Any
    ) -> AsyncIterator[tuple[ClientConnection, dict[str, Any]]]:
        """A connected, authenticated rider and the server's welcome frame."""
        async with connect(self.ws, **connect_kw) as ws:
            await ws.send(orjson.dumps({"type": "hello", "token": self.rider_token(
                rider_id, region)}).decode())
            welcome = orjson.loads(await ws.recv())
            assert welcome["type"] == "welcome", welcome
            yield ws, welcome


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the test runner's signal handlers alone."""

    def capture_signals(self) -> contextlib.nullcontext[None]:  # type: ignore[override]
        return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def run_service(settings: Settings) -> AsyncIterator[RunningService]:
    """Start the app under uvicorn on a free port; stop it on exit."""
    config = uvicorn_config(settings, host="127.0.0.1", port=0)
    config.loop = "none"
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningService(server=server, settings=settings, port=port)
    finally:
        server.should_exit = True
        await _stopped(server, task)


STOP_WITHIN_S = 30.0  # the service's graceful shutdown is bounded well below this


async def _stopped(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Wait for the server to stop; if it has not within `STOP_WITHIN_S`, fail with what it
    was still doing (every pending task's stack and the open connections) rather than hang."""
    try:
        await asyncio.wait_for(asyncio.shield(task), STOP_WITHIN_S)
    except TimeoutError:
        stacks = io.StringIO()
        for pending in asyncio.all_tasks():
            if pending is not asyncio.current_task():
                pending.print_stack(limit=12, file=stacks)
        connections = [type(c).__name__ for c in server.server_state.connections]
        server.force_exit = True
        task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):  # not Ctrl-C
            await asyncio.wait_for(task, 5)
        raise AssertionError(f"the service did not stop within {STOP_WITHIN_S} s; open "
                             f"connections {connections}; tasks:\n{stacks.getvalue()}") from None


async def recv_json(ws: ClientConnection, wait_s: float = 5.0) -> dict[str, Any]:
    """The next frame from the server, decoded."""
    frame: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), wait_s))
    return frame


async def send_json(ws: ClientConnection, payload: Any) -> None:
    """Send one JSON text frame."""
    await ws.send(orjson.dumps(payload).decode())


async def closed_with(ws: ClientConnection, wait_s: float = 5.0) -> int:
    """The close code the server sends, reading (and dropping) frames until it does."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), wait_s)
    assert info.value.rcvd is not None
    return info.value.rcvd.code
