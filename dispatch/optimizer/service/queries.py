"""What a batch reads from the database besides the pool: riders' work, exclusions, outcomes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.optimizer.service.tally import Answer
from dispatch.orders.models import OFFER_CLOSED_FOR_RIDER, OfferRow, OrderRow
from dispatch.orders.offers import CARRYING
from dispatch.users.models import UserRow

Db = async_sessionmaker[AsyncSession]


@dataclass
class RiderBook:
    """What the database says about some riders: accounts, current work, open offers."""

    active: set[str] = field(default_factory=set)
    carried: dict[str, list[OrderRow]] = field(default_factory=lambda: defaultdict(list))
    deciding: set[str] = field(default_factory=set)  # riders with a pending offer
    routes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


async def rider_book(*, db: Db, rider_ids: list[str]) -> RiderBook:
    """Accounts, carried orders, pending offers and last accepted route of these riders."""
    book = RiderBook()
    if not rider_ids:
        return book
    async with db() as session:
        book.active = set((await session.execute(select(UserRow.id).where(
            UserRow.id.in_(rider_ids), UserRow.role == "rider", UserRow.active))).scalars())
        for order in (await session.execute(select(OrderRow).where(
                OrderRow.rider_id.in_(rider_ids), OrderRow.state.in_(CARRYING)
        ).order_by(OrderRow.updated_at))).scalars():
            book.carried[str(order.rider_id)].append(order)
        book.deciding = set((await session.execute(select(OfferRow.rider_id).where(
            OfferRow.rider_id.in_(rider_ids), OfferRow.state == "pending"))).scalars())
        book.routes = await _last_routes(session, book.carried)
    return book


async def _last_routes(session: AsyncSession, carried: dict[str, list[OrderRow]]
                       ) -> dict[str, list[dict[str, Any]]]:
    """Per rider, the route of its newest accepted offer among the orders it still carries."""
    order_ids = [order.id for orders in carried.values() for order in orders]
    routes: dict[str, list[dict[str, Any]]] = {}
    if not order_ids:
        return routes
    for offer in (await session.execute(select(OfferRow).where(
            OfferRow.order_id.in_(order_ids), OfferRow.state == "accepted",
            OfferRow.route.is_not(None)).order_by(OfferRow.created_at.desc()))).scalars():
        if offer.route is not None:
            routes.setdefault(offer.rider_id, offer.route)
    return routes


async def exclusions(*, db: Db, order_ids: list[str], since: dt.datetime
                     ) -> dict[str, frozenset[str]]:
    """Per order, the riders who declined it, let its offer lapse, or went away holding it,
    since `since`."""
    found: dict[str, set[str]] = defaultdict(set)
    if order_ids:
        async with db() as session:
            for order_id, rider_id in (await session.execute(select(
                    OfferRow.order_id, OfferRow.rider_id).where(
                    OfferRow.order_id.in_(order_ids),
                    OfferRow.state.in_(OFFER_CLOSED_FOR_RIDER),
                    OfferRow.answered_at >= since))).all():
                found[order_id].add(rider_id)
    return {order_id: frozenset(riders) for order_id, riders in found.items()}


async def riders_with_pending_offers(*, db: Db, region: str) -> list[str]:
    """Riders holding a pending offer of an order of this region."""
    async with db() as session:
        return sorted(set((await session.execute(select(OfferRow.rider_id).join(
            OrderRow, OrderRow.id == OfferRow.order_id).where(
            OrderRow.region == region, OfferRow.state == "pending"))).scalars()))


async def answers(*, db: Db, region: str, since: dt.datetime) -> list[Answer]:
    """This region's offers answered after `since`: (offer id, state, when answered)."""
    async with db() as session:
        rows = (await session.execute(select(
            OfferRow.id, OfferRow.state, OfferRow.answered_at).join(
            OrderRow, OrderRow.id == OfferRow.order_id).where(
            OrderRow.region == region, OfferRow.answered_at > since))).all()
    return [(offer_id, str(state), answered_at) for offer_id, state, answered_at in rows
            if answered_at is not None]


async def pending_offers_of(*, db: Db, rider_ids: list[str]
                            ) -> dict[str, list[tuple[OfferRow, OrderRow]]]:
    """Each rider's pending offers with their orders, oldest first (replayed on reconnect)."""
    found: dict[str, list[tuple[OfferRow, OrderRow]]] = {rider_id: [] for rider_id in rider_ids}
    async with db() as session:
        for offer, order in (await session.execute(select(OfferRow, OrderRow).join(
                OrderRow, OrderRow.id == OfferRow.order_id).where(
                OfferRow.rider_id.in_(rider_ids), OfferRow.state == "pending",
        ).order_by(OfferRow.created_at))).all():
            found[offer.rider_id].append((offer, order))
    return found
