"""Nearby: k-nearest available riders from the H3 live store, beside Redis's own GEOSEARCH.

Riders are spread uniformly over a 30 km x 30 km city and written through the
store; the same points go into a Redis geo set. Both answer the same random
queries (k = 10 within 3 km) from this process (pinned to core 1; Redis on core 0):
sequential queries give p50/p99 latency (ours and GEOSEARCH taking turns point by
point), 32 concurrent callers give queries/s (three rounds each, in turn; the ratio
is the median of the rounds' ratios). Our query also filters by status and freshness,
which GEOSEARCH does not.

Run: python -m benchmarks.nearby [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable

import uvloop
from redis.asyncio import Redis

from benchmarks._support import emit, pct, pin_to_core, run_queue_wait_seconds
from dispatch.live.client import connect_redis
from dispatch.live.models import PositionWrite
from dispatch.live.store import LiveStore, now_ms
from dispatch.redis_server import EmbeddedRedis

CENTRE = (4.65, -74.10)
SPAN_DEG = 0.27  # ~30 km
RADIUS_M = 3000.0
K = 10
CONCURRENCY = 32
ROUNDS = 3  # throughput rounds, ours and GEOSEARCH in turn
GEO_KEY = "bench:geo"


def random_point(rng: random.Random) -> tuple[float, float]:
    return (CENTRE[0] + (rng.random() - 0.5) * SPAN_DEG,
            CENTRE[1] + (rng.random() - 0.5) * SPAN_DEG)


async def populate(store: LiveStore, redis: Redis, riders: int, rng: random.Random) -> None:
    await redis.flushall()
    at = now_ms()
    for start in range(0, riders, 2000):
        writes, geo = [], []
        for i in range(start, min(riders, start + 2000)):
            lat, lng = random_point(rng)
            writes.append(PositionWrite(region="bench", rider_id=f"r{i}", lat=lat, lng=lng,
                                        ts_ms=at, seq=1, extra="", status_hint="available",
                                        conn="bench"))
            geo.extend((lng, lat, f"r{i}"))
        await store.apply_positions("bench", writes, at_ms=at)
        await redis.geoadd(GEO_KEY, geo)


Query = Callable[[float, float], Awaitable[object]]


async def latencies(queries: list[Query], points: list) -> list[list[float]]:
    """Each query's latency (ms) at every point; the queries take turns point by point, so
    that a shared machine's drifting load falls on them alike."""
    out: list[list[float]] = [[] for _ in queries]
    for lat, lng in points:
        for times, query in zip(out, queries, strict=True):
            t = time.perf_counter()
            await query(lat, lng)
            times.append((time.perf_counter() - t) * 1000)
    return out


async def rate(query: Query, points: list) -> float:
    it = iter(points)

    async def worker() -> None:
        for lat, lng in it:
            await query(lat, lng)

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(points) / (time.perf_counter() - t)


async def rates(queries: list[Query], points: list) -> list[list[float]]:
    """Each query's queries/s in ROUNDS rounds over a share of the points, taking turns."""
    out: list[list[float]] = [[] for _ in queries]
    for i in range(ROUNDS):
        for qps, query in zip(out, queries, strict=True):
            qps.append(await rate(query, points[i::ROUNDS]))
    return out


async def redis_us_per_call(redis: Redis, command: str) -> float:
    """Microseconds Redis spent per call of `command` since its statistics were reset:
    the server's own time, which a busy client does not inflate."""
    stats = (await redis.info("commandstats")).get(f"cmdstat_{command}", {})
    return round(float(stats.get("usec", 0)) / max(1, int(stats.get("calls", 0))), 1)


def waits(pids: list[int]) -> list[float]:
    """Seconds each process has waited for a CPU so far, and the wall clock last."""
    return [*(run_queue_wait_seconds(pid) for pid in pids), time.perf_counter()]


async def measure(url: str, redis_pid: int, riders: int, queries: int, seed: int
                  ) -> dict[str, float]:
    rng = random.Random(seed)
    redis = connect_redis(url, timeout_s=5.0)
    store = LiveStore(redis, stale_after_s=3600)
    try:
        await populate(store, redis, riders, rng)
        points = [random_point(rng) for _ in range(queries)]

        async def ours(lat: float, lng: float) -> object:
            return await store.nearby("bench", lat, lng, radius_m=RADIUS_M, k=K)

        async def geosearch(lat: float, lng: float) -> object:
            return await redis.geosearch(GEO_KEY, longitude=lng, latitude=lat, radius=RADIUS_M,
                                         unit="m", sort="ASC", count=K, withdist=True)

        found = [len(await ours(lat, lng)) for lat, lng in points[:200]]
        before = waits([redis_pid, os.getpid()])
        ours_ms, geo_ms = await latencies([ours, geosearch], points)
        after = waits([redis_pid, os.getpid()])
        await redis.config_resetstat()
        ours_qps, geo_qps = await rates([ours, geosearch], points)
        # (every nearby round trip is one EVALSHA; a query makes ~1.01 of them)
        ours_redis_us = await redis_us_per_call(redis, "evalsha")
        geo_redis_us = await redis_us_per_call(redis, "geosearch")
    finally:
        await redis.aclose()
    return {
        "riders": riders,
        "p50_ms": round(pct(ours_ms, 50), 3),
        "p99_ms": round(pct(ours_ms, 99), 3),
        "qps": round(statistics.median(ours_qps)),
        "geosearch_p50_ms": round(pct(geo_ms, 50), 3),
        "geosearch_p99_ms": round(pct(geo_ms, 99), 3),
        "geosearch_qps": round(statistics.median(geo_qps)),
        "qps_vs_geosearch": round(statistics.median(
            o / g for o, g in zip(ours_qps, geo_qps, strict=True)), 2),
        "mean_results": round(sum(found) / len(found), 2),
        "redis_us_per_call": ours_redis_us,
        "geosearch_redis_us_per_call": geo_redis_us,
        # Share of the sequential phases each process spent runnable but waiting for a
        # CPU: on a shared machine the latency tail is mostly this.
        "redis_runq_wait": round((after[0] - before[0]) / (after[2] - before[2]), 2),
        "client_runq_wait": round((after[1] - before[1]) / (after[2] - before[2]), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run under a minute")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    queries = 2000 if args.quick else 10_000
    pin_to_core(1)
    results = []
    with EmbeddedRedis() as server:
        os.sched_setaffinity(server.pid, {0})
        for riders in (10_000, 100_000):
            result = uvloop.run(measure(server.url, server.pid, riders, queries, args.seed))
            print("  ".join(f"{k}={v}" for k, v in result.items()))
            results.append(result)
    emit({**results[-1], "queries": queries, "radius_m": RADIUS_M, "k": K,
          "by_size": results})


if __name__ == "__main__":
    main()
