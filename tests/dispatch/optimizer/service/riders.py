"""Rider apps for dispatch tests: connect, report a fix, collect offers, answer them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.accounts import CENTRE


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class RiderApp:
    """One rider's app on one connection: frames it received, and how it answers offers."""

    rider_id: str
    ws: ClientConnection
    frames: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    seen: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(payload).decode())

    async def report(self, lat: float = CENTRE["lat"], lng: float = CENTRE["lng"],
                     status: str = "available") -> None:
        """Say where we are and that we take work (not waiting for the replies)."""
        self.seq += 1
        await self.send({"type": "status", "status": status})
        await self.send({"type": "fix", "seq": self.seq, "lat": lat, "lng": lng,
                         "ts": now_ms()})

    async def next(self, *kinds: str, wait_s: float = 20.0,
                   where: Callable[[dict[str, Any]], bool] = lambda f: True) -> dict[str, Any]:
        """The next frame of one of these types (others are kept in `seen` and skipped)."""
        deadline = time.monotonic() + wait_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.rider_id}: no {kinds} frame; saw {self.seen[-5:]}")
            try:
                async with asyncio.timeout(left):  # never swallows a cancellation
                    frame = await self.frames.get()
            except TimeoutError:
                continue
            if frame["type"] in kinds and where(frame):
                return frame

    async def offer(self, wait_s: float = 20.0, order_id: str | None = None
                    ) -> dict[str, Any]:
        """The next offer (of this order, if given)."""
        return await self.next("offer", wait_s=wait_s, where=lambda f: order_id in (
            None, f["order_id"]))

    async def answer(self, order_id: str, accept: bool, wait_s: float = 20.0
                     ) -> dict[str, Any]:
        """Accept or reject over the socket; the server's reply or error frame."""
        await self.send({"type": "offer.accept" if accept else "offer.reject",
                         "order_id": order_id})
        return await self.next("offer.accepted", "offer.rejected", "error", wait_s=wait_s,
                               where=lambda f: f.get("order_id") == order_id)

    async def keep_reporting(self, every_s: float = 0.5) -> None:
        """What an app does all shift: report status and position, forever."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.report()
                await asyncio.sleep(every_s)

    async def accept_everything(self) -> None:
        """Accept every offer as it comes (replies are not awaited)."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                offer = await self.next("offer", wait_s=3600)
                await self.send({"type": "offer.accept", "order_id": offer["order_id"]})

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                frame = orjson.loads(raw)
                self.seen.append(frame)
                await self.frames.put(frame)


@contextlib.asynccontextmanager
async def rider_app(url: str, token: str, rider_id: str, *, report: bool = True
                    ) -> AsyncIterator[RiderApp]:
    """A connected, authenticated rider (available at the centre unless `report=False`)."""
    async with connect(url, open_timeout=20) as ws:
        await ws.send(orjson.dumps({"type": "hello", "token": token}).decode())
        app = RiderApp(rider_id=rider_id, ws=ws)
        reader = asyncio.create_task(app._read())
        try:
            await app.next("welcome")
            if report:
                await app.report()
            yield app
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
