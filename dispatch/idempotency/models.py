"""The idempotency-key rows: who used which key on which endpoint, and what they got.

The key row is written when a request claims the key, before its work; the response row
with the work, when the request is done. They are two rows rather than one row updated
because PostgreSQL inserts a row for less than it updates one: the update wrote a second
version of the key row (and, as the stored response made it grow, often new index
entries), and it was the dearest of a create's row writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db.base import Base, UTCDateTime


class IdempotencyRow(Base):
    """A key, in flight until its `IdempotencyResponseRow` exists."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    owner: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    # The id of what the request creates, fixed at the first attempt so a retry after a crash
    # reuses it (and with it every provider idempotency key derived from it).
    resource_id: Mapped[str] = mapped_column(String(40))
    locked_until: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class IdempotencyResponseRow(Base):
    """The first response to a key, stored with the work; it goes when its key goes."""

    __tablename__ = "idempotency_responses"

    owner: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class Scope:
    """One use of a key: the caller, the endpoint, the key and a hash of the request body."""

    owner: str
    endpoint: str
    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first response to a key, replayed to every retry."""

    status_code: int
    body: str
