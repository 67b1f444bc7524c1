"""Orders in the database: create (idempotent, with payment authorisation), read, list, cancel."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

import orjson
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.auth.tokens import Principal
from dispatch.db.base import new_id, table, utcnow
from dispatch.errors import (
    OrderNotFound,
    OutsideServiceArea,
    PaymentDeclined,
    UnknownMerchant,
    ValidationFailed,
)
from dispatch.idempotency import service as idempotency
from dispatch.idempotency.models import Scope, StoredResponse
from dispatch.orders.access import visible_to
from dispatch.orders.models import CreateOrderIn, OrderRow, order_out
from dispatch.orders.states import OrderState, path
from dispatch.outbox.models import OutboxRow, event
from dispatch.payments import service as payments
from dispatch.payments.models import PaymentRow, PaymentState, ProviderCallRow
from dispatch.payments.provider import PaymentProvider, ProviderResult
from dispatch.users.models import UserRow
from geo.zones import ServiceAreas

Db = async_sessionmaker[AsyncSession]
S = OrderState


@dataclass(frozen=True, slots=True)
class CreateParams:
    """Everything `create_order` needs besides the order itself."""

    db: Db
    provider: PaymentProvider
    areas: ServiceAreas
    lock_s: float
    ttl_s: int


def locate(areas: ServiceAreas, data: CreateOrderIn) -> str:
    """The order's region (its pickup's); `OutsideServiceArea` if either point is outside."""
    region = areas.region_of(data.pickup.lat, data.pickup.lng)
    if region is None:
        raise OutsideServiceArea("the pickup is outside every service area", field="pickup")
    if areas.region_of(data.dropoff.lat, data.dropoff.lng) is None:
        raise OutsideServiceArea("the drop-off is outside every service area", field="dropoff")
    return region


async def _check_merchant(session: AsyncSession, merchant_id: str) -> None:
    found = (await session.execute(select(UserRow.role, UserRow.active).where(
        UserRow.id == merchant_id))).one_or_none()
    if found is None or found.role != "merchant" or not found.active:
        raise UnknownMerchant(f"no active merchant {merchant_id}", field="merchant_id")


async def create_order(*, params: CreateParams, customer_id: str, data: CreateOrderIn,
                       scope: Scope | None) -> tuple[StoredResponse, bool]:
    """Create an order and authorise its payment; (response, replayed).

    Two short transactions around the provider call: the first claims the idempotency key and
    records the authorisation's key, the second writes the order, its payment, its events and
    the stored response together.
    """
    region = locate(params.areas, data)
    order_id = new_id("ord")
    async with params.db.begin() as session:
        await _check_merchant(session, data.merchant_id)
        if scope is not None:
            order_id, replay = await idempotency.claim(
                session, scope=scope, resource_id=order_id, lock_s=params.lock_s,
                ttl_s=params.ttl_s)
            if replay is not None:
                return replay, True
        payment_id = "pay_" + order_id.removeprefix("ord_")
        call = ProviderCallRow(key=f"{payment_id}.authorise", payment_id=payment_id,
                               action="authorise", amount_minor=data.amount_minor)
        await payments.record_call(session, key=call.key, payment_id=payment_id,
                                   action=call.action, amount_minor=call.amount_minor)
    result = await payments.call_provider(params.provider, call, "", data.currency)
    async with params.db.begin() as session:
        response = await _write_order(session, order_id=order_id, payment_id=payment_id,
                                      region=region, customer_id=customer_id, data=data,
                                      result=result)
        await session.execute(update(ProviderCallRow).where(
            ProviderCallRow.key == call.key).values(completed_at=utcnow()))
        if scope is not None:
            await idempotency.complete(session, scope=scope, response=response)
    return response, False


async def _write_order(session: AsyncSession, *, order_id: str, payment_id: str, region: str,
                       customer_id: str, data: CreateOrderIn, result: ProviderResult
                       ) -> StoredResponse:
    now = utcnow()
    states = (path(order_id, S.CREATED, S.AUTHORISED, S.PENDING_DISPATCH) if result.ok
              else path(order_id, S.CREATED, S.FAILED))
    order = OrderRow(
        id=order_id, customer_id=customer_id, merchant_id=data.merchant_id, region=region,
        state=states[-1].value, pickup_lat=data.pickup.lat, pickup_lng=data.pickup.lng,
        dropoff_lat=data.dropoff.lat, dropoff_lng=data.dropoff.lng,
        items=[item.model_dump() for item in data.items], amount_minor=data.amount_minor,
        currency=data.currency, ready_at=data.ready_at, promised_at=data.promised_at,
        rider_id=None, created_at=now, updated_at=now,
    )
    await session.execute(table(OrderRow).insert(), [_values(order)])
    await session.execute(table(PaymentRow).insert(), [{
        "id": payment_id, "order_id": order_id, "provider": "sandbox", "provider_ref": result.ref,
        "state": PaymentState.AUTHORISED if result.ok else PaymentState.DECLINED,
        "amount_minor": data.amount_minor, "captured_minor": 0, "refunded_minor": 0,
        "currency": data.currency, "created_at": now, "updated_at": now}])
    # One event for the moves made while creating: its `path` lists every state passed.
    await session.execute(table(OutboxRow).insert(), [event(
        "order", order_id, f"order.{states[-1].value}", region=region, state=states[-1].value,
        path=["created", *(s.value for s in states)], customer_id=customer_id,
        merchant_id=data.merchant_id)])
    if result.ok:
        return StoredResponse(201, order_out(order).model_dump_json())
    declined = PaymentDeclined("the payment was declined", order_id=order_id,
                               decline_code=result.decline_code)
    return StoredResponse(402, '{"error":' + _json(declined.to_dict()) + "}")


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _values(order: OrderRow) -> dict[str, object]:
    return {column.key: getattr(order, column.key) for column in OrderRow.__table__.columns}


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
