"""The pipelined connection that carries the fix script, against real redis-servers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dispatch.live.client import connect_redis
from dispatch.live.keys import RegionKeys
from dispatch.live.models import PositionWrite
from dispatch.live.pipe import RespPipe
from dispatch.live.store import LiveStore
from dispatch.redis_server import EmbeddedRedis, find_redis_server

pytestmark = pytest.mark.asyncio


async def test_replies_reach_their_own_calls_when_many_are_in_flight(redis: Redis) -> None:
    pipe = RespPipe.for_client(redis, timeout_s=5)
    assert pipe is not None
    try:
        replies = await asyncio.gather(*(pipe.call("ECHO", f"call-{i}") for i in range(500)))
        assert replies == [f"call-{i}" for i in range(500)]
        counted = await asyncio.gather(*(pipe.call("INCRBY", "n", i) for i in range(1, 101)))
        assert sorted(counted) == counted and counted[-1] == sum(range(1, 101))
    finally:
        await pipe.aclose()


async def test_an_error_reply_is_raised_and_the_connection_goes_on(redis: Redis) -> None:
    pipe = RespPipe.for_client(redis, timeout_s=5)
    assert pipe is not None
    try:
        await redis.set("text", "not a number")
        with pytest.raises(ResponseError, match="not an integer"):
            await pipe.call("INCR", "text")
        assert await pipe.call("ECHO", "still here") == "still here"
    finally:
        await pipe.aclose()


async def test_a_reply_later_than_the_timeout_fails_only_its_call(redis: Redis) -> None:
    pipe = RespPipe.for_client(redis, timeout_s=0.2, retries=0)
    assert pipe is not None
    try:
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await pipe.call("BLPOP", "nothing-will-come", 2)
        assert time.monotonic() - started < 1.5
        # The connection whose reply was late is dropped; the next call gets a new one.
        assert await pipe.call("ECHO", "after") == "after"
    finally:
        await pipe.aclose()


async def test_calls_behind_a_late_reply_fail_as_a_lost_connection(redis: Redis) -> None:
    """The late reply's connection is dropped, so the calls sent after it on that connection
    fail too (their replies would no longer match): as a lost connection."""
    pipe = RespPipe.for_client(redis, timeout_s=0.2, retries=0)
    assert pipe is not None
    try:
        await pipe.call("PING")  # connected: both calls below go on one connection
        late = asyncio.ensure_future(pipe.call("BLPOP", "nothing-will-come", 2))
        await asyncio.sleep(0.05)
        behind = asyncio.ensure_future(pipe.call("ECHO", "behind"))
        with pytest.raises(RedisTimeoutError):
            await late
        with pytest.raises(RedisConnectionError):
            await behind
        assert await pipe.call("ECHO", "after") == "after"
    finally:
        await pipe.aclose()


async def test_with_retries_the_calls_behind_a_late_reply_are_sent_again(redis: Redis) -> None:
    """Both calls are sent again on a new connection, in their order; the list gets its
    value while they wait there, so both are answered."""
    pipe = RespPipe.for_client(redis, timeout_s=0.2, retries=1)
    assert pipe is not None
    try:
        await pipe.call("PING")
        late = asyncio.ensure_future(pipe.call("BLPOP", "filled-later", 2))
        await asyncio.sleep(0.05)
        behind = asyncio.ensure_future(pipe.call("ECHO", "behind"))
        await asyncio.sleep(0.25)  # past the first timeout
        await redis.rpush("filled-later", "v")
        assert await late == ["filled-later", "v"]
        assert await behind == "behind"
    finally:
        await pipe.aclose()


async def test_a_stream_of_prompt_replies_outlasting_the_timeout_never_times_out(
    redis: Redis,
) -> None:
    """One timer watches the oldest call: as calls are answered it moves on to the next,
    so calls that keep coming for several timeouts, each answered at once, all succeed."""
    pipe = RespPipe.for_client(redis, timeout_s=0.1, retries=0)
    assert pipe is not None
    try:
        stop = time.monotonic() + 0.5
        calls = 0
        while time.monotonic() < stop:
            replies = await asyncio.gather(*(pipe.call("INCR", "count") for _ in range(5)))
            calls += 5
            assert replies[-1] == calls
            await asyncio.sleep(0.005)
    finally:
        await pipe.aclose()


async def test_a_closed_pipe_refuses_calls(redis: Redis) -> None:
    pipe = RespPipe.for_client(redis, timeout_s=5)
    assert pipe is not None
    await pipe.call("PING")
    await pipe.aclose()
    with pytest.raises(RedisConnectionError):
        await pipe.call("PING")


async def test_a_restarted_redis_gets_a_new_connection_and_the_script_again() -> None:
    with EmbeddedRedis() as server:
        redis = connect_redis(server.url, timeout_s=5)
        pipe = RespPipe.for_client(redis, timeout_s=5)
        assert pipe is not None
        store = LiveStore(redis, pipe=pipe)
        try:
            assert await store.apply_positions("city", [fix("r1", 1)]) == [True]
            server.restart_empty()  # drops the connection and forgets the script
            assert await store.apply_positions("city", [fix("r1", 2)]) == [True]
            state = await store.get_rider("city", "r1")
            assert state is not None and state.last_seq == 2
        finally:
            await pipe.aclose()
            await redis.aclose()


async def test_tcp_and_a_database_number_are_taken_from_the_client(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", str(tmp_path), stdout=asyncio.subprocess.DEVNULL)
    redis = connect_redis(f"redis://127.0.0.1:{port}/3", timeout_s=5)
    pipe = RespPipe.for_client(redis, timeout_s=5)
    assert pipe is not None
    try:
        for _ in range(200):  # until it listens
            with contextlib.suppress(RedisConnectionError):
                await redis.ping()
                break
            await asyncio.sleep(0.05)
        await pipe.call("SET", "where", "db3")
        assert await redis.get("where") == "db3"
        db0 = connect_redis(f"redis://127.0.0.1:{port}/0", timeout_s=5)
        assert await db0.get("where") is None  # the pipe selected db 3, not the default
        await db0.aclose()
    finally:
        await pipe.aclose()
        await redis.aclose()
        server.terminate()
        await server.wait()


async def test_a_tls_client_keeps_redis_py() -> None:
    client = Redis.from_url("rediss://localhost:6380")
    assert RespPipe.for_client(client, timeout_s=1) is None
    await client.aclose()


def fix(rider: str, seq: int, lat: float = 52.52, lng: float = 13.405,
        region: str = "city") -> PositionWrite:
    return PositionWrite(region, rider, lat, lng, 1_700_000_000_000 + seq, seq, "8.5||",
                         "available", "test:1")


_WRITES = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 30),
              st.floats(52.4, 52.6), st.floats(13.3, 13.5)),
    min_size=1, max_size=25)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(_WRITES, min_size=1, max_size=6))
async def test_the_pipe_stores_exactly_what_redis_py_stores(
    redis: Redis, batches: list[list[tuple[str, int, float, float]]],
) -> None:
    """The same batches through both paths, in two regions: the same answers, the same hashes."""
    await redis.flushall()
    pipe = RespPipe.for_client(redis, timeout_s=5)
    assert pipe is not None
    piped, plain = LiveStore(redis, pipe=pipe), LiveStore(redis)
    try:
        for batch in batches:
            at = 1_700_000_100_000
            one = await piped.apply_positions(
                "one", [fix(r, seq, lat, lng, "one") for r, seq, lat, lng in batch], at_ms=at)
            two = await plain.apply_positions(
                "two", [fix(r, seq, lat, lng, "two") for r, seq, lat, lng in batch], at_ms=at)
            assert one == two
        for rider in "abcd":
            assert (await redis.hgetall(RegionKeys("one").rider(rider))
                    == await redis.hgetall(RegionKeys("two").rider(rider)))
    finally:
        await pipe.aclose()
