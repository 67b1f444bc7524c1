"""Ingest: rider fixes per second through one service process into Redis, beside raw redis-py.

The service runs in its own process pinned to core 0; this process is the load
generator (riders as real websocket clients) pinned to core 1. Phases:

1. connect every rider and read the server's RSS growth per connection;
2. batched frames (100 fixes each) from many riders, acknowledged: fixes/s;
3. single-fix frames, acknowledged: frames/s;
4. every connected rider sending one fix a second: ack latency p50/p99;
5. baseline: the same records written straight to the same Redis with pipelined
   redis-py (one HSET per fix), from this process.

Run: python -m benchmarks.ingest [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from dataclasses import dataclass, field

import orjson
import uvloop
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from benchmarks._support import (
    cpu_seconds,
    emit,
    pct,
    pin_to_core,
    raise_fd_limit,
    rss_kb,
    service_process,
)
from dispatch.auth.tokens import TokenSigner
from dispatch.redis_server import EmbeddedRedis

SECRET = "benchmark-secret-key-long-enough-for-hs256-signing"
CENTRE = (4.65, -74.08)  # Bogotá


@dataclass
class Plan:
    riders: int
    batched_riders: int
    single_riders: int
    seconds: float
    latency_seconds: float
    batch_size: int = 100


@dataclass
class Rider:
    rider_id: str
    ws: ClientConnection
    seq: int = 0
    lat: float = CENTRE[0]
    lng: float = CENTRE[1]
    latencies: list[float] = field(default_factory=list)

    def fixes(self, n: int) -> list[dict[str, object]]:
        now = time.time_ns() // 1_000_000
        out = []
        for i in range(n):
            self.seq += 1
            self.lat += random.uniform(-1e-4, 1e-4)
            self.lng += random.uniform(-1e-4, 1e-4)
            out.append({"seq": self.seq, "lat": self.lat, "lng": self.lng,
                        "ts": now - n + i + 1, "speed": 8.5})
        return out


async def connect_rider(url: str, signer: TokenSigner, i: int) -> Rider:
    ws = await connect(url, compression=None, ping_interval=None, max_queue=None,
                       open_timeout=60)
    rider_id = f"bench-{i}"
    await ws.send(orjson.dumps({"type": "hello", "token": signer.mint(
        rider_id, "rider", region="bench", ttl_s=3600)}).decode())
    welcome = orjson.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    rider = Rider(rider_id, ws, seq=max(0, welcome["last_seq"]))
    rider.lat += random.uniform(-0.08, 0.08)
    rider.lng += random.uniform(-0.08, 0.08)
    return rider


async def connect_all(url: str, signer: TokenSigner, n: int) -> list[Rider]:
    gate = asyncio.Semaphore(100)

    async def one(i: int) -> Rider:
        async with gate:
            return await connect_rider(url, signer, i)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def send_and_ack(rider: Rider, payload: bytes) -> int:
    await rider.ws.send(payload.decode())
    reply = orjson.loads(await rider.ws.recv())
    if reply["type"] != "ack":
        raise RuntimeError(f"expected an ack, got {reply}")
    return int(reply["n"])


async def throughput(riders: list[Rider], seconds: float, batch: int) -> float:
    """Fixes acknowledged per second with every rider sending back-to-back frames."""
    stop = time.perf_counter() + seconds
    counts = [0] * len(riders)

    async def loop(k: int, rider: Rider) -> None:
        while time.perf_counter() < stop:
            if batch == 1:
                payload = orjson.dumps({"type": "fix", **rider.fixes(1)[0]})
            else:
                payload = orjson.dumps({"type": "fixes", "fixes": rider.fixes(batch)})
            counts[k] += await send_and_ack(rider, payload)

    started = time.perf_counter()
    await asyncio.gather(*(loop(k, r) for k, r in enumerate(riders)))
    return sum(counts) / (time.perf_counter() - started)


async def paced(riders: list[Rider], seconds: float) -> list[float]:
    """Every rider sends one fix a second; returns ack latencies in ms."""
    latencies: list[float] = []

    async def loop(rider: Rider) -> None:
        await asyncio.sleep(random.random())
        stop = time.perf_counter() + seconds
        while time.perf_counter() < stop:
            tick = time.perf_counter()
            await send_and_ack(rider, orjson.dumps({"type": "fix", **rider.fixes(1)[0]}))
            latencies.append((time.perf_counter() - tick) * 1000)
            await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - tick)))

    await asyncio.gather(*(loop(r) for r in riders))
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


async def run(plan: Plan, port: int, pid: int, redis_url: str, redis_pid: int
              ) -> dict[str, object]:
    signer = TokenSigner(SECRET)
    url = f"ws://127.0.0.1:{port}/v1/riders/stream"
    rss_before = rss_kb(pid)
    t0 = time.perf_counter()
    riders = await connect_all(url, signer, plan.riders)
    connect_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    rss_after = rss_kb(pid)
    pids = {"server": pid, "client": os.getpid(), "redis": redis_pid}
    busy: dict[str, float] = {}

    def cpu_now() -> dict[str, float]:
        return {"wall": time.perf_counter(), **{k: cpu_seconds(v) for k, v in pids.items()}}

    def record(phase: str, before: dict[str, float], after: dict[str, float]) -> None:
        wall = after["wall"] - before["wall"]
        for key in pids:
            busy[f"{key}_cpu_{phase}"] = round((after[key] - before[key]) / wall, 2)

    start = cpu_now()
    batched = await throughput(riders[:plan.batched_riders], plan.seconds, plan.batch_size)
    middle = cpu_now()
    single = await throughput(riders[:plan.single_riders], plan.seconds, 1)
    record("batched", start, middle)
    record("single", middle, cpu_now())
    latencies = await paced(riders, plan.latency_seconds)
    records = int(max(batched, 50_000) * 3)
    raw = await raw_redis(redis_url, records, plan.riders)
    await asyncio.gather(*(r.ws.close() for r in riders))
    return {
        "riders": plan.riders,
        "connect_s": round(connect_s, 2),
        "fixes_per_s_batched": round(batched),
        "batch_size": plan.batch_size,
        "fixes_per_s_single": round(single),
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
    args = parser.parse_args()
    plan = (Plan(riders=2000, batched_riders=200, single_riders=1000, seconds=5,
                 latency_seconds=8) if args.quick else
            Plan(riders=10_000, batched_riders=500, single_riders=2000, seconds=15,
                 latency_seconds=30))
    if args.riders:
        plan.riders = args.riders
    raise_fd_limit()
    pin_to_core(1)
    with EmbeddedRedis() as redis_server:
        env = {"DISPATCH_REDIS_URL": redis_server.url, "DISPATCH_SECRET_KEY": SECRET,
               "DISPATCH_RATE_FRAMES_PER_S": "100000", "DISPATCH_RATE_BURST_FRAMES": "100000",
               "DISPATCH_STALE_AFTER_S": "600", "DISPATCH_RIDER_ACCOUNTS_REQUIRED": "false"}
        with service_process(env, core=0) as (port, pid):
            figures = uvloop.run(run(plan, port, pid, redis_server.url, redis_server.pid))
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    emit(figures)


if __name__ == "__main__":
    main()
