"""`RiderSession`: one rider's app on the network, driving a `RiderAgent`.

One task per rider. It waits for the next frame from the server or the next due moment
(whichever comes first), so an idle rider costs one timer. Fixes are kept until an ack
covers them; after a drop-out the rider reconnects, and re-sends every fix above the
welcome's `last_seq` in `fixes` frames. Answers go over the socket (over HTTP while
disconnected); pickups and deliveries over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from simulators.live.agent import Action, RiderAgent
from simulators.live.api import Account, ServiceApi
from simulators.live.clock import Pacer, SimClock
from simulators.live.journal import Journal, StreamStats
from simulators.live.params import LiveParams

MAX_BATCH = 500
MAX_BUFFER = 5000
RETRY_WALL_S = 1.0
MAX_RETRY_WALL_S = 30.0
CONNECT_ERRORS = (OSError, TimeoutError, WebSocketException)


@dataclass
class FleetEnv:
    """What every rider session of a process shares."""

    ws_url: str
    clock: SimClock
    api: ServiceApi
    params: LiveParams
    stats: StreamStats
    journal: Journal
    pacer: Pacer | None = None  # paces first connections; None connects at once
    connect_lead_s: float = 0.0  # wall seconds before its shift that a rider connects


class RiderSession:
    """The network side of one rider."""

    def __init__(self, agent: RiderAgent, account: Account, env: FleetEnv) -> None:
        self.agent, self.account, self.env = agent, account, env
        self.ws: ClientConnection | None = None
        self.unacked: deque[dict[str, Any]] = deque()
        self.seen_offers: set[str] = set()
        self.offer_routes: dict[str, list[dict[str, Any]]] = {}
        self.answers_sent: dict[str, bool] = {}  # order id -> accepted, until confirmed
        self.reconnect_at = 0.0  # loop time
        self.failures = 0  # connection attempts failed or cut by the server in a row
        self.finished = False

    async def run(self) -> None:
        """Ride until the shift ends (or the task is cancelled).

        The app opens `connect_lead_s` before the shift starts, at the next of the fleet's
        paced connection slots (`Pacer`)."""
        loop = asyncio.get_running_loop()
        env = self.env
        self.reconnect_at = env.clock.loop_of(self.agent.profile.shift_start_s) - env.connect_lead_s
        first = True
        try:
            while not self.finished:
                if self.ws is None and loop.time() >= self.reconnect_at:
                    if first and env.pacer is not None:
                        await env.pacer.slot()
                    first = False
                    await self._connect()
                wake = self.env.clock.loop_of(self.agent.next_due_s())
                if self.ws is None:
                    wake = min(wake, self.reconnect_at)
                if wake > loop.time() and not await self._wait(wake):
                    continue
                await self._tick()
        finally:
            await self._close()

    async def _wait(self, wake: float) -> bool:
        """Read frames until `wake`; False if a frame (or a close) came first."""
        if self.ws is None:
            await asyncio.sleep(wake - asyncio.get_running_loop().time())
            return True
        try:
            async with asyncio.timeout_at(wake):
                raw = await self.ws.recv()
        except TimeoutError:
            return True
        except ConnectionClosed as exc:
            self._lost(exc)
            return False
        await self._on_frame(orjson.loads(raw))
        return False

    async def _send(self, payload: dict[str, Any]) -> None:
        if self.ws is None:
            return
        try:
            await self.ws.send(orjson.dumps(payload).decode())
            self.env.stats.counts["frames_sent"] += 1
        except ConnectionClosed as exc:
            self._lost(exc)

    def _lost(self, exc: ConnectionClosed) -> None:
        code = exc.rcvd.code if exc.rcvd is not None else None
        self.env.stats.closes[str(code) if code is not None else "no_close_frame"] += 1
        self.ws = None
        self._back_off()

    def _back_off(self) -> None:
        """Retry later: exponential back-off with jitter, so that a fleet cut off at once
        does not come back at once."""
        self.failures += 1
        delay = min(MAX_RETRY_WALL_S, RETRY_WALL_S * 2 ** (self.failures - 1))
        self.reconnect_at = (asyncio.get_running_loop().time()
                             + delay * self.agent.rng.uniform(0.5, 1.5))

    async def _connect(self) -> None:
        stats = self.env.stats
        try:
            ws = await connect(self.env.ws_url, open_timeout=30, ping_interval=None,
                               compression=None, close_timeout=2)
            await ws.send(orjson.dumps({"type": "hello", "token": self.account.token}).decode())
            welcome = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        except ConnectionClosed as exc:  # the server refused the hello
            self._lost(exc)
            return
        except CONNECT_ERRORS as exc:
            stats.counts[f"connect_failed_{type(exc).__name__}"] += 1
            self._back_off()
            return
        if welcome.get("type") != "welcome":
            stats.errors[f"welcome_{welcome.get('code', welcome.get('type'))}"] += 1
            await ws.close()
            self._back_off()
            return
        stats.counts["connects"] += 1
        self.failures = 0
        self.ws = ws
        await self._resume(int(welcome["last_seq"]))

    async def _resume(self, last_seq: int) -> None:
        """Say we take work, and re-send the fixes the server does not hold."""
        while self.unacked and self.unacked[0]["seq"] <= last_seq:
            self.unacked.popleft()
        await self._send({"type": "status", "status": "available"})
        pending = list(self.unacked)
        for start in range(0, len(pending), MAX_BATCH):
            self.env.stats.counts["fixes_resent"] += len(pending[start:start + MAX_BATCH])
            await self._send({"type": "fixes", "fixes": pending[start:start + MAX_BATCH]})

    async def _tick(self) -> None:
        now = self.env.clock.now()
        # A drop-out that falls due while offline is skipped (and the next one scheduled):
        # left due, it would make every tick due at once and spin this task.
        if self.agent.dropout_due(now) and self.ws is not None:
            await self._drop()
        if now >= self.agent.next_fix_s:
            await self._record_fix(now)
        for action in self.agent.due_actions(now):
            await self._act(action)

    async def _drop(self) -> None:
        """Lose the network: no close handshake, back after a while."""
        assert self.ws is not None
        self.ws.transport.abort()
        self.ws = None
        self.env.stats.counts["dropouts"] += 1
        low, high = self.agent.params.offline_s
        offline = self.env.clock.wall_s(self.agent.rng.uniform(low, high))
        self.reconnect_at = asyncio.get_running_loop().time() + offline

    async def _record_fix(self, now: float) -> None:
        seq, lat, lng, speed = self.agent.fix(now)
        fix = {"seq": seq, "lat": round(lat, 7), "lng": round(lng, 7),
               "ts": int(self.env.clock.epoch_of(now) * 1000), "speed": round(speed, 2),
               "accuracy": self.agent.params.gps_noise_m * 1.5}
        self.unacked.append(fix)
        if len(self.unacked) > MAX_BUFFER:
            self.unacked.popleft()
            self.env.stats.counts["fixes_dropped_from_buffer"] += 1
        self.env.stats.counts["fixes_recorded"] += 1
        if self.ws is not None:
            await self._send({"type": "fix", **fix})

    async def _act(self, action: Action) -> None:
        if action.kind == "answer":
            await self._answer(action.order_id, action.accept)
        elif action.kind == "off":
            await self._send({"type": "status", "status": "offline"})
            self.finished = True
        else:
            await self._step(action)

    async def _answer(self, order_id: str, accept: bool) -> None:
        self.env.stats.counts["accepts" if accept else "rejects"] += 1
        verb = "accept" if accept else "reject"
        if self.ws is not None:
            self.answers_sent[order_id] = accept
            await self._send({"type": f"offer.{verb}", "order_id": order_id})
            return
        reply = await self.env.api.call("POST", f"/v1/orders/{order_id}/{verb}",
                                        token=self.account.token)
        if reply.status == 200 and accept:
            self._accepted(order_id, self.offer_routes.get(order_id))
        elif reply.status != 200:
            self.env.stats.counts[f"answer_http_{reply.error_code or reply.status}"] += 1

    def _accepted(self, order_id: str, route: list[dict[str, Any]] | None) -> None:
        self.env.journal.note(order_id, "accept", time.time())
        self.env.journal.events[order_id]["rider"] = self.agent.profile.index
        self.offer_routes.pop(order_id, None)
        self.answers_sent.pop(order_id, None)
        if route is not None:
            self.agent.set_route(route, self.env.clock.now())

    async def _step(self, action: Action) -> None:
        """Report a pickup or a delivery; a refusal drops the order from the route."""
        target = "picked_up" if action.kind == "pickup" else "delivered"
        reply = await self.env.api.call("POST", f"/v1/orders/{action.order_id}/{action.kind}",
                                        token=self.account.token)
        body = reply.body if isinstance(reply.body, dict) else {}
        ok = reply.status == 200 or target in (body.get("state"),
                                               (body.get("error") or {}).get("state"))
        if ok:
            self.env.journal.note(action.order_id, action.kind, time.time())
        else:
            self.env.stats.counts[f"step_refused_{reply.error_code or reply.status}"] += 1
        self.agent.finish_stop(self.env.clock.now(), ok)

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        stats = self.env.stats
        stats.counts[f"frames_{kind}"] += 1
        if kind == "ack":
            seq = int(frame["seq"])
            while self.unacked and self.unacked[0]["seq"] <= seq:
                self.unacked.popleft()
            stats.counts["fixes_acked"] += int(frame.get("n", 0))
        elif kind == "offer":
            self._offer(frame)
        elif kind == "offer.accepted":
            self._accepted(str(frame["order_id"]), list(frame.get("route") or []))
        elif kind == "offer.rejected":
            self.answers_sent.pop(str(frame["order_id"]), None)
        elif kind == "error":
            code = str(frame.get("code"))
            stats.errors["offer_" + code if "order_id" in frame else code] += 1
            if "order_id" in frame:
                order_id = str(frame["order_id"])
                if code == "store.unavailable":
                    self._answer_again(order_id)
                else:  # the offer lapsed or was withdrawn: nothing to answer any more
                    self.answers_sent.pop(order_id, None)

    def _answer_again(self, order_id: str) -> None:
        """The service did not record our answer: send it again after a second (wall)."""
        accept = self.answers_sent.pop(order_id, None)
        if accept is not None:
            self.env.stats.counts["answers_resent"] += 1
            self.agent.answers.append((self.env.clock.now() + self.env.clock.speed, order_id,
                                       accept))

    def _offer(self, frame: dict[str, Any]) -> None:
        if frame["offer_id"] in self.seen_offers:
            return
        self.seen_offers.add(frame["offer_id"])
        order_id = str(frame["order_id"])
        self.offer_routes[order_id] = list(frame.get("route") or [])
        self.env.journal.note(order_id, "offer", time.time())
        ready = self.env.clock.sim_of_epoch(int(frame["ready_at_ms"]) / 1000)
        self.agent.on_offer(order_id, ready, self.env.clock.now())

    async def _close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(*CONNECT_ERRORS):
                await asyncio.wait_for(self.ws.close(), 2)
            self.ws = None
