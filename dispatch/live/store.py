"""`LiveStore`: the async API over the live store's Redis keys and Lua scripts."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from redis.asyncio import Redis
from redis.client import NEVER_DECODE
from redis.exceptions import NoScriptError

from dispatch.live import scripts
from dispatch.live.keys import REGIONS_KEY, RegionKeys
from dispatch.live.models import NearbyRider, PositionWrite, RiderState, RiderStatus
from dispatch.live.pipe import RespPipe, unwrap_reply
from dispatch.live.scripts import RESULT, STATUS_NAMES, escape_id
from geo.cells import (
    cell_centre,
    cell_of,
    covered_radius_m,
    parent_of,
    ring,
    ring_base_m,
    rings_for_radius,
)
from geo.distance import haversine_m

FIRST_DISK_RINGS = 2
MAX_HINT_RINGS = 8
MAX_HINTS = 4096
HINT_PARENT_LEVELS = 3  # a neighbourhood is the res-(r-3) parent: ~343 cells
NO_BOUND = "-1e300"  # ring 0: any rider may be in it


@lru_cache(maxsize=16_384)
def rings_arg(cell_prefix: str, origin: str, first: int, last: int) -> str:
    """The rings `first`..`last` around `origin` as the nearby script's argument: the keys
    of each ring's cells concatenated, rings separated by ';' (ring 0 is the origin)."""
    return ";".join("".join(cell_prefix + cell for cell in (ring(origin, r) if r else [origin]))
                    for r in range(first, last + 1))


@lru_cache(maxsize=16_384)
def _ring_bases(origin: str, last: int) -> tuple[float, ...]:
    """`ring_base_m(origin, k)` for k = 0..`last`."""
    return tuple(ring_base_m(origin, k) for k in range(last + 1))


@lru_cache(maxsize=16_384)
def bounds_arg(origin: str, first: int, last: int) -> str:
    """Per ring `first`..`last`, the offset-free part of the distance no rider of that ring
    or beyond is nearer than (`ring_base_m`; the script subtracts the query's offset)."""
    bases = _ring_bases(origin, last)
    return ",".join(repr(bases[r - 1]) if r else NO_BOUND for r in range(first, last + 1))


@lru_cache(maxsize=65_536)
def _around(origin: str, radius_m: float) -> tuple[int, str, float, float]:
    """The rings that cover `radius_m` around `origin`, its neighbourhood for hints, and its
    centre (latitude, longitude)."""
    return (rings_for_radius(origin, radius_m), parent_of(origin, HINT_PARENT_LEVELS),
            *cell_centre(origin))


@lru_cache(maxsize=1024)
def _region_keys(region: str) -> RegionKeys:
    return RegionKeys(region)


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the store's time base."""
    return time.time_ns() // 1_000_000


