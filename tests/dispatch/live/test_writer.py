"""The position writer: every submitted write's sink hears its own outcome exactly once,
against a real redis-server, through lost connections, a forgotten script and timeouts."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from dispatch.live.client import connect_redis
from dispatch.live.models import PositionWrite
from dispatch.live.pipe import RespPipe
from dispatch.live.store import LiveStore
from dispatch.live.writer import PositionWriter
from dispatch.redis_server import EmbeddedRedis

pytestmark = pytest.mark.asyncio


def fix(rider: str, seq: int, region: str = "city") -> PositionWrite:
    return PositionWrite(region, rider, 52.52 + seq * 1e-5, 13.405, 1_700_000_000_000 + seq,
                         seq, "", "available", "test:1")


class Sink:
    """Collects outcomes by token; `settled` resolves when `expected` have come."""

    def __init__(self, expected: int) -> None:
        self.outcomes: dict[Any, list[bool | BaseException]] = collections.defaultdict(list)
        self.expected = expected
        self.settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def written(self, outcome: bool | BaseException, token: Any) -> None:
        self.outcomes[token].append(outcome)
        if sum(map(len, self.outcomes.values())) >= self.expected and not self.settled.done():
            self.settled.set_result(None)


async def settle(sink: Sink, writer: PositionWriter) -> None:
    await asyncio.wait_for(sink.settled, 10)
    await writer.drain()
    assert all(len(outcomes) == 1 for outcomes in sink.outcomes.values()), sink.outcomes


def submit_riders(writer: PositionWriter, riders: int, seq: int) -> Sink:
    """Submit fix `seq` of riders r0..r{riders-1}; the sink hears their outcomes."""
    sink = Sink(riders)
    for i in range(riders):
        writer.submit(fix(f"r{i}", seq), sink, i)
    return sink


async def assert_all_landed(sink: Sink, writer: PositionWriter, store: LiveStore,
                            seq: int) -> None:
    """Every write was told it moved its rider, and every rider is stored at `seq`."""
    await settle(sink, writer)
    assert all(outcomes == [True] for outcomes in sink.outcomes.values())
    for i in range(sink.expected):
        state = await store.get_rider("city", f"r{i}")
        assert state is not None and state.last_seq == seq


class CountingStore(LiveStore):
    """A live store that records how many script calls were in flight at once."""

    in_flight = 0
    most_in_flight = 0

    def send_positions(self, region: str, writes: Any) -> asyncio.Future[Any] | None:
        reply = super().send_positions(region, writes)
        if reply is not None:
            CountingStore.in_flight += 1
            CountingStore.most_in_flight = max(CountingStore.most_in_flight, self.in_flight)
            reply.add_done_callback(lambda _: self._landed())
        return reply

    @staticmethod
    def _landed() -> None:
        CountingStore.in_flight -= 1


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(st.tuples(st.sampled_from(["north", "south"]),
                                 st.sampled_from(["a", "b", "c", "d", "e"]),
                                 st.integers(1, 20)), min_size=1, max_size=60),
       max_batch=st.integers(1, 7), max_concurrent=st.integers(1, 3))
async def test_each_write_hears_whether_it_moved_its_rider(
    redis: Redis, frames: list[tuple[str, str, int]], max_batch: int, max_concurrent: int,
) -> None:
    """Across regions, batches split at `max_batch` and never more than `max_concurrent`
    calls in flight: each write is told once, whether it moved its rider; every rider ends
    at its newest fix, and a write of that fix was told that it did."""
    await redis.flushdb()
    pipe = RespPipe.for_client(redis, timeout_s=5)
    assert pipe is not None
    store = CountingStore(redis, pipe=pipe)
    CountingStore.in_flight = CountingStore.most_in_flight = 0
    writer = PositionWriter(store, max_batch=max_batch, max_concurrent=max_concurrent)
    sink = Sink(len(frames))
    try:
        await pipe.call("PING")  # an open connection: every call takes the direct path
        for i, (region, rider, seq) in enumerate(frames):
            writer.submit(fix(rider, seq, region), sink, i)
            if i % 4 == 3:
                await asyncio.sleep(0)  # let some flushes start between submissions
        await settle(sink, writer)
        assert CountingStore.most_in_flight <= max_concurrent
        newest: dict[tuple[str, str], int] = {}
        for i, (region, rider, seq) in enumerate(frames):
            (outcome,) = sink.outcomes[i]
            assert isinstance(outcome, bool)
            newest[region, rider] = max(seq, newest.get((region, rider), 0))
        for (region, rider), seq in newest.items():
            state = await store.get_rider(region, rider)
            assert state is not None and state.last_seq == seq
            assert any(sink.outcomes[i] == [True] for i, f in enumerate(frames)
                       if f == (region, rider, seq))
    finally:
        await pipe.aclose()


async def test_writes_go_on_after_redis_restarts_empty() -> None:
    """A restart drops the pipe's connection and forgets the script: the writes then
    submitted are sent again on a new connection, with the script loaded again."""
    with EmbeddedRedis() as server:
        redis = connect_redis(server.url, timeout_s=5)
        pipe = RespPipe.for_client(redis, timeout_s=5)
        assert pipe is not None
        store = LiveStore(redis, pipe=pipe)
        writer = PositionWriter(store)
        try:
            await assert_all_landed(submit_riders(writer, 3, 1), writer, store, 1)
            server.restart_empty()
            await assert_all_landed(submit_riders(writer, 3, 2), writer, store, 2)
        finally:
            await pipe.aclose()
            await redis.aclose()


async def test_a_connection_killed_under_calls_in_flight_loses_no_write(redis: Redis) -> None:
    """Redis holds the calls (writes paused) while their connection is killed, so none of
    them ran: each is sent again on a new connection and lands once writes resume."""
    pipe = RespPipe.for_client(redis, timeout_s=5)
    assert pipe is not None
    store = LiveStore(redis, pipe=pipe)
    writer = PositionWriter(store, max_batch=2)
    try:
        await pipe.call("CLIENT", "SETNAME", "the-pipe")
        await redis.client_pause(1000, all=False)  # writes (and scripts) held
        sink = submit_riders(writer, 40, 1)
        await asyncio.sleep(0.1)  # the first calls are sent, and held
        clients = await redis.client_list()
        (victim,) = [c for c in clients if c["name"] == "the-pipe"]
        await redis.client_kill_filter(_id=victim["id"])
        await assert_all_landed(sink, writer, store, 1)
    finally:
        await redis.client_unpause()
        await pipe.aclose()


async def test_a_call_past_the_timeout_fails_its_writes_once_retries_are_spent(
    redis: Redis,
) -> None:
    """Redis paused beyond the timeout, with no retries: the writes hear the timeout (the
    rider app sends them again); the writer goes on writing once Redis answers."""
    pipe = RespPipe.for_client(redis, timeout_s=0.2, retries=0)
    assert pipe is not None
    store = LiveStore(redis, pipe=pipe)
    writer = PositionWriter(store)
    try:
        await pipe.call("PING")
        await redis.client_pause(600)
        paused = submit_riders(writer, 2, 1)
        await settle(paused, writer)
        assert all(isinstance(o[0], RedisTimeoutError) for o in paused.outcomes.values())
        await asyncio.sleep(0.5)  # the pause is over
        await assert_all_landed(submit_riders(writer, 2, 2), writer, store, 2)
    finally:
        await pipe.aclose()
