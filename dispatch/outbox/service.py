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
"""

from __future__ import annotations

import datetime as dt

import orjson
from redis.asyncio import Redis
from sqlalchemy import BigInteger, Row, Text, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.db.base import utcnow
from dispatch.db.bulk import among
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
# pub/sub message and its stream fields (`_FIELDS`, in that order).
_FIELDS = ("id", "aggregate", "aggregate_id", "event", "payload", "created_at")
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


# A row of `_UNPUBLISHED`: id, aggregate, aggregate_id, event, payload text, created_at.
Event = Row[int, str, str, str, str, dt.datetime]


def stream_fields(row: Event) -> dict[str, str]:
    """The stream entry of one event (a row of `_UNPUBLISHED`); `id` is the deduplication
    key."""
    return {"id": str(row.id), "aggregate": row.aggregate, "aggregate_id": row.aggregate_id,
            "event": row.event, "payload": row.payload, "created_at": row.created_at.isoformat()}


async def relay_once(*, db: Db, redis: Redis, stream: str, batch: int, maxlen: int) -> int:
    """Publish up to `batch` unpublished events; how many."""
    async with db.begin() as session:
        rows = (await session.execute(
            _UNPUBLISHED.limit(batch).with_for_update(skip_locked=True))).all()
        if not rows:
            return 0
        args: list[str | bytes | int] = [maxlen]
        for row in rows:
            fields = stream_fields(row)
            args += (event_channel(row.aggregate, row.aggregate_id), orjson.dumps(fields),
                     *(fields[name] for name in _FIELDS))
        await redis.register_script(_PUBLISH)(keys=[stream], args=args)
        await session.execute(
            update(OutboxRow).where(among(session, OutboxRow.id, [row.id for row in rows],
                                          BigInteger())).values(published_at=utcnow()),
            execution_options={"synchronize_session": False})
    return len(rows)


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
