"""Nearby queries equal a brute-force scan of every rider (hypothesis, real redis-server)."""

from __future__ import annotations

import asyncio
import itertools
import math
import random

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from dispatch.live.models import PositionWrite, RiderStatus
from dispatch.live.store import LiveStore
from dispatch.redis_server import EmbeddedRedis
from geo.distance import EARTH_RADIUS_M, haversine_m

NOW = 1_800_000_000_000
STALE_AFTER_S = 60

rider_st = st.tuples(
    st.floats(-1.5, 1.5), st.floats(-1.5, 1.5),  # east, north of the query, in radii
    st.sampled_from([RiderStatus.AVAILABLE, RiderStatus.AVAILABLE, RiderStatus.BUSY]),
    st.integers(0, 90),  # seconds since the fix
)


def offset(lat: float, lng: float, east_m: float, north_m: float) -> tuple[float, float]:
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlng = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, (lng + dlng + 180) % 360 - 180


async def run_case(url: str, centre: tuple[float, float], riders: list, query: tuple,
                   radius: float, k: int, status: RiderStatus | None, resolution: int) -> None:
    client = Redis.from_url(url, decode_responses=True)
    try:
        await client.flushall()
        store = LiveStore(client, resolution=resolution, stale_after_s=STALE_AFTER_S)
        qlat, qlng = offset(*centre, *query)
        points = {}
        for i, (east, north, st_, age) in enumerate(riders):
            lat, lng = offset(qlat, qlng, east * radius, north * radius)
            rid = f"r{i:03d}"
            points[rid] = (lat, lng, st_.value, age)
            at = NOW - age * 1000
            await store.apply_positions("city", [PositionWrite(
                region="city", rider_id=rid, lat=lat, lng=lng, ts_ms=at, seq=1, extra="",
                status_hint=st_.value, conn="c")], at_ms=at)
        brute = sorted(
            (haversine_m(qlat, qlng, lat, lng), rid)
            for rid, (lat, lng, s, age) in points.items()
            if age * 1000 <= STALE_AFTER_S * 1000 and (status is None or s == status.value)
        )
        # Skip knife-edge cases where float rounding between Lua and Python may differ.
        assume(all(abs(d - radius) > 1e-3 for d, _ in brute))
        within = [(d, r) for d, r in brute if d <= radius]
        head = [d for d, _ in within[:k + 1]]
        assume(all(b - a > 1e-3 for a, b in itertools.pairwise(head)))
        expected = within[:k]
        event(f"results: {min(len(expected), 3)}+")
        got = await store.nearby("city", qlat, qlng, radius_m=radius, k=k, status=status,
                                 at_ms=NOW)
        assert [r.rider_id for r in got] == [r for _, r in expected]
        for result, (d, _) in zip(got, expected, strict=True):
            assert abs(result.distance_m - d) < 1e-3
    finally:
        await client.aclose()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    centre=st.tuples(st.floats(-65, 65), st.floats(-179.9, 179.9)),
    riders=st.lists(rider_st, min_size=8, max_size=60),
    query=st.tuples(st.floats(-1500, 1500), st.floats(-1500, 1500)),
    radius=st.floats(50, 5000),
    k=st.integers(1, 15),
    status=st.sampled_from([RiderStatus.AVAILABLE, None]),
    resolution=st.sampled_from([8, 9, 10]),
)
def test_nearby_equals_brute_force(
    redis_server: EmbeddedRedis, centre, riders, query, radius, k, status, resolution
) -> None:
    asyncio.run(run_case(redis_server.url, centre, riders, query, radius, k, status, resolution))


@pytest.mark.asyncio
async def test_nearby_equals_brute_force_in_a_dense_city(redis: Redis) -> None:
    """2,000 riders over a city, 150 queries of every radius: results equal brute force."""
    rng = random.Random(11)
    store = LiveStore(redis, stale_after_s=STALE_AFTER_S)
    points = {}
    writes = []
    for i in range(2000):
        lat, lng = 4.60 + rng.random() * 0.15, -74.15 + rng.random() * 0.12  # Bogotá-sized
        status = rng.choice([RiderStatus.AVAILABLE, RiderStatus.AVAILABLE, RiderStatus.BUSY])
        points[f"r{i}"] = (lat, lng, status.value)
        writes.append(PositionWrite(region="city", rider_id=f"r{i}", lat=lat, lng=lng,
                                    ts_ms=NOW, seq=1, extra="", status_hint=status.value,
                                    conn="c"))
    await store.apply_positions("city", writes, at_ms=NOW)
    for _ in range(150):
        qlat, qlng = 4.58 + rng.random() * 0.19, -74.17 + rng.random() * 0.16
        radius, k = rng.choice([100, 400, 1500, 5000, 15000]), rng.choice([1, 5, 20, 100])
        brute = sorted((haversine_m(qlat, qlng, lat, lng), rid)
                       for rid, (lat, lng, s) in points.items()
                       if s == "available")
        expected = [rid for d, rid in brute if d <= radius][:k]
        got = await store.nearby("city", qlat, qlng, radius_m=radius, k=k, at_ms=NOW)
        assert [r.rider_id for r in got] == expected
