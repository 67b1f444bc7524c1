"""Group commit: concurrent submissions run together, and each learns only its own fate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from sqlalchemy import CheckConstraint, Column, Integer, MetaData, String, Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dispatch.config import Settings
from dispatch.db import atomic
from dispatch.db.engine import create_engine
from dispatch.db.group import GroupRunner

pytestmark = pytest.mark.asyncio


class Recorder:
    """A group runner's work: records each group, holds the first until released."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.release = asyncio.Event()

    async def run(self, group: Sequence[int]) -> list[int | BaseException]:
        self.groups.append(list(group))
        if len(self.groups) == 1:
            await self.release.wait()
        return [ValueError(item) if item < 0 else item * 10 for item in group]


async def test_items_submitted_while_a_group_runs_go_together_in_the_next() -> None:
    work = Recorder()
    runner: GroupRunner[int, int] = GroupRunner(work.run)
    first = asyncio.create_task(runner.submit(1))
    await asyncio.sleep(0)  # the first group starts alone, at once
    rest = [asyncio.create_task(runner.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    work.release.set()
    assert [await first, *[await task for task in rest]] == [10, 20, 30, 40]
    assert work.groups == [[1], [2, 3, 4]]


async def test_one_items_failure_fails_only_its_own_caller() -> None:
    work = Recorder()
    work.release.set()
    runner: GroupRunner[int, int] = GroupRunner(work.run)
    results = await asyncio.gather(*(runner.submit(i) for i in (5, -1, 6)),
                                   return_exceptions=True)
    assert results[0] == 50 and results[2] == 60
    assert isinstance(results[1], ValueError)


async def test_a_cancelled_caller_leaves_the_group_running_for_the_others() -> None:
    work = Recorder()
    runner: GroupRunner[int, int] = GroupRunner(work.run)
    cancelled = asyncio.create_task(runner.submit(1))
    kept = asyncio.create_task(runner.submit(2))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    work.release.set()
    assert await kept == 20
    assert cancelled.cancelled()
    assert work.groups == [[1, 2]]


async def test_groups_are_capped_at_their_size() -> None:
    work = Recorder()
    runner: GroupRunner[int, int] = GroupRunner(work.run, max_group=2)
    tasks = [asyncio.create_task(runner.submit(i)) for i in range(5)]
    await asyncio.sleep(0)
    work.release.set()
    assert await asyncio.gather(*tasks) == [0, 10, 20, 30, 40]
    assert [len(group) for group in work.groups] == [2, 2, 1]


async def test_stopping_the_runner_cancels_every_waiting_caller() -> None:
    work = Recorder()  # never released: the first group hangs until the runner is stopped
    runner: GroupRunner[int, int] = GroupRunner(work.run)
    running = asyncio.create_task(runner.submit(1))
    await asyncio.sleep(0)
    queued = asyncio.create_task(runner.submit(2))
    await asyncio.sleep(0)
    assert runner._running is not None
    runner._running.cancel()
    done, _ = await asyncio.wait([running, queued], timeout=5)
    assert {running, queued} == done
    assert running.cancelled() and queued.cancelled()
    assert work.groups == [[1]]


@pytest_asyncio.fixture
async def engine(make_settings: Callable[..., Settings]) -> AsyncIterator[AsyncEngine]:
    settings = make_settings()
    engine = create_engine(settings)
    if settings.database_schema is not None:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{settings.database_schema}"'))
            await conn.commit()
    yield engine
    await engine.dispose()


_ROWS = Table("group_rows", MetaData(), Column("id", String(10), primary_key=True),
              Column("n", Integer, CheckConstraint("n >= 0")))


def _claim(engine: AsyncEngine) -> atomic.Grouped:
    """Insert a row unless its id is taken; it returns the id if it did."""
    statement = atomic.insert_if(engine.dialect.name, _ROWS, {"id": "id", "n": "n"},
                                 text("true")).returning(_ROWS.c.id)
    return atomic.Grouped((atomic.Step.of(statement),), returned="id", lock_order=("id",))


async def _stored(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        return {row.id: row.n for row in await conn.execute(select(_ROWS))}


async def _run_all(engine: AsyncEngine, values: list[dict[str, Any]]) -> list[bool]:
    claim = _claim(engine)
    return list(await asyncio.gather(*(atomic.run_grouped(engine, claim, v) for v in values)))


async def test_concurrent_runs_each_learn_whether_their_own_row_went_in(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_ROWS.metadata.create_all)
    assert await _run_all(engine, [{"id": f"r{i}", "n": i} for i in range(6)]) == [True] * 6
    again = await _run_all(engine, [{"id": f"r{i}", "n": 100 + i} for i in range(3, 9)])
    assert again == [False] * 3 + [True] * 3
    assert await _stored(engine) == {**{f"r{i}": i for i in range(6)},
                                     **{f"r{i}": 100 + i for i in range(6, 9)}}


async def test_runs_of_the_same_row_in_one_group_see_one_winner(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_ROWS.metadata.create_all)
    values = [{"id": f"r{i % 4}", "n": i} for i in range(12)]  # each id three times
    taken = await _run_all(engine, values)
    stored = await _stored(engine)
    assert sorted(stored) == [f"r{i}" for i in range(4)]
    for value, took in zip(values, taken, strict=True):
        assert took == (stored[value["id"]] == value["n"])


async def test_a_row_the_database_refuses_fails_only_its_own_run(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_ROWS.metadata.create_all)
    claim = _claim(engine)
    values = [{"id": f"r{i}", "n": -1 if i == 3 else i} for i in range(8)]
    results = await asyncio.gather(*(atomic.run_grouped(engine, claim, v) for v in values),
                                   return_exceptions=True)
    refused = asyncpg.CheckViolationError if engine.dialect.driver == "asyncpg" else Exception
    assert isinstance(results[3], refused)
    assert [r for i, r in enumerate(results) if i != 3] == [True] * 7
    assert sorted(await _stored(engine)) == sorted(f"r{i}" for i in range(8) if i != 3)
