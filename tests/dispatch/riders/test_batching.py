"""`Batcher`: concurrent lookups are answered by few batched calls, failures reach every caller."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.riders.batching import Batcher


class Recorder:
    """A fetch that squares its keys after a yield, and records each call's keys."""

    def __init__(self, fail_on: int | None = None, skip: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.called = asyncio.Event()
        self.fail_on, self.skip = fail_on, skip

    async def __call__(self, keys: list[int]) -> dict[int, int]:
        self.calls.append(list(keys))
        self.called.set()
        await asyncio.sleep(0.001)
        if self.fail_on in keys:
            raise ConnectionError("backend down")
        return {key: key * key for key in keys if key != self.skip}


@pytest.mark.asyncio
async def test_concurrent_gets_share_calls_and_each_gets_its_own_value() -> None:
    fetch = Recorder()
    batcher = Batcher(fetch, max_batch=50)
    values = await asyncio.gather(*(batcher.get(i) for i in range(200)))
    assert values == [i * i for i in range(200)]
    # The first call takes the first key alone; while it runs the rest queue up.
    assert len(fetch.calls) <= 1 + 200 // 50 + 1
    assert all(len(keys) <= 50 for keys in fetch.calls)
    assert sorted(key for keys in fetch.calls for key in keys) == list(range(200))


@pytest.mark.asyncio
async def test_a_key_asked_twice_at_once_is_fetched_once() -> None:
    fetch = Recorder()
    batcher = Batcher(fetch)
    first = asyncio.ensure_future(batcher.get(1))
    await fetch.called.wait()
    assert await asyncio.gather(batcher.get(7), batcher.get(7), first) == [49, 49, 1]
    assert sum(keys.count(7) for keys in fetch.calls) == 1


@pytest.mark.asyncio
async def test_a_failed_call_fails_its_batch_and_the_next_batch_still_runs() -> None:
    fetch = Recorder(fail_on=3)
    batcher = Batcher(fetch)
    first = asyncio.ensure_future(batcher.get(1))
    await fetch.called.wait()  # key 1 alone in the first call; 2 and 3 in the next
    results = await asyncio.gather(batcher.get(2), batcher.get(3), first,
                                   return_exceptions=True)
    assert isinstance(results[0], ConnectionError) and isinstance(results[1], ConnectionError)
    assert results[2] == 1
    assert await batcher.get(4) == 16  # the batcher recovered


@pytest.mark.asyncio
async def test_a_key_the_fetch_did_not_answer_is_an_error_for_its_caller_only() -> None:
    batcher = Batcher(Recorder(skip=5))
    results = await asyncio.gather(batcher.get(5), batcher.get(6), return_exceptions=True)
    assert isinstance(results[0], KeyError) and results[1] == 36


@pytest.mark.asyncio
async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    batcher = Batcher(Recorder())
    first = asyncio.ensure_future(batcher.get(1))
    doomed = asyncio.ensure_future(batcher.get(2))
    survivor = asyncio.ensure_future(batcher.get(3))
    await asyncio.sleep(0)
    doomed.cancel()
    assert await first == 1 and await survivor == 9
    assert doomed.cancelled()


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(st.integers(-50, 50), max_size=120), max_batch=st.integers(1, 40))
def test_every_caller_gets_the_value_of_its_key(keys: list[int], max_batch: int) -> None:
    async def run() -> list[int]:
        batcher = Batcher(Recorder(), max_batch=max_batch)
        return await asyncio.gather(*(batcher.get(key) for key in keys))
    assert asyncio.run(run()) == [key * key for key in keys]


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        Batcher(Recorder(), max_batch=0)
