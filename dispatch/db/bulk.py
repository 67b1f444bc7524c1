"""Statements over many rows at once, whose cost does not grow with one bind per value.

On PostgreSQL a list of ids is one array parameter (`id = ANY(:ids)`) that SQLAlchemy does
not expand into one bind per id, and many rows are inserted with COPY on the session's own
asyncpg connection, inside its transaction (measured for 5,000 offers: multi-row `VALUES`
through SQLAlchemy ~100 ms of Python, `INSERT … SELECT FROM unnest(arrays)` ~100 ms in the
database, COPY ~40 ms). SQLite, a local file, gets the portable forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
import orjson
from sqlalchemy import ARRAY, JSON, ColumnElement, String, Table, any_, bindparam, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, class_mapper
from sqlalchemy.types import TypeEngine

from dispatch.db.base import dialect_of

T = TypeVar("T")
# Below this many rows an ordinary INSERT: COPY costs an extra round trip, which a single
# order's move (accept, pick up, deliver) would pay on every request.
COPY_MIN_ROWS = 64


def among(session: AsyncSession, column: ColumnElement[Any] | QueryableAttribute[Any],
          ids: Sequence[Any], element: TypeEngine[Any] | None = None) -> ColumnElement[bool]:
    """`column IN ids`: on PostgreSQL one array parameter (of `element`, text unless given),
    however many ids."""
    if dialect_of(session) == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(element or String())))
    return column.in_(ids)


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
                      ) -> None:
    """Insert rows (mappings with the same keys; other keys than the table's columns are
    ignored) in the session's transaction: COPY on PostgreSQL from `COPY_MIN_ROWS` rows."""
    if not rows:
        return
    names = [column.key for column in table.columns if column.key in rows[0]]
    if dialect_of(session) != "postgresql" or len(rows) < COPY_MIN_ROWS:
        await session.execute(table.insert(), [{n: row[n] for n in names} for row in rows])
        return
    records = _records(rows, names, [isinstance(table.c[n].type, JSON) for n in names])
    driver = await _driver(session)
    try:
        await driver.copy_records_to_table(table.name, columns=names, records=records,
                                           schema_name=table.schema)
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(f"COPY {table.name}", None, exc) from exc
    except asyncpg.PostgresError as exc:
        raise DBAPIError(f"COPY {table.name}", None, exc) from exc


async def _driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session, inside the session's transaction."""
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    if not driver.is_in_transaction():  # SQLAlchemy begins on the first statement
        await session.execute(text("SELECT 1"))
    return driver


def _records(rows: Sequence[Mapping[str, Any]], names: list[str], json: list[bool]
             ) -> Iterator[tuple[Any, ...]]:
    """The rows as COPY records, JSON columns dumped (a value shared by rows, once).

    A generator: each record dies as soon as it is sent, so thousands of them never live
    long enough to make the garbage collector walk the whole heap.
    """
    values = itemgetter(*names)
    if len(names) == 1:
        rows_values: Iterator[tuple[Any, ...]] = ((values(row),) for row in rows)
    else:
        rows_values = (values(row) for row in rows)
    at = [i for i, is_json in enumerate(json) if is_json]
    if not at:
        yield from rows_values
        return
    dumped: dict[int, str] = {}  # by id(value): the value is alive in `rows` meanwhile
    for record in rows_values:
        out = list(record)
        for i in at:
            if (value := out[i]) is not None:
                if (text_ := dumped.get(id(value))) is None:
                    text_ = dumped[id(value)] = orjson.dumps(value).decode()
                out[i] = text_
        yield tuple(out)


def loaded(model: type[T], rows: Iterable[Mapping[str, Any]]) -> list[T]:
    """Objects of a mapped class holding stored values, as if loaded: not in any session,
    no change history (constructing thousands through the ORM's attribute events is slow)."""
    manager = class_mapper(model).class_manager  # (configures the mappers if need be)
    objects = []
    for values in rows:
        obj = manager.new_instance()
        obj.__dict__.update(values)
        objects.append(obj)
    return objects