class LiveStore:
    """Riders' latest fix, status, load and freshness, indexed by H3 cell, per region."""

    def __init__(
        self,
        redis: Redis,
        *,
        resolution: int = 9,
        stale_after_s: float = 60.0,
        rider_ttl_s: int = 86_400,
        pipe: RespPipe | None = None,
    ) -> None:
        """`pipe`, if given, carries the fix script (`apply_positions`); everything else goes
        through `redis`."""
        self.redis = redis
        self.pipe = pipe
        self.resolution = resolution
        self.stale_after_ms = int(stale_after_s * 1000)
        self.rider_ttl_s = rider_ttl_s
        self._apply = redis.register_script(scripts.APPLY_FIXES)
        self._set_field = redis.register_script(scripts.SET_FIELD)
        self._evict = redis.register_script(scripts.EVICT_STALE)
        self._nearby = redis.register_script(scripts.NEARBY)
        self._ring_hints: OrderedDict[tuple[str, str], int] = OrderedDict()

    async def apply_positions(
        self, region: str, writes: Sequence[PositionWrite], *, at_ms: int | None = None,
        failed: int = 0,
    ) -> list[bool | ValueError]:
        """Write each rider's newest fix in one atomic round trip; True where it moved the rider,
        False where an equal or newer fix was already stored, and a `ValueError` for a rider
        id a cell record cannot hold (empty, or longer than `scripts.MAX_ID_BYTES`).
        `failed` counts attempts already made (`send_positions`), which use up retries."""
        seen, args = self._positions_args(region, writes, at_ms)
        if self.pipe is not None:
            applied = await self.pipe.evalsha(self._apply.sha, scripts.APPLY_FIXES, [seen], args,
                                              failed=failed)
        else:
            applied = await self._apply(keys=[seen], args=args)
        return self.position_outcomes(applied, writes)

    def send_positions(self, region: str, writes: Sequence[PositionWrite]
                       ) -> asyncio.Future[Any] | None:
        """`apply_positions`' script call sent at once over the pipe's open connection, with
        no coroutine in between (the writer's path at one fix a second per rider, where a
        call carries few fixes): its future gets the raw reply for `position_outcomes`.
        None where there is no open pipe connection: use `apply_positions`."""
        if self.pipe is None:
            return None
        seen, args = self._positions_args(region, writes, None)
        return self.pipe.send_now("EVALSHA", self._apply.sha, 1, seen, *args)

    def may_resend(self, *, failed: int) -> bool:
        """Whether a fix script call that failed `failed` times (lost connection, timeout)
        may be sent again."""
        return self.pipe is not None and self.pipe.may_retry(failed=failed)

    @staticmethod
    def position_outcomes(reply: Any, writes: Sequence[PositionWrite]) -> list[bool | ValueError]:
        """Each write's outcome from the fix script's reply (see `apply_positions`); raises
        what the reply says went wrong (`NoScriptError` when Redis lost the script)."""
        applied = unwrap_reply(reply)
        return [a == 1 if a >= 0 else ValueError(f"rider id {w.rider_id!r} cannot be stored")
                for a, w in zip(applied, writes, strict=True)]

    def _positions_args(self, region: str, writes: Sequence[PositionWrite], at_ms: int | None
                        ) -> tuple[str, list[str | int]]:
        """The fix script's key (the region's `seen` set) and arguments for `writes`."""
        keys = _region_keys(region)
        res = self.resolution
        # Coordinates as hexadecimal floats: exact, and without the digit search that makes
        # `repr` of a float cost ~2 us of a fix's ~30 us. (Each write unpacked at once: ten
        # attribute reads cost more than the unpacking.)
        fixes = "".join([f"{escape_id(rider_id)}|{float(lat).hex()}|{float(lng).hex()}|{ts}|{seq}|"
                         f"{cell_of(lat, lng, res)}|{hint}|{conn}|{extra}\n"
                         for _, rider_id, lat, lng, ts, seq, extra, hint, conn in writes])
        return keys.seen, [at_ms or now_ms(), self.rider_ttl_s, keys.rider_prefix,
                           keys.cell_prefix, fixes]

    async def attach(self, region: str, rider_id: str, conn: str) -> int:
        """Record `conn` as the rider's live connection; return the highest sequence stored."""
        return (await self.attach_many([(region, rider_id, conn)]))[0]

    async def attach_many(self, connections: Sequence[tuple[str, str, str]]) -> list[int]:
        """`attach` for each (region, rider_id, conn), in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for region, rider_id, conn in connections:
                rk = RegionKeys(region).rider(rider_id)
                pipe.hset(rk, "conn", conn)
                pipe.hget(rk, "seq")
            for region in {region for region, _, _ in connections}:
                pipe.sadd(REGIONS_KEY, region)
            replies = await pipe.execute()
        return [int(seq) if seq is not None else -1 for seq in replies[1:2 * len(connections):2]]

    async def set_status(
        self, region: str, rider_id: str, status: RiderStatus, *, only_conn: str | None = None
    ) -> bool:
        """Set a rider's status (and its cell record); with `only_conn`, only if still current."""
        return await self._set(region, rider_id, "status", status.value, only_conn)

    async def set_load(self, region: str, rider_id: str, load: int) -> None:
        """Set how many orders a rider currently carries."""
        await self._set(region, rider_id, "load", str(load), None)

    async def _set(
        self, region: str, rider_id: str, field: str, value: str, only_conn: str | None
    ) -> bool:
        keys = RegionKeys(region)
        args = [rider_id, keys.cell_prefix, field, value]
        if only_conn is not None:
            args.append(only_conn)
        return bool(await self._set_field(keys=[keys.rider(rider_id)], args=args))

    async def get_rider(self, region: str, rider_id: str) -> RiderState | None:
        """The stored state of one rider, or None if the store has never heard of it."""
        return (await self.get_riders(region, [rider_id]))[0]

    async def get_riders(self, region: str, rider_ids: Sequence[str]) -> list[RiderState | None]:
        """`get_rider` for each rider, in one round trip."""
        keys = RegionKeys(region)
        async with self.redis.pipeline(transaction=False) as pipe:
            for rider_id in rider_ids:
                pipe.hgetall(keys.rider(rider_id))
            found: list[dict[str, str]] = await pipe.execute()
        return [_rider_state(region, rider_id, raw) if raw else None
                for rider_id, raw in zip(rider_ids, found, strict=True)]

    async def evict_stale(
        self, region: str, *, at_ms: int | None = None, limit: int = 1000
    ) -> list[str]:
        """Remove riders silent for longer than `stale_after` from the index; return their ids."""
        keys = RegionKeys(region)
        cutoff = (at_ms or now_ms()) - self.stale_after_ms
        evicted = await self._evict(
            keys=[keys.seen], args=[cutoff, limit, keys.cell_prefix, keys.rider_prefix]
        )
        return [str(e) for e in evicted]

    async def count_fresh(self, region: str, *, at_ms: int | None = None) -> int:
        """How many riders of the region reported within `stale_after` (any status)."""
        cutoff = (at_ms or now_ms()) - self.stale_after_ms
        return int(await self.redis.zcount(RegionKeys(region).seen, cutoff, "+inf"))

    async def regions(self) -> list[str]:
        """Every region that has had a rider connect since Redis started."""
        members: set[str] = await self.redis.smembers(REGIONS_KEY)  # type: ignore[assignment]
        return sorted(members)

    async def nearby(
        self,
        region: str,
        lat: float,
        lng: float,
        *,
        radius_m: float,
        k: int,
        status: RiderStatus | None = RiderStatus.AVAILABLE,
        max_load: int | None = None,
        at_ms: int | None = None,
    ) -> list[NearbyRider]:
        """The `k` nearest fresh riders within `radius_m` of a point, nearest first.

        Searches a disk of H3 cells around the point, widening it only while the
        `k`-th result could still be beaten by a rider further out. The first disk's
        size is learnt per neighbourhood from earlier queries (dense centres need
        fewer rings than suburbs), so most queries take one round trip.
        """
        keys = _region_keys(region)
        origin = cell_of(lat, lng, self.resolution)
        last_ring, neighbourhood, centre_lat, centre_lng = _around(origin, radius_m)
        offset = haversine_m(lat, lng, centre_lat, centre_lng)  # from the query to its centre
        fresh_after = (at_ms or now_ms()) - self.stale_after_ms
        # one string for every scalar: each argument costs redis-py an encoding
        params = (f"{lat!r}|{lng!r}|{float(radius_m)!r}|{k}|{fresh_after}|"
                  f"{status.value if status else ''}|{-1 if max_load is None else max_load}|"
                  f"{len(keys.cell_prefix) + len(origin)}|{offset!r}")
        hint_key = (region, neighbourhood)
        # One ring more than this neighbourhood last needed: the script stops before a
        # ring that cannot change the answer, so the spare ring costs nothing when unneeded
        # and saves a second round trip when it is.
        done = min(self._ring_hints.get(hint_key, FIRST_DISK_RINGS) + 1, last_ring)
        found = await self._scan(keys, params, origin, 0, done)
        while done < last_ring and not (
            len(found) >= k and found[k - 1].distance_m <= covered_radius_m(origin, done, offset)
        ):
            if len(found) >= k:  # exactly the rings that can hold a rider nearer than the k-th
                upto = _rings_to_cover(origin, offset, found[k - 1].distance_m, done + 1,
                                       last_ring)
            else:  # too few riders so far: the density says nothing better than doubling
                upto = min(last_ring, 2 * done + 1)
            found = sorted(
                [*found, *await self._scan(keys, params, origin, done + 1, upto)],
                key=lambda n: (n.distance_m, n.rider_id),
            )[:k]
            done = upto
        self._learn_rings(hint_key, origin, offset, done, found, k)
        return found

    async def _scan(self, keys: RegionKeys, params: str, origin: str, first: int, last: int
                    ) -> list[NearbyRider]:
        """Run the nearby script over rings `first`..`last` around `origin`."""
        command = ("EVALSHA", self._nearby.sha, 1, keys.seen, params,
                   rings_arg(keys.cell_prefix, origin, first, last),
                   bounds_arg(origin, first, last))
        # EVALSHA straight away (redis-py's Script wrapper costs a query microseconds); the
        # reply is binary, so it is never decoded as text
        try:
            reply = await self.redis.execute_command(  # type: ignore[no-untyped-call]
                *command, **{NEVER_DECODE: True})
        except NoScriptError:  # Redis restarted, or another server: load it and run it again
            await self.redis.script_load(scripts.NEARBY)
            reply = await self.redis.execute_command(  # type: ignore[no-untyped-call]
                *command, **{NEVER_DECODE: True})
        return _parse_results(reply)

    def _learn_rings(self, hint_key: tuple[str, str], origin: str, offset: float, rings: int,
                     found: list[NearbyRider], k: int) -> None:
        """Remember how many rings this neighbourhood needed for its k-th nearest rider."""
        if len(found) >= k:
            rings = _rings_to_cover(origin, offset, found[k - 1].distance_m, 0, rings)
        rings = min(rings, MAX_HINT_RINGS)
        # written only when it changes (most queries confirm it), so the oldest written,
        # not the least used, is forgotten first
        if self._ring_hints.get(hint_key) != rings:
            self._ring_hints[hint_key] = rings
            if len(self._ring_hints) > MAX_HINTS:
                self._ring_hints.popitem(last=False)



