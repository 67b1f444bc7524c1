"""Publish outbox rows to a Redis stream: at least once, in id order per relay pass.

Each event is also announced on its object's pub/sub channel (`event_channel`) for live
subscribers such as order tracking; that copy is best-effort, the stream is the record.

Rows are locked with SKIP LOCKED (PostgreSQL), added to the stream, and marked published in
the same transaction. A pass reads plain columns, the payload as the JSON text it is stored
as (no ORM objects, no decoding and encoding again), and marks the rows with one array
parameter: relaying had come to cost more CPU per event than creating the order did. The
events go to Redis as one script call per pass (`_PUBLISH`: each event's XADD and PUBLISH
done by Redis), not two pipelined commands per event, whose packing and per-reply timeouts
in redis-py cost ~40 µs per event. If the process dies after XADD and before the commit,
the rows are published again: consumers deduplicate by the `id` field (see
`dispatch.outbox.consumer`).

On PostgreSQL (asyncpg) a pass is one statement sent as it is written (no ORM session), in
a transaction held across the Redis call: `UPDATE … SET published_at … WHERE id IN (SELECT
… FOR UPDATE SKIP LOCKED) RETURNING …` takes and marks the rows, the script publishes them,
then the commit; a failed publish rolls the marks back. With a `RespPipe` the script call is
one RESP write packed here, not through redis-py. Through the ORM session and redis-py a
pass cost the worker ~80-150 µs of CPU per event on the slow host, mostly redis-py packing
~8 arguments per event one by one and the ORM's two statements; this way about half, and
the event loop is held that much less per pass (see `benchmarks/README.md`, "orders").
SQLite keeps the session path.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from redis.asyncio import Redis
from sqlalchemy import BigInteger, Text, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.db.atomic import engine_of
from dispatch.db.base import utcnow
from dispatch.db.bulk import among
from dispatch.live.pipe import RespPipe
from dispatch.outbox.models import OutboxRow

Db = async_sessionmaker[AsyncSession]


def event_channel(aggregate: str, aggregate_id: str) -> str:
    """The pub/sub channel on which one object's events are also announced (for live tracking)."""
    return f"events:{aggregate}:{aggregate_id}"


# The columns a pass reads; the payload as its stored JSON text.
_UNPUBLISHED = select(OutboxRow.id, OutboxRow.aggregate, OutboxRow.aggregate_id, OutboxRow.event,
                      cast(OutboxRow.payload, Text).label("payload"), OutboxRow.created_at
                      ).where(OutboxRow.published_at.is_(None)).order_by(OutboxRow.id)


# KEYS[1] the stream, ARGV[1] its approximate MAXLEN, then per event: its channel, its
# pub/sub message and its stream fields (id, aggregate, aggregate_id, event, payload,
# created_at, in that order).
_PUBLISH = """
local step = 2 + 6
for i = 2, #ARGV, step do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
             'id', ARGV[i + 2], 'aggregate', ARGV[i + 3], 'aggregate_id', ARGV[i + 4],
             'event', ARGV[i + 5], 'payload', ARGV[i + 6], 'created_at', ARGV[i + 7])
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return (#ARGV - 1) / step
"""
_PUBLISH_SHA = hashlib.sha1(_PUBLISH.encode()).hexdigest()

# The PostgreSQL pass: take up to $2 unpublished events (rows another relay holds are
# skipped), mark them published at $1 and return them; the caller commits after the publish.
_TAKE = f"""UPDATE {OutboxRow.__tablename__} SET published_at = $1 WHERE id IN (
    SELECT id FROM {OutboxRow.__tablename__} WHERE published_at IS NULL ORDER BY id LIMIT $2
    FOR UPDATE SKIP LOCKED)
RETURNING id, aggregate, aggregate_id, event, CAST(payload AS TEXT), created_at"""


async def relay_once(*, db: Db, redis: Redis, stream: str, batch: int, maxlen: int,
                     pipe: RespPipe | None = None) -> int:
    """Publish up to `batch` unpublished events; how many. `pipe`, if given, carries the
    script call (to the same Redis as `redis`)."""
    engine = engine_of(db)
    if engine.dialect.driver == "asyncpg":
        async with engine.begin() as conn:  # committed after the publish, rolled back if it fails
            taken = (await conn.exec_driver_sql(_TAKE, (utcnow(), batch))).all()
            if taken:
                await _publish(redis, pipe, stream, maxlen, sorted(taken, key=lambda r: r[0]))
        return len(taken)
    async with db.begin() as session:
        rows = (await session.execute(
            _UNPUBLISHED.limit(batch).with_for_update(skip_locked=True))).all()
        if not rows:
            return 0
        await _publish(redis, pipe, stream, maxlen, rows)
        await session.execute(
            update(OutboxRow).where(among(session, OutboxRow.id, [row.id for row in rows],
                                          BigInteger())).values(published_at=utcnow()),
            execution_options={"synchronize_session": False})
    return len(rows)


async def _publish(redis: Redis, pipe: RespPipe | None, stream: str, maxlen: int,
                   rows: Any) -> None:
    """One script call adding the events (id, aggregate, aggregate_id, event, payload
    text, created_at; in id order) to the stream and announcing each on its channel."""
    args: list[str | bytes | int] = [maxlen]
    for event_id, aggregate, aggregate_id, name, payload, created_at in rows:
        fields = {"id": str(event_id), "aggregate": aggregate, "aggregate_id": aggregate_id,
                  "event": name, "payload": payload, "created_at": created_at.isoformat()}
        args += (event_channel(aggregate, aggregate_id), orjson.dumps(fields),
                 *fields.values())
    if pipe is not None:
        await pipe.evalsha(_PUBLISH_SHA, _PUBLISH, [stream], args)
    else:
        await redis.register_script(_PUBLISH)(keys=[stream], args=args)


async def latest_event_id(*, db: Db, aggregate: str, aggregate_id: str) -> int:
    """The id of the object's newest event so far (0 if none)."""
    async with db() as session:
        return int((await session.execute(select(func.max(OutboxRow.id)).where(
            OutboxRow.aggregate == aggregate, OutboxRow.aggregate_id == aggregate_id)
        )).scalar_one() or 0)


async def backlog(*, db: Db) -> int:
    """How many events wait to be published."""
    async with db() as session:
        return int((await session.execute(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.published_at.is_(None)))).scalar_one())
