"""Ingest: rider fixes per second through one service process into Redis, beside raw redis-py.

The service runs in its own process pinned to core 0; this process is the load
generator (riders as real websocket clients) pinned to core 1. The redis-server is
started by this process, so it shares core 1 with the load generator unless
`--redis-cores` says otherwise (`0`: beside the service; `0,1`: wherever the kernel
puts it). Phases:

1. connect every rider and read the server's RSS growth per connection;
2. batched frames (100 fixes each) from many riders, acknowledged: fixes/s;
3. single-fix frames, acknowledged: frames/s;
4. every connected rider sending one fix a second: ack latency p50/p99;
5. baseline: the same records written straight to the same Redis with pipelined
   redis-py (one HSET per fix), from this process.

Each rider keeps one frame in flight and sends the next when its ack arrives, as a
rider app that waits for acks would. The riders are plain asyncio protocols that
frame websocket messages themselves: with the `websockets` client (a task hop and
several Python layers per message) this process needed more CPU per frame than the
service and measured itself. For the same reason this process, once its riders are
connected, freezes them out of its garbage collector and collects its young generation
every 50,000 allocations, as `dispatch serve` does (`dispatch.gc_policy`): with
Python's defaults its own full collections (0.3-0.4 s over 10,000 riders' objects)
held acks unread and counted as the service's latency. The full collections of both
processes during the latency phase are reported.

Run: python -m benchmarks.ingest [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import random
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import uvloop
from redis.asyncio import Redis

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

from benchmarks._support import (
    cpu_seconds,
    emit,
    pct,
    pin_to_core,
    raise_fd_limit,
    rss_kb,
    run_queue_wait_seconds,
    service_process,
)
from dispatch.auth.tokens import TokenSigner
from dispatch.gc_policy import YOUNG_THRESHOLD, tune_collector
from dispatch.redis_server import EmbeddedRedis

SECRET = "benchmark-secret-key-long-enough-for-hs256-signing"
CENTRE = (4.65, -74.08)  # Bogotá
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
FIX_FRAME = b'{"type":"fix","seq":%d,"lat":%.7f,"lng":%.7f,"ts":%d,"speed":8.5}'


@dataclass
class Plan:
    riders: int
    batched_riders: int
    single_riders: int
    seconds: float
    latency_seconds: float
    batch_size: int = 100


def client_frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One masked client frame (RFC 6455: clients mask every frame)."""
    mask = random.randbytes(4)
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65_536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return head + mask + apply_mask(payload, mask)


