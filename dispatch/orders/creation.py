"""Creating an order: claim the key (or, without one, record the authorisation), call the
provider, then write the order, its payment, its event and the stored response.

Both steps are atomic, and on PostgreSQL each is one statement (`dispatch.db.atomic`), run
for all the creates arriving meanwhile in one transaction (group commit: `run_grouped`). The
authorisation's idempotency key is derived from the order id, which the claimed key row
holds: that row is committed before the provider is called, so a retry after a crash takes
over with the same order id, hence the same provider key, and money moves once. A create
without a key has no such row, so it records the call in `provider_calls` before calling and
marks it applied with the write. When the fast claim takes nothing (the key exists, or the
merchant is unknown), `_claim_again` decides between a replay, 409, 422 and taking over a
dead attempt.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert

from dispatch.db import atomic
from dispatch.db.base import new_id, table, utcnow
from dispatch.errors import OutsideServiceArea, PaymentDeclined, UnknownMerchant
from dispatch.idempotency import service as idempotency
from dispatch.idempotency.models import Scope, StoredResponse
from dispatch.orders.models import CreateOrderIn, OrderOut, OrderRow
from dispatch.orders.states import OrderState, path
from dispatch.outbox.models import event_insert
from dispatch.payments import service as payments
from dispatch.payments.models import PaymentState
from dispatch.payments.provider import PaymentProvider, ProviderResult
from dispatch.users.models import UserRow
from geo.zones import ServiceAreas

S = OrderState
_ORDER: dict[str, atomic.Source] = {
    "id": "order_id", "rider_id": None, "created_at": "now", "updated_at": "now",
    **{c: c for c in ("customer_id", "merchant_id", "region", "state", "pickup_lat",
                      "pickup_lng", "dropoff_lat", "dropoff_lng", "items", "amount_minor",
                      "currency", "ready_at", "promised_at")},
}


@dataclass(frozen=True, slots=True)
class CreateParams:
    """Everything `create_order` needs besides the order itself."""

    db: async_sessionmaker[AsyncSession]
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


# Groups take the keys' row locks in this order (a claim returns the order id; a record
# without a key, its call's key, which is derived from the order id).
_LOCK_ORDER = ("key_owner", "key_endpoint", "idempotency_key", "call_key")


@dataclass(frozen=True)
class _Statements:
    claim: atomic.Grouped  # take the key, if the merchant is active
    record: atomic.Grouped  # record the call (no key), if the merchant is active
    write: atomic.Grouped  # order, payment, event, response stored
    write_unkeyed: atomic.Grouped  # order, payment, event, call applied


@functools.cache
def _statements(dialect: str) -> _Statements:
    merchant = exists().where(UserRow.id == atomic.param("merchant_id"),
                              UserRow.role == "merchant", UserRow.active)
    writes = (atomic.insert_values(table(OrderRow), _ORDER), payments.payment_insert(),
              event_insert())

    def grouped(returned: str | None, first: Insert, *rest: atomic.Dml) -> atomic.Grouped:
        return atomic.Grouped(atomic.together(dialect, first, *rest), returned=returned,
                              lock_order=_LOCK_ORDER)

    return _Statements(
        claim=grouped("resource_id", idempotency.claim_if(dialect, merchant)),
        record=grouped("call_key", payments.record_call_if(dialect, merchant)),
        write=grouped(None, *writes, idempotency.complete_statement()),
        write_unkeyed=grouped(None, *writes, payments.call_done_statement()))


def _ids(order_id: str) -> dict[str, str]:
    payment_id = "pay_" + order_id.removeprefix("ord_")
    return {"order_id": order_id, "resource_id": order_id, "event_aggregate_id": order_id,
            "payment_id": payment_id, "call_key": f"{payment_id}.authorise"}


def _values(params: CreateParams, customer_id: str, region: str, data: CreateOrderIn,
            scope: Scope | None) -> dict[str, Any]:
    now, order_id = utcnow(), new_id("ord")
    values: dict[str, Any] = {
        "now": now, "customer_id": customer_id, "merchant_id": data.merchant_id,
        "region": region, "pickup_lat": data.pickup.lat, "pickup_lng": data.pickup.lng,
        "dropoff_lat": data.dropoff.lat, "dropoff_lng": data.dropoff.lng,
        "items": [item.model_dump() for item in data.items],
        "amount_minor": data.amount_minor, "currency": data.currency,
        "ready_at": data.ready_at, "promised_at": data.promised_at,
        "action": "authorise", "provider": params.provider.name, "captured_minor": 0,
        "refunded_minor": 0, "event_aggregate": "order", **_ids(order_id)}
    if scope is not None:
        values |= idempotency.claim_values(scope=scope, resource_id=order_id,
                                           lock_s=params.lock_s, ttl_s=params.ttl_s, now=now)
    return values


async def _check_merchant(session: AsyncSession, merchant_id: str) -> None:
    found = (await session.execute(select(UserRow.role, UserRow.active).where(
        UserRow.id == merchant_id))).one_or_none()
    if found is None or found.role != "merchant" or not found.active:
        raise UnknownMerchant(f"no active merchant {merchant_id}", field="merchant_id")


async def _claim_again(params: CreateParams, values: dict[str, Any], scope: Scope | None
                       ) -> StoredResponse | None:
    """The slow claim, in one transaction: the merchant, then the key (or the call's record)."""
    async with params.db.begin() as session:
        await _check_merchant(session, values["merchant_id"])
        if scope is not None:
            order_id, replay = await idempotency.claim(
                session, scope=scope, resource_id=values["order_id"], lock_s=params.lock_s,
                ttl_s=params.ttl_s)
            if replay is not None:
                return replay
            values |= _ids(order_id)  # a takeover continues with the first attempt's ids
        else:
            await payments.record_call(session, key=values["call_key"],
                                       payment_id=values["payment_id"], action="authorise",
                                       amount_minor=values["amount_minor"])
    return None


def _outcome(values: dict[str, Any], data: CreateOrderIn, result: ProviderResult
             ) -> StoredResponse:
    """Fill in what the provider's answer decides; the response to store and return."""
    order_id = values["order_id"]
    states = (path(order_id, S.CREATED, S.AUTHORISED, S.PENDING_DISPATCH) if result.ok
              else path(order_id, S.CREATED, S.FAILED))
    state = states[-1].value
    # One event for the moves made while creating: its `path` lists every state passed.
    values |= {"state": state, "provider_ref": result.ref, "event_name": f"order.{state}",
               "payment_state": PaymentState.AUTHORISED if result.ok else PaymentState.DECLINED,
               "event_payload": {"region": values["region"], "state": state,
                                 "path": ["created", *(s.value for s in states)],
                                 "customer_id": values["customer_id"],
                                 "merchant_id": data.merchant_id}}
    if result.ok:
        stored = StoredResponse(201, OrderOut(
            id=order_id, state=states[-1], region=values["region"],
            customer_id=values["customer_id"], merchant_id=data.merchant_id, rider_id=None,
            pickup=data.pickup, dropoff=data.dropoff, items=data.items,
            amount_minor=data.amount_minor, currency=data.currency, ready_at=data.ready_at,
            promised_at=data.promised_at, created_at=values["now"], updated_at=values["now"],
        ).model_dump_json())
    else:
        declined = PaymentDeclined("the payment was declined", order_id=order_id,
                                   decline_code=result.decline_code)
        stored = StoredResponse(402, '{"error":' + orjson.dumps(declined.to_dict()).decode() + "}")
    values |= {"stored_status": stored.status_code, "stored_body": stored.body}
    return stored


async def create_order(*, params: CreateParams, customer_id: str, data: CreateOrderIn,
                       scope: Scope | None) -> tuple[StoredResponse, bool]:
    """Create an order and authorise its payment; (response, replayed)."""
    engine = atomic.engine_of(params.db)
    statements = _statements(engine.dialect.name)
    values = _values(params, customer_id, locate(params.areas, data), data, scope)
    claim = statements.claim if scope is not None else statements.record
    if not await atomic.run_grouped(engine, claim, values):
        replay = await _claim_again(params, values, scope)
        if replay is not None:
            return replay, True
    result = await payments.call_provider(params.provider, payments.PlannedCall(
        values["call_key"], "authorise", data.amount_minor), "", data.currency)
    stored = _outcome(values, data, result)
    await atomic.run_grouped(
        engine, statements.write if scope is not None else statements.write_unkeyed, values)
    return stored, False
