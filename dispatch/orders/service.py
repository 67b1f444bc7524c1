"""Orders in the database: create (see `dispatch.orders.creation`), read, list, the pool."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.auth.tokens import Principal
from dispatch.errors import OrderNotFound, ValidationFailed
from dispatch.orders.access import visible_to
from dispatch.orders.creation import CreateParams, create_order
from dispatch.orders.models import OrderRow
from dispatch.orders.states import OrderState

__all__ = ["CreateParams", "Db", "ListFilters", "create_order", "get_order", "list_orders",
           "list_pending"]
Db = async_sessionmaker[AsyncSession]
S = OrderState


async def get_order(*, db: Db, principal: Principal, order_id: str) -> OrderRow:
    """The order if the caller may see it; `OrderNotFound` otherwise (also for foreign ones)."""
    async with db() as session:
        row = (await session.execute(select(OrderRow).where(
            OrderRow.id == order_id, visible_to(principal)))).scalar_one_or_none()
    if row is None:
        raise OrderNotFound(f"no order {order_id}")
    return row


def _encode_cursor(row: OrderRow) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, order_id = raw.partition("|")
        when = dt.datetime.fromisoformat(stamp)
    except ValueError as exc:
        raise ValidationFailed("malformed cursor", field="cursor") from exc
    if when.tzinfo is None or not order_id:
        raise ValidationFailed("malformed cursor", field="cursor")
    return when, order_id


@dataclass(frozen=True, slots=True)
class ListFilters:
    """Optional filters of `list_orders`."""

    state: OrderState | None = None
    region: str | None = None
    cursor: str | None = None
    limit: int = 50


async def list_orders(*, db: Db, principal: Principal, filters: ListFilters
                      ) -> tuple[list[OrderRow], str | None]:
    """The caller's visible orders, newest first, one page; and the next page's cursor."""
    query = select(OrderRow).where(visible_to(principal))
    if filters.state is not None:
        query = query.where(OrderRow.state == filters.state.value)
    if filters.region is not None:
        query = query.where(OrderRow.region == filters.region)
    if filters.cursor is not None:
        when, last_id = _decode_cursor(filters.cursor)
        query = query.where(or_(OrderRow.created_at < when,
                                and_(OrderRow.created_at == when, OrderRow.id < last_id)))
    query = query.order_by(OrderRow.created_at.desc(), OrderRow.id.desc()).limit(filters.limit + 1)
    async with db() as session:
        rows = list((await session.execute(query)).scalars())
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return rows, (_encode_cursor(rows[-1]) if more and rows else None)


async def list_pending(*, db: Db, region: str, limit: int = 1000) -> list[OrderRow]:
    """The region's pending pool for the optimizer: orders waiting for dispatch, oldest first."""
    async with db() as session:
        return list((await session.execute(select(OrderRow).where(
            OrderRow.region == region, OrderRow.state == S.PENDING_DISPATCH.value,
        ).order_by(OrderRow.created_at).limit(limit))).scalars())
