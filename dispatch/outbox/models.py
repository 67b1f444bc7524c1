"""The outbox row: one event, written in the same transaction as the change it describes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import Insert

from dispatch.db.atomic import insert_values
from dispatch.db.base import Base, UTCDateTime, table, utcnow


class OutboxRow(Base):
    """An event waiting to be published (`published_at` is None) or already published."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL"),
              sqlite_where=text("published_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    aggregate: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


def event(aggregate: str, aggregate_id: str, name: str, **payload: Any) -> dict[str, Any]:
    """The values of one outbox row, ready for a (multi-row) insert."""
    return {"aggregate": aggregate, "aggregate_id": aggregate_id, "event": name,
            "payload": payload, "created_at": utcnow(), "published_at": None}


def event_insert() -> Insert:
    """A statement inserting one event from bind parameters `event_aggregate`,
    `event_aggregate_id`, `event_name`, `event_payload` and `now`."""
    return insert_values(table(OutboxRow), {
        "aggregate": "event_aggregate", "aggregate_id": "event_aggregate_id",
        "event": "event_name", "payload": "event_payload", "created_at": "now",
        "published_at": None})
