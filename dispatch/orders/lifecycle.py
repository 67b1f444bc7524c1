"""Order moves after creation: cancel, offer, accept, reject, pick up, deliver.

Each runs in one transaction that locks the order, checks the move against the state
machine, and writes the new state with its outbox event; payment calls are recorded in that
same transaction and made after it (see `dispatch.payments.service`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from dispatch.auth.tokens import Principal
from dispatch.db.base import table, utcnow
from dispatch.db.bulk import among, insert_rows
from dispatch.errors import Conflict, Forbidden, OrderNotFound
from dispatch.orders.access import require_role, visible_to
from dispatch.orders.models import OfferRow, OrderRow
from dispatch.orders.states import CANCELLABLE_BY, OrderState, check_transition
from dispatch.outbox.models import OutboxRow, event
from dispatch.payments import service as payments
from dispatch.payments.models import PaymentRow, PaymentState
from dispatch.payments.provider import PaymentProvider

Db = async_sessionmaker[AsyncSession]
S = OrderState


async def lock_order(session: AsyncSession, principal: Principal, order_id: str) -> OrderRow:
    """The order, locked for this transaction, if the caller may see it."""
    row = (await session.execute(select(OrderRow).where(
        OrderRow.id == order_id, visible_to(principal)).with_for_update())).scalar_one_or_none()
    if row is None:
        raise OrderNotFound(f"no order {order_id}")
    return row


async def move(session: AsyncSession, order: OrderRow, target: OrderState, **payload: object
               ) -> None:
    """Move a locked order to `target` if the machine allows it, with its outbox event."""
    await move_many(session, [(order, payload)], target)


class Movable(Protocol):
    """What a move needs of a locked order: an ORM row, or a Core row of these columns."""

    @property
    def id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def rider_id(self) -> str | None: ...


MOVABLE = (OrderRow.id, OrderRow.state, OrderRow.region, OrderRow.rider_id)


async def move_many(session: AsyncSession, moves: Sequence[tuple[Movable, dict[str, object]]],
                    target: OrderState) -> None:
    """Move locked orders to `target` (each with its own event payload), events in one insert."""
    if not moves:
        return
    events = []
    now = utcnow()
    for order, payload in moves:
        check_transition(order.id, order.state, target)
        events.append(event("order", order.id, f"order.{target.value}", region=order.region,
                            state=target.value, previous=order.state, rider_id=order.rider_id,
                            **payload))
    # One UPDATE for all (they share the new state) instead of a unit-of-work flush per row;
    # loaded ORM rows are then told their new values as already stored.
    ids = [order.id for order, _ in moves]
    await session.execute(table(OrderRow).update().where(among(session, table(OrderRow).c.id, ids))
                          .values(state=target.value, updated_at=now))
    for order, _ in moves:
        if isinstance(order, OrderRow):
            set_committed_value(order, "state", target.value)
            set_committed_value(order, "updated_at", now)
    await insert_rows(session, table(OutboxRow), events)


async def _payment_call(session: AsyncSession, order: OrderRow, action: str) -> str | None:
    payment = (await session.execute(select(PaymentRow).where(
        PaymentRow.order_id == order.id).with_for_update())).scalar_one_or_none()
    if payment is None or payment.state != PaymentState.AUTHORISED:
        return None
    key = f"{payment.id}.{action}"
    await payments.record_call(session, key=key, payment_id=payment.id, action=action,
                               amount_minor=payment.amount_minor)
    return key


async def cancel_order(*, db: Db, provider: PaymentProvider, principal: Principal,
                       order_id: str) -> OrderRow:
    """Cancel an order and void its authorisation; who may cancel depends on the state."""
    require_role(principal, "customer", "merchant", "operator")
    async with db.begin() as session:
        order = await lock_order(session, principal, order_id)
        if S(order.state) not in CANCELLABLE_BY[principal.role]:
            check_transition(order.id, order.state, S.CANCELLED)  # 409 if illegal for anyone
            raise Forbidden(f"a {principal.role} cannot cancel an order that is {order.state}")
        await move(session, order, S.CANCELLED, by=principal.role)
        await _release_offers(session, order.id, "withdrawn")
        key = await _payment_call(session, order, "void")
    if key is not None:
        await payments.execute(db=db, provider=provider, key=key)
    return order


def close_offer(offer: OfferRow, state: str) -> None:
    """Move a pending offer to its outcome (`accepted`, `rejected`, `expired`, ...), stamped."""
    offer.state, offer.answered_at = state, utcnow()


async def _release_offers(session: AsyncSession, order_id: str, state: str) -> None:
    for offer in (await session.execute(select(OfferRow).where(
            OfferRow.order_id == order_id, OfferRow.state == "pending"))).scalars():
        close_offer(offer, state)


async def _live_offer(session: AsyncSession, order_id: str, rider_id: str) -> OfferRow:
    offer = (await session.execute(select(OfferRow).where(
        OfferRow.order_id == order_id, OfferRow.rider_id == rider_id,
        OfferRow.state == "pending"))).scalar_one_or_none()
    if offer is None:
        raise Forbidden("there is no pending offer of this order to you")
    return offer


async def respond_to_offer(*, db: Db, principal: Principal, order_id: str, accept: bool,
                           now: dt.datetime | None = None) -> OrderRow:
    """The rider accepts (→ assigned) or rejects (→ back to the pool) a pending offer."""
    require_role(principal, "rider")
    expired = False
    async with db.begin() as session:
        order = await lock_order(session, principal, order_id)
        offer = await _live_offer(session, order_id, principal.subject)
        if accept and offer.expires_at <= (now or utcnow()):
            expired = True
            close_offer(offer, "expired")
            await move(session, order, S.PENDING_DISPATCH, reason="offer_expired")
        elif accept:
            check_transition(order.id, order.state, S.ASSIGNED)
            close_offer(offer, "accepted")
            order.rider_id = principal.subject
            await move(session, order, S.ASSIGNED)
        else:
            close_offer(offer, "rejected")
            await move(session, order, S.PENDING_DISPATCH, reason="offer_rejected")
    if expired:
        raise Conflict("the offer expired; the order went back to the pool", state=order.state)
    return order


async def advance_delivery(*, db: Db, provider: PaymentProvider, principal: Principal,
                           order_id: str, target: OrderState) -> OrderRow:
    """The assigned rider (or an operator) marks the order picked up or delivered.

    Delivery captures the payment.
    """
    require_role(principal, "rider", "operator")
    async with db.begin() as session:
        order = await lock_order(session, principal, order_id)
        if principal.role == "rider" and order.rider_id != principal.subject:
            raise Forbidden("only the assigned rider can do this")
        await move(session, order, target)
        key = await _payment_call(session, order, "capture") if target == S.DELIVERED else None
    if key is not None:
        await payments.execute(db=db, provider=provider, key=key)
    return order
