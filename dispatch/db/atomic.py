"""Statements that must take effect together, in as few round trips as the backend allows.

On PostgreSQL the steps become one statement (the later ones as data-modifying CTEs of the
first), run in autocommit: one round trip, one commit, atomic. It is compiled once and run on
the pooled connection's driver (asyncpg) directly: per request, SQLAlchemy's execution
machinery cost more than the database's work. SQLite has no DML in CTEs, so there the steps
run one after the other in a transaction (a local file: round trips are cheap).
`run_grouped` goes further on PostgreSQL: a statement that many requests run at the same
time runs for all of them in one transaction, pipelined in one round trip (group commit,
`dispatch.db.group`), each request still learning its own outcome.
Steps are built once, with named bind parameters; each run passes one dictionary of values,
where one name is one value across every step, and each statement receives only its own.
Parameters are made with `param`, which names them apart from every column: SQLAlchemy
would otherwise take a value named like a column of an INSERT or UPDATE (a CTE's too) as
one more column to set.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import ColumnElement, Dialect, Table, bindparam, insert, null, select
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine

from dispatch.db.group import GroupRunner

Dml = Insert | Update | Delete
_MARK = "__"  # column names never end so


def param(name: str, type_: TypeEngine[Any] | None = None) -> BindParameter[Any]:
    """The bind parameter of the value `name` (typed as its column when omitted)."""
    return bindparam(name + _MARK, type_=type_)


# Where a column's value comes from: a bind parameter's name, an SQL expression, or NULL.
Source = str | ColumnElement[Any] | None


def _value(table: Table, column: str, source: Source) -> ColumnElement[Any]:
    if source is None:
        return null()
    if isinstance(source, str):
        return param(source, table.c[column].type)
    return source


def _values(table: Table, sources: Mapping[str, Source]) -> dict[str, Any]:
    return {c: _value(table, c, s) for c, s in sources.items()}


def insert_values(table: Table, sources: Mapping[str, Source]) -> Insert:
    """`INSERT INTO table (columns) VALUES (sources)`."""
    return insert(table).values(_values(table, sources))


def _dialect_insert(dialect: str, table: Table) -> PgInsert | SqliteInsert:
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def insert_if(dialect: str, table: Table, sources: Mapping[str, Source],
              gate: ColumnElement[bool]) -> Insert:
    """`INSERT … SELECT sources WHERE gate ON CONFLICT DO NOTHING`: a row only if `gate` holds
    and the row is new."""
    row = select(*(_value(table, c, s).label(c) for c, s in sources.items())).where(gate)
    return _dialect_insert(dialect, table).from_select(list(sources), row).on_conflict_do_nothing()


def upsert_values(dialect: str, table: Table, sources: Mapping[str, Source]) -> Insert:
    """`INSERT … VALUES (sources)`, or, if the primary key is taken, set the other columns."""
    statement = _dialect_insert(dialect, table).values(_values(table, sources))
    keys = [column.name for column in table.primary_key]
    return statement.on_conflict_do_update(index_elements=keys, set_={
        c: statement.excluded[c] for c in sources if c not in keys})


@dataclass(frozen=True)
class Step:
    """One statement and the names of its bind parameters."""

    statement: Dml
    names: frozenset[str]  # of the values it takes

    @classmethod
    def of(cls, statement: Dml) -> Step:
        """The step running `statement`."""
        return cls(statement, frozenset(
            node.key.removesuffix(_MARK) for node in visitors.iterate(statement)
            if isinstance(node, BindParameter) and node.key.endswith(_MARK)))

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The statement's parameters: its share of the values."""
        return {name + _MARK: values[name] for name in self.names}


Steps = tuple[Step, ...]


def together(dialect: str, first: Insert, *rest: Dml) -> Steps:
    """The statements as the backend runs them: on PostgreSQL, `first` with the rest as CTEs."""
    if dialect != "postgresql" or not rest:
        return tuple(Step.of(statement) for statement in (first, *rest))
    ctes = [statement.cte(f"step_{i}") for i, statement in enumerate(rest)]
    return (Step.of(first.add_cte(*ctes)),)