class Rider(asyncio.Protocol):
    """One rider's websocket: the upgrade, hello and welcome, then `on_message` per frame."""

    def __init__(self, rider_id: str, port: int, hello: bytes) -> None:
        self.rider_id = rider_id
        self.port = port
        self.hello = hello
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upgraded = False
        self.welcome: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future())
        self.on_message: Callable[[Rider, dict[str, Any]], None] | None = None
        self.seq = 0
        self.lat = CENTRE[0] + random.uniform(-0.08, 0.08)
        self.lng = CENTRE[1] + random.uniform(-0.08, 0.08)
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((  # type: ignore[attr-defined]
            f"GET /v1/riders/stream HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.welcome.done():
            self.welcome.set_exception(ConnectionError(f"{self.rider_id}: closed ({exc})"))

    def send(self, payload: bytes, opcode: int = TEXT) -> None:
        assert self.transport is not None
        self.transport.write(client_frame(payload, opcode))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data if self.buffer else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"upgrade refused: {buf[:200]!r}")
            self.upgraded = True
            buf = buf[end + 4:]
            self.send(self.hello)
        pos, end = 0, len(buf)
        while end - pos >= 2:  # server frames are not masked
            size, start = buf[pos + 1] & 0x7F, pos + 2
            if size == 126:
                size, start = int.from_bytes(buf[pos + 2:pos + 4], "big"), pos + 4
            elif size == 127:
                size, start = int.from_bytes(buf[pos + 2:pos + 10], "big"), pos + 10
            if start > end or start + size > end:
                break
            self._frame(buf[pos] & 0x0F, buf[start:start + size])
            pos = start + size
        self.buffer = buf[pos:]

    def _frame(self, opcode: int, payload: bytes) -> None:
        if opcode == TEXT:
            message = orjson.loads(payload)
            if self.on_message is not None:
                self.on_message(self, message)
            elif not self.welcome.done():
                self.welcome.set_result(message)
        elif opcode == PING:
            self.send(payload, PONG)
        elif opcode == CLOSE and self.transport is not None:
            self.transport.close()

    def fixes(self, n: int) -> list[dict[str, object]]:
        now = time.time_ns() // 1_000_000
        out: list[dict[str, object]] = []
        for i in range(n):
            self.seq += 1
            self.lat += random.uniform(-1e-4, 1e-4)
            self.lng += random.uniform(-1e-4, 1e-4)
            out.append({"seq": self.seq, "lat": self.lat, "lng": self.lng,
                        "ts": now - n + i + 1, "speed": 8.5})
        return out

    def fix_frame(self) -> bytes:
        """One `fix` message, formatted directly (the paced phase sends ~10,000 a second)."""
        self.seq += 1
        self.lat += (random.random() - 0.5) * 2e-4
        self.lng += (random.random() - 0.5) * 2e-4
        return FIX_FRAME % (self.seq, self.lat, self.lng, time.time_ns() // 1_000_000)

    def frame_of(self, batch: int) -> bytes:
        """A `fix` frame (batch 1) or a `fixes` frame of `batch` fixes."""
        if batch == 1:
            return self.fix_frame()
        return orjson.dumps({"type": "fixes", "fixes": self.fixes(batch)})

    def close(self) -> None:
        if self.transport is not None:
            self.send(b"\x03\xe8", CLOSE)
            self.transport.close()


async def connect_rider(port: int, signer: TokenSigner, i: int) -> Rider:
    rider_id = f"bench-{i}"
    hello = orjson.dumps({"type": "hello", "token": signer.mint(
        rider_id, "rider", region="bench", ttl_s=3600)})
    _, rider = await asyncio.get_running_loop().create_connection(
        lambda: Rider(rider_id, port, hello), "127.0.0.1", port)
    welcome = await asyncio.wait_for(rider.welcome, 60)
    assert welcome["type"] == "welcome", welcome
    rider.seq = max(0, welcome["last_seq"])
    return rider


async def connect_all(port: int, signer: TokenSigner, n: int) -> list[Rider]:
    gate = asyncio.Semaphore(100)

    async def one(i: int) -> Rider:
        async with gate:
            return await connect_rider(port, signer, i)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def _expect_ack(message: dict[str, Any]) -> int:
    if message["type"] != "ack":
        raise RuntimeError(f"expected an ack, got {message}")
    return int(message["n"])


async def run_riders(riders: list[Rider], start: Callable[[Rider], object],
                     on_ack: Callable[[Rider, int], bool], *, timeout_s: float) -> None:
    """Start every rider, then hand each ack to `on_ack` until it returns False for all."""
    done = asyncio.get_running_loop().create_future()
    live = len(riders)

    def on_message(rider: Rider, message: dict[str, Any]) -> None:
        nonlocal live
        try:
            going = on_ack(rider, _expect_ack(message))
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)
            return
        if not going:
            live -= 1
            if not live and not done.done():
                done.set_result(None)

    for rider in riders:
        rider.on_message = on_message
    for rider in riders:
        start(rider)
    try:
        async with asyncio.timeout(timeout_s):
            await done
    finally:
        for rider in riders:
            rider.on_message = None


async def throughput(riders: list[Rider], seconds: float, batch: int) -> float:
    """Fixes acknowledged per second with every rider sending its next frame on each ack."""
    stop = time.perf_counter() + seconds
    acked = 0

    def on_ack(rider: Rider, n: int) -> bool:
        nonlocal acked
        acked += n
        if time.perf_counter() < stop:
            rider.send(rider.frame_of(batch))
            return True
        return False

    started = time.perf_counter()
    await run_riders(riders, lambda rider: rider.send(rider.frame_of(batch)), on_ack,
                     timeout_s=seconds + 30)
    return acked / (time.perf_counter() - started)


TICK_S = 0.01  # the paced phase's send schedule: one tick per 10 ms, 100 to the second


async def paced(riders: list[Rider], seconds: float) -> list[float]:
    """Every rider sends one fix a second; returns ack latencies in ms.

    Each rider has a fixed place among the second's 100 ticks (spread evenly), and one
    timer serves every rider of a tick: a timer per rider per second cost this process
    more CPU than anything but the sockets, CPU that the redis-server sharing its core
    then waited for. A rider whose previous ack has not come when its tick does sends
    as soon as it comes, so every rider keeps one frame in flight, as before.
    """
    loop = asyncio.get_running_loop()
    ticks = round(1 / TICK_S)
    slots: list[list[Rider]] = [[] for _ in range(ticks)]
    for i, rider in enumerate(random.sample(riders, len(riders))):
        slots[i % ticks].append(rider)
    latencies: list[float] = []
    waiting: set[Rider] = set()
    overdue: set[Rider] = set()
    done = loop.create_future()
    finished = False

    def send(rider: Rider) -> None:
        rider.sent_at = time.perf_counter()
        waiting.add(rider)
        rider.send(rider.fix_frame())

    def on_message(rider: Rider, message: dict[str, Any]) -> None:
        try:
            _expect_ack(message)
        except RuntimeError as exc:
            if not done.done():
                done.set_exception(exc)
            return
        latencies.append((time.perf_counter() - rider.sent_at) * 1000)
        waiting.discard(rider)
        if rider in overdue and not finished:
            overdue.discard(rider)
            send(rider)
        elif finished and not waiting and not done.done():
            done.set_result(None)

    for rider in riders:
        rider.on_message = on_message
    started = loop.time()
    try:
        for tick in range(round((seconds + 1.0) / TICK_S)):
            delay = started + tick * TICK_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if done.done():
                break
            for rider in slots[tick % ticks]:
                if rider in waiting:
                    overdue.add(rider)
                else:
                    send(rider)
        finished = True
        if not waiting and not done.done():
            done.set_result(None)
        async with asyncio.timeout(30):
            await done
    finally:
        for rider in riders:
            rider.on_message = None
    return latencies


async def raw_redis(url: str, records: int, riders: int) -> float:
    """Records/s written straight to Redis with pipelined redis-py: one HSET per fix."""
    client = Redis.from_url(url)
    try:
        started = time.perf_counter()
        done = 0
        seq = 0
        while done < records:
            async with client.pipeline(transaction=False) as pipe:
                for _ in range(1000):
                    seq += 1
                    pipe.hset(f"raw:{seq % riders}", mapping={
                        "lat": CENTRE[0] + random.random() / 10, "lng": CENTRE[1],
                        "ts": seq, "seq": seq})
                await pipe.execute()
            done += 1000
        return done / (time.perf_counter() - started)
    finally:
        await client.aclose()


async def settle(pid: int, *, busy_share: float = 0.1, limit_s: float = 60.0) -> float:
    """Wait until the service is nearly idle; return the seconds waited.

    Connecting thousands of riders sets off work that outlasts the connections (each
    rider's pending offers are looked up in the database, four at a time); measured
    phases that overlap it charge it to the fixes.
    """
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        before = cpu_seconds(pid)
        await asyncio.sleep(1.0)
        if cpu_seconds(pid) - before < busy_share:
            break
    return time.perf_counter() - started


def server_full_collections(port: int) -> int | None:
    """How many full (generation 2) garbage collections the service has run (None from a
    service whose `/metrics` does not say)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = re.search(r'^python_gc_collections_total\{generation="2"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else None


def client_full_collections() -> int:
    return int(gc.get_stats()[2]["collections"])


async def run(plan: Plan, port: int, pid: int, redis_url: str, redis_pid: int
              ) -> dict[str, object]:
    signer = TokenSigner(SECRET)
    rss_before = rss_kb(pid)
    t0 = time.perf_counter()
    riders = await connect_all(port, signer, plan.riders)
    connect_s = time.perf_counter() - t0
    tune_collector(YOUNG_THRESHOLD)
    settle_s = await settle(pid)
    rss_after = rss_kb(pid)
    pids = {"server": pid, "client": os.getpid(), "redis": redis_pid}
    busy: dict[str, float | None] = {}

    def cpu_now() -> dict[str, float]:
        return {"wall": time.perf_counter(), "server_wait": run_queue_wait_seconds(pid),
                **{k: cpu_seconds(v) for k, v in pids.items()}}

    def record(phase: str, before: dict[str, float], after: dict[str, float]) -> None:
        wall = after["wall"] - before["wall"]
        for key in pids:
            busy[f"{key}_cpu_{phase}"] = round((after[key] - before[key]) / wall, 2)
        busy[f"server_runq_wait_{phase}"] = round(
            (after["server_wait"] - before["server_wait"]) / wall, 2)

    start = cpu_now()
    batched = await throughput(riders[:plan.batched_riders], plan.seconds, plan.batch_size)
    middle = cpu_now()
    single = await throughput(riders[:plan.single_riders], plan.seconds, 1)
    end = cpu_now()
    record("batched", start, middle)
    record("single", middle, end)
    single_cpu_s = end["server"] - middle["server"]
    single_frames = single * (end["wall"] - middle["wall"])
    full_gcs = (server_full_collections(port), client_full_collections())
    latencies = await paced(riders, plan.latency_seconds)
    record("latency", end, cpu_now())
    server_gcs = server_full_collections(port)
    busy["server_full_gcs_latency"] = (None if server_gcs is None or full_gcs[0] is None
                                       else server_gcs - full_gcs[0])
    busy["client_full_gcs_latency"] = client_full_collections() - full_gcs[1]
    records = int(max(batched, 50_000) * 3)
    raw = await raw_redis(redis_url, records, plan.riders)
    for rider in riders:
        rider.close()
    return {
        "riders": plan.riders,
        "connect_s": round(connect_s, 2),
        "settle_s": round(settle_s, 1),
        "fixes_per_s_batched": round(batched),
        "batch_size": plan.batch_size,
        "fixes_per_s_single": round(single),
        "server_cpu_us_per_single_frame": round(single_cpu_s / single_frames * 1e6, 1),
        "single_frames_per_server_cpu_s": round(single_frames / single_cpu_s),
        "ack_p50_ms": round(pct(latencies, 50), 2),
        "ack_p99_ms": round(pct(latencies, 99), 2),
        "acks_in_latency_phase": len(latencies),
        "rss_kb_per_rider": round((rss_after - rss_before) / plan.riders, 2),
        "server_rss_mb": round(rss_after / 1024, 1),
        "raw_redis_fixes_per_s": round(raw),
        "batched_vs_raw_redis": round(batched / raw, 2),
        "single_vs_raw_redis": round(single / raw, 2),
        **busy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run under a minute")
    parser.add_argument("--riders", type=int, default=None, help="riders connected")
    parser.add_argument("--redis-cores", default="1",
                        help="cores the redis-server may run on, e.g. 1 (default), 0 or 0,1")
    args = parser.parse_args()
    redis_cores = {int(core) for core in args.redis_cores.split(",")}
    plan = (Plan(riders=2000, batched_riders=200, single_riders=1000, seconds=5,
                 latency_seconds=8) if args.quick else
            Plan(riders=10_000, batched_riders=500, single_riders=2000, seconds=15,
                 latency_seconds=30))
    if args.riders:
        plan.riders = args.riders
    raise_fd_limit()
    pin_to_core(1)
    with EmbeddedRedis() as redis_server:
        os.sched_setaffinity(redis_server.pid, redis_cores)
        env = {"DISPATCH_REDIS_URL": redis_server.url, "DISPATCH_SECRET_KEY": SECRET,
               "DISPATCH_RATE_FRAMES_PER_S": "100000", "DISPATCH_RATE_BURST_FRAMES": "100000",
               "DISPATCH_STALE_AFTER_S": "600", "DISPATCH_RIDER_ACCOUNTS_REQUIRED": "false"}
        with service_process(env, core=0) as (port, pid):
            figures = uvloop.run(run(plan, port, pid, redis_server.url, redis_server.pid))
    figures["redis_cores"] = args.redis_cores
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    emit(figures)


if __name__ == "__main__":
    main()