def _parse_results(reply: bytes) -> list[NearbyRider]:
    """The nearby script's reply: one `scripts.RESULT` record per rider."""
    return [NearbyRider(rider_id[:length].decode(), lat, lng, distance,
                        STATUS_NAMES[code], load, int(seen))
            for distance, lat, lng, seen, load, code, length, rider_id
            in RESULT.iter_unpack(reply)]


def _rings_to_cover(origin: str, offset: float, distance_m: float, first: int, last: int) -> int:
    """The fewest rings (at least `first`, at most `last`) whose disk holds every point within
    `distance_m` of the query point."""
    bases = _ring_bases(origin, last)  # covered_radius_m(origin, r, offset), from a cache
    rings = first
    while rings < last and max(0.0, bases[rings] - offset) < distance_m:
        rings += 1
    return rings


def _rider_state(region: str, rider_id: str, raw: dict[str, str]) -> RiderState:
    return RiderState(
        rider_id=rider_id,
        region=region,
        lat=_coordinate(raw["lat"]) if "lat" in raw else None,
        lng=_coordinate(raw["lng"]) if "lng" in raw else None,
        ts_ms=int(raw["ts"]) if "ts" in raw else None,
        last_seq=int(raw.get("seq", -1)),
        status=raw.get("status", RiderStatus.OFFLINE.value),
        load=int(raw.get("load", 0)),
        last_seen_ms=int(raw["seen"]) if "seen" in raw else None,
        cell=raw.get("cell") or None,
    )


def _coordinate(text: str) -> float:
    """A stored latitude or longitude: a hexadecimal float (`float.hex`), or a decimal one as
    written before coordinates were stored in hexadecimal."""
    return float.fromhex(text) if "x" in text else float(text)
