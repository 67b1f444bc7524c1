"""Nearby: k-nearest available riders from the H3 live store, beside Redis's own GEOSEARCH.

Riders are spread uniformly over a 30 km x 30 km city and written through the
store; the same points go into a Redis geo set. Both answer the same random
queries (k = 10 within 3 km) from this process (pinned to core 1; Redis on core 0):
sequential queries give p50/p99 latency (ours and GEOSEARCH taking turns point by
point), 32 concurrent callers give queries/s (three rounds each, in turn; the ratio
is the median of the rounds' ratios). Then each side's CPU per query, Redis's (`INFO cpu`)
and this process's, from sequential blocks taken in turn: the figures a shared machine
disturbs least. Last, the Redis CPU per fix the index costs to keep up (batches of 100
small steps). Our query also filters by status and freshness, which GEOSEARCH does not.

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
CPU_POINTS = 500  # sequential queries per side in each round of the CPU measurement
WRITE_BATCHES = 300  # batches of 100 fixes for the index's write cost
GEO_KEY = "bench:geo"


def random_point(rng: random.Random) -> tuple[float, float]:
    return (CENTRE[0] + (rng.random() - 0.5) * SPAN_DEG,
            CENTRE[1] + (rng.random() - 0.5) * SPAN_DEG)


def fix(i: int, lat: float, lng: float, at: int) -> PositionWrite:
    return PositionWrite(region="bench", rider_id=f"r{i}", lat=lat, lng=lng, ts_ms=at, seq=at,
                         extra="", status_hint="available", conn="bench")


async def populate(store: LiveStore, redis: Redis, riders: int, rng: random.Random
                   ) -> list[tuple[float, float]]:
    """Write `riders` riders at random points (and the same points to the geo set)."""
    await redis.flushall()
    at = now_ms()
    positions = [random_point(rng) for _ in range(riders)]
    for start in range(0, riders, 2000):
        chunk = range(start, min(riders, start + 2000))
        await store.apply_positions("bench", [fix(i, *positions[i], at) for i in chunk],
                                    at_ms=at)
        await redis.geoadd(GEO_KEY, [v for i in chunk
                                     for v in (positions[i][1], positions[i][0], f"r{i}")])
    return positions


async def write_cost(store: LiveStore, redis: Redis, positions: list[tuple[float, float]],
                     rng: random.Random) -> float:
    """Redis CPU microseconds per applied fix: WRITE_BATCHES batches of 100 riders each
    stepping ~10 m (most stay in their cell), as the writer sends them under load."""
    batches = []
    at = now_ms()
    for _ in range(WRITE_BATCHES):
        at += 1
        batch = []
        for i in rng.sample(range(len(positions)), 100):
            lat, lng = positions[i]
            positions[i] = (lat + (rng.random() - 0.5) * 2e-4, lng + (rng.random() - 0.5) * 2e-4)
            batch.append(fix(i, *positions[i], at))
        batches.append(batch)
    before = await redis_cpu_s(redis)
    for batch in batches:
        await store.apply_positions("bench", batch, at_ms=at)
    return (await redis_cpu_s(redis) - before) * 1e6 / (100 * WRITE_BATCHES)


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


async def redis_cpu_s(redis: Redis) -> float:
    """CPU time (user + system) the Redis server has used so far."""
    info = await redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def cpu_costs(redis: Redis, queries: list[Query], points: list[tuple[float, float]]
                    ) -> list[tuple[float, float]]:
    """Each query's (Redis, client) CPU microseconds per query: the median over ROUNDS rounds
    of sequential queries, the queries taking turns block by block."""
    rounds: list[list[tuple[float, float]]] = [[] for _ in queries]
    for _ in range(ROUNDS):
        for costs, query in zip(rounds, queries, strict=True):
            server, client = await redis_cpu_s(redis), time.process_time()
            for lat, lng in points:
                await query(lat, lng)
            costs.append(((await redis_cpu_s(redis) - server) * 1e6 / len(points),
                          (time.process_time() - client) * 1e6 / len(points)))
    return [(statistics.median(s for s, _ in costs), statistics.median(c for _, c in costs))
            for costs in rounds]


def waits(pids: list[int]) -> list[float]:
    """Seconds each process has waited for a CPU so far, and the wall clock last."""
    return [*(run_queue_wait_seconds(pid) for pid in pids), time.perf_counter()]


async def measure(url: str, redis_pid: int, riders: int, queries: int, seed: int
                  ) -> dict[str, float]:
    rng = random.Random(seed)
    redis = connect_redis(url, timeout_s=5.0)
    store = LiveStore(redis, stale_after_s=3600)
    try:
        positions = await populate(store, redis, riders, rng)
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
        ours_qps, geo_qps = await rates([ours, geosearch], points)
        ours_cpu, geo_cpu = await cpu_costs(redis, [ours, geosearch], points[:CPU_POINTS])
        fix_cpu = await write_cost(store, redis, positions, rng)
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
        "redis_cpu_us": round(ours_cpu[0], 1),
        "geosearch_redis_cpu_us": round(geo_cpu[0], 1),
        "client_cpu_us": round(ours_cpu[1], 1),
        "geosearch_client_cpu_us": round(geo_cpu[1], 1),
        "redis_cpu_us_per_fix": round(fix_cpu, 1),
        "mean_results": round(sum(found) / len(found), 2),
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
