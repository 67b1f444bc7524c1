"""The live store against a real redis-server: one cell per rider, ordering, eviction."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import pytest
from redis.asyncio import Redis
from redis.client import NEVER_DECODE

from dispatch.live.keys import RegionKeys
from dispatch.live.models import PositionWrite, RiderStatus
from dispatch.live.scripts import CellRecord, decode_cell
from dispatch.live.store import LiveStore, now_ms
from geo.cells import cell_of

pytestmark = pytest.mark.asyncio

BERLIN = (52.52, 13.405)


def write(rider: str, lat: float, lng: float, ts: int, seq: int, status: str = "available",
          region: str = "city") -> PositionWrite:
    return PositionWrite(region=region, rider_id=rider, lat=lat, lng=lng, ts_ms=ts, seq=seq,
                         extra="", status_hint=status, conn="test:1")


async def raw_get(redis: Redis, key: str) -> bytes | None:
    """GET without decoding: a cell holds binary records."""
    value: bytes | None = await redis.execute_command("GET", key, **{NEVER_DECODE: True})
    return value


async def records_by_rider(redis: Redis, region: str = "city"
                           ) -> dict[str, list[tuple[str, int]]]:
    """Every (cell, slot) holding a record of each rider, read straight from Redis."""
    prefix = RegionKeys(region).cell_prefix
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    async for key in redis.scan_iter(match=prefix + "*", count=1000):
        records = decode_cell(await raw_get(redis, key) or b"")
        assert records, f"{key} is an empty cell left behind"
        for slot, record in enumerate(records):
            found[record.rider_id].append((key.removeprefix(prefix), slot))
    return found


async def cells_by_rider(redis: Redis, region: str = "city") -> dict[str, list[str]]:
    """Every cell each rider has a record in (once per record), read straight from Redis."""
    return {rider: [cell for cell, _ in places]
            for rider, places in (await records_by_rider(redis, region)).items()}


async def test_a_fix_puts_the_rider_in_the_cell_of_its_position(redis: Redis) -> None:
    store = LiveStore(redis)
    assert await store.apply_positions("city", [write("r1", *BERLIN, 1000, 1)]) == [True]
    assert await cells_by_rider(redis) == {"r1": [cell_of(*BERLIN, 9)]}
    state = await store.get_rider("city", "r1")
    assert state is not None and state.status == "available" and state.cell == cell_of(*BERLIN, 9)


async def test_riders_are_read_together_as_each_would_be_alone(redis: Redis) -> None:
    store = LiveStore(redis)
    await store.apply_positions("city", [write("r1", *BERLIN, 1000, 1),
                                         write("r2", BERLIN[0] + 0.01, BERLIN[1], 2000, 7, "busy")])
    together = await store.get_riders("city", ["r2", "nobody", "r1"])
    alone = [await store.get_rider("city", rider) for rider in ("r2", "nobody", "r1")]
    assert together == alone
    assert [s.status if s else None for s in together] == ["busy", None, "available"]
    assert await store.get_riders("city", []) == []


async def test_moving_between_cells_leaves_exactly_one_entry(redis: Redis) -> None:
    store = LiveStore(redis)
    await store.apply_positions("city", [write("r1", *BERLIN, 1000, 1)])
    await store.apply_positions("city", [write("r1", 52.60, 13.50, 2000, 2)])
    assert await cells_by_rider(redis) == {"r1": [cell_of(52.60, 13.50, 9)]}


async def test_older_and_duplicate_fixes_do_not_move_the_rider(redis: Redis) -> None:
    store = LiveStore(redis)
    assert await store.apply_positions("city", [write("r1", 52.6, 13.5, 2000, 5)]) == [True]
    assert await store.apply_positions("city", [write("r1", *BERLIN, 1000, 4)]) == [False]
    assert await store.apply_positions("city", [write("r1", *BERLIN, 2000, 5)]) == [False]
    assert await store.apply_positions("city", [write("r1", *BERLIN, 1500, 9)]) == [False]
    state = await store.get_rider("city", "r1")
    assert state is not None and (state.lat, state.ts_ms, state.last_seq) == (52.6, 2000, 9)


async def test_the_one_cell_invariant_holds_under_concurrent_updates(redis: Redis) -> None:
    """Many writers, status changes and evictions racing: every rider in one cell, its own."""
    store = LiveStore(redis, stale_after_s=0.05)
    rng = random.Random(7)
    riders = [f"r{i}" for i in range(60)]

    async def mover(worker: int) -> None:
        for step in range(40):
            batch = [write(r, 52.4 + rng.random() * 0.3, 13.2 + rng.random() * 0.4,
                           now_ms() + step, worker * 1000 + step)
                     for r in rng.sample(riders, 15)]
            await store.apply_positions("city", batch)

    async def churn() -> None:
        for _ in range(60):
            await store.set_status("city", rng.choice(riders), rng.choice(list(RiderStatus)))
            await store.evict_stale("city", at_ms=now_ms() + rng.choice([0, 100]))

    await asyncio.gather(*(mover(w) for w in range(6)), churn())
    placed = await records_by_rider(redis)
    for rider, places in placed.items():
        state = await store.get_rider("city", rider)
        assert state is not None
        slot = await redis.hget(RegionKeys("city").rider(rider), "slot")
        assert places == [(state.cell, int(slot or -1))], (
            f"{rider} in {places}, state says {state.cell} slot {slot}")
        assert state.cell == cell_of(state.lat, state.lng, 9)
    seen = set(await redis.zrange(RegionKeys("city").seen, 0, -1))
    assert seen == set(placed)


async def test_stale_riders_are_not_offered_and_are_evicted(redis: Redis) -> None:
    store = LiveStore(redis, stale_after_s=30)
    now = now_ms()
    await store.apply_positions("city", [write("old", *BERLIN, now - 60_000, 1)],
                                at_ms=now - 60_000)
    await store.apply_positions("city", [write("new", 52.5201, 13.4051, now, 1)], at_ms=now)
    found = await store.nearby("city", *BERLIN, radius_m=1000, k=10, at_ms=now)
    assert [r.rider_id for r in found] == ["new"]
    assert await store.count_fresh("city", at_ms=now) == 1
    assert await store.count_fresh("city", at_ms=now + 31_000) == 0
    assert await store.evict_stale("city", at_ms=now) == ["old"]
    assert set(await cells_by_rider(redis)) == {"new"}
    state = await store.get_rider("city", "old")
    assert state is not None and state.cell is None and state.lat == BERLIN[0]
    # Its next fix brings it back.
    await store.apply_positions("city", [write("old", *BERLIN, now + 1, 2)], at_ms=now)
    assert set(await cells_by_rider(redis)) == {"new", "old"}


async def test_nearby_works_after_redis_forgets_its_scripts(redis: Redis) -> None:
    store = LiveStore(redis)
    await store.apply_positions("city", [write("a", *BERLIN, 1, 1)], at_ms=now_ms())
    before = await store.nearby("city", *BERLIN, radius_m=500, k=5)
    await redis.script_flush()  # as after a restart, or on a server that never saw them
    assert await store.nearby("city", *BERLIN, radius_m=500, k=5) == before
    assert [r.rider_id for r in before] == ["a"]


async def test_status_and_load_filter_nearby_results(redis: Redis) -> None:
    store = LiveStore(redis)
    await store.apply_positions("city", [write("a", *BERLIN, 1, 1), write("b", 52.5202, 13.4052,
                                                                          1, 1)], at_ms=now_ms())
    await store.set_status("city", "b", RiderStatus.ON_BREAK)
    await store.set_load("city", "a", 2)
    near = await store.nearby("city", *BERLIN, radius_m=500, k=5)
    assert [r.rider_id for r in near] == ["a"] and near[0].load == 2
    assert [r.rider_id for r in await store.nearby(
        "city", *BERLIN, radius_m=500, k=5, max_load=1)] == []
    anyone = await store.nearby("city", *BERLIN, radius_m=500, k=5, status=None)
    assert {r.rider_id: r.status for r in anyone} == {"a": "available", "b": "on_break"}


async def test_offline_after_grace_only_applies_to_the_connection_that_dropped(
    redis: Redis,
) -> None:
    store = LiveStore(redis)
    await store.attach("city", "r1", "w1:1")
    await store.set_status("city", "r1", RiderStatus.AVAILABLE)
    await store.attach("city", "r1", "w2:7")  # reconnected on another worker
    assert not await store.set_status("city", "r1", RiderStatus.OFFLINE, only_conn="w1:1")
    assert (await store.get_rider("city", "r1")).status == "available"  # type: ignore[union-attr]
    assert await store.set_status("city", "r1", RiderStatus.OFFLINE, only_conn="w2:7")


async def test_regions_are_isolated(redis: Redis) -> None:
    store = LiveStore(redis)
    await store.apply_positions("north", [write("r1", *BERLIN, 1, 1, region="north")])
    assert await store.nearby("south", *BERLIN, radius_m=1000, k=5) == []
    assert len(await store.nearby("north", *BERLIN, radius_m=1000, k=5)) == 1


async def test_a_cell_record_holds_the_position_status_and_load(redis: Redis) -> None:
    store = LiveStore(redis)
    lat, lng = 52.520008123456789, 13.404954987654321
    await store.apply_positions("city", [write("r1", lat, lng, 1000, 1)], at_ms=5000)
    await store.set_load("city", "r1", 3)
    await store.set_status("city", "r1", RiderStatus.BUSY)
    (record,) = decode_cell(await raw_get(redis, RegionKeys("city").cell(cell_of(lat, lng, 9)))
                            or b"")
    assert record == CellRecord("r1", lat, lng, 5000, 3, "busy")
    (found,) = await store.nearby("city", lat, lng, radius_m=10, k=1, at_ms=5000, status=None)
    assert (found.lat, found.lng, found.load, found.status, found.last_seen_ms) == (
        lat, lng, 3, "busy", 5000)


async def test_leaving_a_cell_moves_its_last_record_into_the_gap(redis: Redis) -> None:
    """Riders sharing a cell leave it in every order; the others stay findable, each at the
    slot its hash names, and the last to leave deletes the cell."""
    store = LiveStore(redis)
    riders = [f"r{i}" for i in range(5)]
    spot = (52.5205, 13.4055)
    await store.apply_positions("city", [write(r, *spot, 1, 1) for r in riders], at_ms=now_ms())
    for step, rider in enumerate(["r1", "r4", "r0", "r2", "r3"], start=2):
        await store.apply_positions("city", [write(rider, 52.60, 13.50, step, step)],
                                    at_ms=now_ms())
        placed = await records_by_rider(redis)
        for other, places in placed.items():
            slot = await redis.hget(RegionKeys("city").rider(other), "slot")
            assert len(places) == 1 and places[0][1] == int(slot or -1)
        near = await store.nearby("city", *spot, radius_m=50, k=10)
        assert len(near) == len(riders) - (step - 1)
    assert await raw_get(redis, RegionKeys("city").cell(cell_of(*spot, 9))) is None


async def test_riders_at_the_same_distance_are_ranked_by_id(redis: Redis) -> None:
    """Equal distances (here, riders on one spot) are ordered by id, the k smallest kept,
    however the writes fell into the cell."""
    store = LiveStore(redis)
    ids = [f"r{i}" for i in (7, 3, 9, 1, 5, 8, 2)]
    await store.apply_positions("city", [write(r, 52.5205, 13.4055, 1, 1) for r in ids],
                                at_ms=now_ms())
    await store.apply_positions("city", [write("near", 52.5201, 13.4051, 1, 1)], at_ms=now_ms())
    found = await store.nearby("city", *BERLIN, radius_m=1000, k=4)
    assert [r.rider_id for r in found] == ["near", "r1", "r2", "r3"]
    assert found[1].distance_m == found[2].distance_m == found[3].distance_m > 0


async def test_rider_ids_a_record_cannot_hold_are_refused_alone(redis: Redis) -> None:
    store = LiveStore(redis)
    outcomes = await store.apply_positions("city", [write("a", *BERLIN, 1, 1),
                                                    write("x" * 65, *BERLIN, 1, 1),
                                                    write("b|c" + "y" * 61, *BERLIN, 1, 1)])
    assert outcomes[0] is True and isinstance(outcomes[1], ValueError) and outcomes[2] is True
    found = await store.nearby("city", *BERLIN, radius_m=100, k=5)
    assert sorted(r.rider_id for r in found) == ["a", "b|c" + "y" * 61]


async def test_rider_ids_holding_the_batch_separators_are_stored_as_they_are(
    redis: Redis,
) -> None:
    # A batch travels as one argument of lines split by '|'; ids are escaped in it.
    ids = ["p|q", "n\nl", "100%", "a%7Cb", "%0A", "plain"]
    store = LiveStore(redis)
    outcomes = await store.apply_positions("city", [
        write(rider, BERLIN[0] + i * 1e-5, BERLIN[1], 1, i + 1) for i, rider in enumerate(ids)])
    assert outcomes == [True] * len(ids)
    found = await store.nearby("city", *BERLIN, radius_m=100, k=10)
    assert sorted(r.rider_id for r in found) == sorted(ids)
    states = await store.get_riders("city", ids)
    assert [(s.rider_id, s.last_seq) for s in states if s] == [
        (rider, i + 1) for i, rider in enumerate(ids)]


async def test_coordinates_are_stored_and_read_back_exactly(redis: Redis) -> None:
    store = LiveStore(redis)
    spots = [(52.520008123456789, 13.404954987654321), (-33.868820000000001, -151.20929),
             (0.1 + 0.2, -0.0), (89.99999999999999, 179.99999999999997)]
    await store.apply_positions("city", [write(f"r{i}", lat, lng, 1, 1)
                                         for i, (lat, lng) in enumerate(spots)])
    states = await store.get_riders("city", [f"r{i}" for i in range(len(spots))])
    assert [(s.lat, s.lng) for s in states if s] == spots
    found = await store.nearby("city", *spots[0], radius_m=10, k=1)
    assert (found[0].lat, found[0].lng, found[0].distance_m) == (*spots[0], 0.0)


async def test_a_position_stored_in_decimal_is_still_read(redis: Redis) -> None:
    # as every fix was stored before coordinates went hexadecimal
    await redis.hset(RegionKeys("city").rider("old"), mapping={"lat": "52.52", "lng": "-13.4"})
    state = await LiveStore(redis).get_rider("city", "old")
    assert state is not None and (state.lat, state.lng) == (52.52, -13.4)



async def test_each_fix_renews_the_riders_time_to_live(redis: Redis) -> None:
    store = LiveStore(redis, rider_ttl_s=600)
    key = RegionKeys("city").rider("r1")
    await store.apply_positions("city", [write("r1", *BERLIN, 1000, 1)])
    assert 595 <= await redis.ttl(key) <= 600
    await redis.expire(key, 5)  # as if most of the time had passed
    assert await store.apply_positions("city", [write("r1", *BERLIN, 2000, 2)]) == [True]
    assert 595 <= await redis.ttl(key) <= 600
    await redis.expire(key, 5)  # an older fix is not a sign of life worth a day
    assert await store.apply_positions("city", [write("r1", *BERLIN, 1500, 3)]) == [False]
    assert await redis.ttl(key) <= 5


async def test_a_fix_keeps_status_and_load_and_takes_the_new_connection(redis: Redis) -> None:
    store = LiveStore(redis)
    await store.apply_positions("city", [write("r1", *BERLIN, 1000, 1)])
    await store.set_status("city", "r1", RiderStatus.BUSY)
    await store.set_load("city", "r1", 2)
    moved = write("r1", BERLIN[0] + 1e-5, BERLIN[1], 2000, 2, status="available")
    await store.apply_positions("city", [moved._replace(conn="test:2")])
    state = await store.get_rider("city", "r1")
    assert state is not None and (state.status, state.load, state.lat) == (
        "busy", 2, BERLIN[0] + 1e-5)
    assert await redis.hget(RegionKeys("city").rider("r1"), "conn") == "test:2"
    [found] = await store.nearby("city", *BERLIN, radius_m=100, k=1, status=None)
    assert (found.status, found.load) == ("busy", 2)


async def test_a_batch_of_thousands_marks_every_rider_seen(redis: Redis) -> None:
    """`seen` is written in chunks (Lua's `unpack` is bounded): none is dropped at the seams."""
    store = LiveStore(redis)
    now = now_ms()
    batch = [write(f"r{i}", BERLIN[0] + i * 1e-6, BERLIN[1], now, 1) for i in range(2_345)]
    assert await store.apply_positions("city", batch, at_ms=now) == [True] * len(batch)
    scores = await redis.zrange(RegionKeys("city").seen, 0, -1, withscores=True)
    assert sorted(rider for rider, _ in scores) == sorted(w.rider_id for w in batch)
    assert {score for _, score in scores} == {now}