def engine_of(db: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine a session factory is bound to."""
    bind = db.kw["bind"]
    assert isinstance(bind, AsyncEngine)
    return bind


@dataclass(frozen=True)
class _Compiled:
    """A step as the driver runs it: SQL, and per positional parameter its value's source."""

    sql: str
    names: tuple[str | None, ...]  # the value's name; None for a constant of the statement
    constants: tuple[Any, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional parameters for these values."""
        raw = [c if n is None else values[n] for n, c in zip(self.names, self.constants,
                                                              strict=True)]
        return [v if p is None or v is None else p(v) for v, p in zip(raw, self.processors,
                                                                     strict=True)]


@functools.cache
def _compiled(step: Step, dialect: Dialect) -> _Compiled:
    compiled = step.statement.compile(dialect=dialect)
    order = compiled.positiontup or []
    binds = [compiled.binds[name] for name in order]
    return _Compiled(
        sql=str(compiled),
        names=tuple(n.removesuffix(_MARK) if n.endswith(_MARK) else None for n in order),
        constants=tuple(None if n.endswith(_MARK) else b.effective_value
                        for n, b in zip(order, binds, strict=True)),
        processors=tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds))


async def _on_driver(engine: AsyncEngine, use: Callable[[Any], Any]) -> Any:
    """`await use(asyncpg_connection)` on a pooled connection, outside any transaction."""
    pooled = await engine.raw_connection()  # no SQLAlchemy Connection: a third of the cost
    try:
        return await use(pooled.driver_connection)
    except (OSError, asyncio.CancelledError, asyncpg.InterfaceError,
            asyncpg.PostgresConnectionError):
        pooled.invalidate()  # broken, or cut off mid-query: the pool must not hand it out
        raise
    finally:
        pooled.close()  # back to the pool; no transaction was left open, nothing to reset


async def _run_on_driver(engine: AsyncEngine, step: Step, values: Mapping[str, Any]) -> bool:
    compiled = _compiled(step, engine.dialect)
    args = compiled.args(values)
    row = await _on_driver(engine, lambda driver: driver.fetchrow(compiled.sql, *args))
    return row is not None


async def run(engine: AsyncEngine, steps: Steps, values: Mapping[str, Any]) -> bool:
    """Run the steps atomically; whether the last one returned a row."""
    if len(steps) == 1 and engine.dialect.driver == "asyncpg":
        return await _run_on_driver(engine, steps[0], values)
    async with engine.begin() as conn:
        for step in steps[:-1]:
            await conn.execute(step.statement, step.bind(values))
        result = await conn.execute(steps[-1].statement, steps[-1].bind(values))
        return result.returns_rows and result.first() is not None


@dataclass(frozen=True)
class Grouped:
    """Steps that concurrent requests run together (`run_grouped`) where they are one
    statement on asyncpg.

    `returned` names the value that the statement's first returned column equals when it
    returned a row for that request (None: its rows are not read); runs of a group that
    share that value go one by one instead, as their rows could not be told apart.
    `lock_order` names the values by which the runs in a group are sorted, so that groups
    take row locks in one order and never deadlock each other.
    """

    steps: Steps
    returned: str | None
    lock_order: tuple[str, ...] = ()


_runners: weakref.WeakKeyDictionary[
    AsyncEngine, dict[Grouped, GroupRunner[Mapping[str, Any], bool]]] = (
    weakref.WeakKeyDictionary())


def _sort_key(grouped: Grouped) -> Callable[[Mapping[str, Any]], tuple[str, ...]]:
    return lambda values: tuple(str(values.get(name, "")) for name in grouped.lock_order)


async def _run_group(engine: AsyncEngine, grouped: Grouped,
                     group: Sequence[Mapping[str, Any]]) -> list[bool | BaseException]:
    """The statement once per values, in one transaction and one round trip; per values
    whether it returned a row. If the database refuses the group (a deadlock, one bad row),
    nothing of it was applied and each runs again alone, so one failure fails one request."""
    step = grouped.steps[0]
    if grouped.returned is not None and len(group) > 1 and len(
            {values[grouped.returned] for values in group}) < len(group):
        return await _one_by_one(engine, step, group)  # rows would not tell runs apart
    compiled = _compiled(step, engine.dialect)
    args = [compiled.args(values) for values in sorted(group, key=_sort_key(grouped))]
    try:
        if grouped.returned is None:
            await _on_driver(engine, lambda driver: driver.executemany(compiled.sql, args))
            return [False] * len(group)
        rows = await _on_driver(engine, lambda driver: driver.fetchmany(compiled.sql, args))
    except asyncpg.PostgresError:
        if len(group) == 1:
            raise
        return await _one_by_one(engine, step, group)
    returned = {row[0] for row in rows}
    return [values[grouped.returned] in returned for values in group]


async def _one_by_one(engine: AsyncEngine, step: Step, group: Sequence[Mapping[str, Any]]
                      ) -> list[bool | BaseException]:
    """Each run in its own statement: its own result, or its own exception."""
    return list(await asyncio.gather(
        *(_run_on_driver(engine, step, values) for values in group), return_exceptions=True))


async def run_grouped(engine: AsyncEngine, grouped: Grouped, values: Mapping[str, Any]
                      ) -> bool:
    """`run`, grouped on asyncpg with the concurrent runs of the same statement."""
    if len(grouped.steps) != 1 or engine.dialect.driver != "asyncpg":
        return await run(engine, grouped.steps, values)
    runners = _runners.setdefault(engine, {})
    runner = runners.get(grouped)
    if runner is None:
        runner = runners[grouped] = GroupRunner(
            functools.partial(_run_group, engine, grouped))
    return await runner.submit(values)
