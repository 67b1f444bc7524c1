"""Fencing tokens in the database: the check that makes a stale optimizer's commit fail.

Every region has one `region_fences` row holding the highest token that has held its lease.
A new lease holder registers its token at once (so a paused predecessor is fenced out even
before the new holder commits anything), and every plan commit first advances the row in
its own transaction with `token >= stored`; a stale token updates nothing, raises
`StaleFence`, and the whole commit rolls back. On PostgreSQL the row lock taken by that
update also serialises two commits of one region.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db.base import Base, UTCDateTime, utcnow
from dispatch.errors import Conflict

Db = async_sessionmaker[AsyncSession]


class StaleFence(Conflict):
    """An optimizer tried to commit with a token older than the region's newest lease."""

    code = "optimizer.stale_fence"


class RegionFenceRow(Base):
    """The newest fencing token handed out for a region's optimizer lease."""

    __tablename__ = "region_fences"

    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


async def stored_token(*, db: Db, region: str) -> int:
    """The region's highest registered token; 0 before the first lease."""
    async with db() as session:
        token = (await session.execute(select(RegionFenceRow.token).where(
            RegionFenceRow.region == region))).scalar_one_or_none()
    return int(token or 0)


async def register_token(*, db: Db, region: str, token: int) -> bool:
    """Record a new lease holder's token; False if a newer one is already registered."""
    try:
        async with db.begin() as session:
            moved = await session.execute(update(RegionFenceRow).where(
                RegionFenceRow.region == region, RegionFenceRow.token < token,
            ).values(token=token, updated_at=utcnow()))
            if moved.rowcount:  # type: ignore[attr-defined]
                return True
            if await session.get(RegionFenceRow, region) is not None:
                return False
            session.add(RegionFenceRow(region=region, token=token, updated_at=utcnow()))
    except IntegrityError:
        return False  # another holder inserted the row first
    return True


async def advance(session: AsyncSession, *, region: str, token: int) -> None:
    """Inside a commit: move the region's fence to `token`, or `StaleFence` if it is behind."""
    moved = await session.execute(update(RegionFenceRow).where(
        RegionFenceRow.region == region, RegionFenceRow.token <= token,
    ).values(token=token, updated_at=utcnow()))
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise StaleFence(f"fencing token {token} of region {region} is stale; not committing",
                         region=region, token=token)
