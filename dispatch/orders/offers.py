"""Committing offers from the optimizer, and expiring offers nobody answered.

`record_offers` is the optimizer's way in: a batch of offers is committed atomically or not
at all; no order is offered twice and no rider is given more than `rider_capacity` orders
(live offers plus orders assigned or picked up). An optional `guard` runs first in the same
transaction (the optimizer checks its fencing token there), so a failed guard commits nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.db.base import dialect_of, new_id, table, utcnow
from dispatch.db.bulk import among, insert_rows, loaded
from dispatch.errors import AlreadyOffered, OrderNotFound, RiderOverCapacity, ValidationFailed
from dispatch.orders.lifecycle import MOVABLE, Movable, close_offer, move, move_many
from dispatch.orders.models import OfferIn, OfferRow, OrderRow, RouteStop
from dispatch.orders.states import OrderState, check_transition
from dispatch.users.models import UserRow

Db = async_sessionmaker[AsyncSession]
S = OrderState
CARRYING = (S.ASSIGNED.value, S.PICKED_UP.value)
Guard = Callable[[AsyncSession], Awaitable[None]]
ROUTE = TypeAdapter(list[RouteStop])


@dataclass(frozen=True, slots=True)
class PlannedOffer:
    """An offer the optimizer planned, its route already in stored form (stop dicts as
    `RouteStop` dumps them) and shared by the rider's offers: a batch of thousands is not
    validated and dumped again offer by offer."""

    order_id: str
    rider_id: str
    expires_in_s: int
    route: list[dict[str, Any]]


Offer = OfferIn | PlannedOffer


async def _load(session: AsyncSession, batch: Sequence[Offer]) -> dict[str, Movable]:
    ids = sorted({offer.order_id for offer in batch})
    if len(ids) != len(batch):
        raise AlreadyOffered("an order appears twice in the batch")
    # Core rows of the columns a move needs: a batch locks thousands, and ORM objects of
    # every column cost more than the lock.
    locked = await session.execute(select(*MOVABLE).where(among(session, OrderRow.id, ids))
                                   .order_by(OrderRow.id).with_for_update())
    orders: dict[str, Movable] = {row.id: row for row in locked}
    for order_id in ids:
        if order_id not in orders:
            raise OrderNotFound(f"no order {order_id}")
        check_transition(order_id, orders[order_id].state, S.OFFERED)
    return orders


async def _check_riders(session: AsyncSession, batch: Sequence[Offer], capacity: int) -> None:
    riders = sorted({offer.rider_id for offer in batch})
    if dialect_of(session) == "postgresql":  # serialise batches touching the same rider
        # One statement for every rider, taking the locks in sorted order (no deadlocks).
        await session.execute(text(
            "SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM"
            " (SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered"
        ), {"keys": [f"rider:{rider}" for rider in riders]})
    known = set((await session.execute(select(UserRow.id).where(
        among(session, UserRow.id, riders), UserRow.role == "rider", UserRow.active))).scalars())
    if unknown := [rider for rider in riders if rider not in known]:
        raise ValidationFailed(f"no active rider {unknown[0]}", field="rider_id")
    load: Counter[str] = Counter()
    for rider, n in (await session.execute(select(OfferRow.rider_id, func.count()).where(
            among(session, OfferRow.rider_id, riders), OfferRow.state == "pending"
    ).group_by(OfferRow.rider_id))).all():
        load[rider] += n
    for carrier, n in (await session.execute(select(OrderRow.rider_id, func.count()).where(
            among(session, OrderRow.rider_id, riders), OrderRow.state.in_(CARRYING)
    ).group_by(OrderRow.rider_id))).all():
        load[str(carrier)] += n
    load.update(offer.rider_id for offer in batch)
    for rider in riders:
        if load[rider] > capacity:
            raise RiderOverCapacity(f"rider {rider} would carry {load[rider]} orders",
                                    rider_id=rider, capacity=capacity)


def _new_offers(batch: Sequence[Offer], now: dt.datetime) -> list[OfferRow]:
    """The offers as rows to insert; a route shared by several offers is dumped once."""
    dumped: dict[int, list[dict[str, Any]]] = {}

    def route(offer: Offer) -> list[dict[str, Any]] | None:
        if isinstance(offer, PlannedOffer):
            return offer.route
        if offer.route is None:
            return None
        if (stored := dumped.get(id(offer.route))) is None:
            stored = dumped[id(offer.route)] = ROUTE.dump_python(offer.route)
        return stored

    return loaded(OfferRow, ({
        "id": new_id("off"), "order_id": offer.order_id, "rider_id": offer.rider_id,
        "state": "pending", "created_at": now,
        "expires_at": now + dt.timedelta(seconds=offer.expires_in_s), "answered_at": None,
        "route": route(offer)} for offer in batch))


async def record_offers(*, db: Db, batch: Sequence[Offer], rider_capacity: int,
                        guard: Guard | None = None) -> list[OfferRow]:
    """Offer each order to its rider, all or nothing; `guard` runs first in the transaction."""
    now = utcnow()
    async with db.begin() as session:
        if guard is not None:
            await guard(session)
        orders = await _load(session, batch)
        await _check_riders(session, batch, rider_capacity)
        offers = _new_offers(batch, now)
        await insert_rows(session, table(OfferRow), [vars(offer) for offer in offers])
        await move_many(session, [(orders[offer.order_id], {"rider_offered": offer.rider_id})
                                  for offer in batch], S.OFFERED)
    return offers


async def expire_offers(*, db: Db, now: dt.datetime | None = None) -> int:
    """Return orders whose offer timed out to the pool; how many."""
    query = select(OfferRow).where(OfferRow.state == "pending",
                                   OfferRow.expires_at <= (now or utcnow()))
    return await _close_offers(db, query, "expired", "offer_expired")


async def release_riders_offers(*, db: Db, rider_ids: list[str]) -> int:
    """Return the orders offered to these riders (gone offline, stale, on break) to the pool."""
    if not rider_ids:
        return 0
    query = select(OfferRow).where(OfferRow.state == "pending", OfferRow.rider_id.in_(rider_ids))
    return await _close_offers(db, query, "released", "rider_unavailable")


async def _close_offers(db: Db, query: Select[OfferRow], state: str, reason: str) -> int:
    # Lock orders before offers, as every other writer does, so they never deadlock.
    async with db.begin() as session:
        offers = list((await session.execute(query.limit(500))).scalars())
        orders = {row.id: row for row in (await session.execute(select(OrderRow).where(
            OrderRow.id.in_(sorted({o.order_id for o in offers}))).order_by(OrderRow.id)
            .with_for_update(skip_locked=True))).scalars()}
        closed = 0
        for offer in offers:
            order = orders.get(offer.order_id)
            if order is None:
                continue  # locked by a concurrent answer: its transaction decides
            await session.refresh(offer, with_for_update=True)
            if offer.state != "pending":
                continue
            close_offer(offer, state)
            closed += 1
            if order.state == S.OFFERED:
                await move(session, order, S.PENDING_DISPATCH, reason=reason)
    return closed


async def get_live_offer(*, db: Db, order_id: str) -> OfferRow | None:
    """The order's pending or accepted offer, if any."""
    async with db() as session:
        return (await session.execute(select(OfferRow).where(
            OfferRow.order_id == order_id, OfferRow.state.in_(("pending", "accepted"))
        ))).scalar_one_or_none()
