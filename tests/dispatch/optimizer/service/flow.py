"""Helpers shared by the dispatch tests: polling, order states, and the exactly-once check."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select

from dispatch.orders.models import OfferRow, OrderRow
from dispatch.orders.offers import Db

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], *, timeout_s: float = 30.0,
                     every_s: float = 0.1) -> T:
    """The first truthy result of `check`, polling; AssertionError with the last one if none."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout_s} s; last: {result!r}")
        await asyncio.sleep(every_s)


async def states(db: Db, order_ids: list[str]) -> dict[str, str]:
    """Each order's state."""
    async with db() as session:
        rows = (await session.execute(select(OrderRow.id, OrderRow.state).where(
            OrderRow.id.in_(order_ids)))).all()
    return {order_id: state for order_id, state in rows}


async def check_exactly_once(db: Db, order_ids: list[str], capacity: int = 3
                             ) -> dict[str, str]:
    """Every order is pending, offered or assigned (or picked up) exactly once; no rider over
    capacity.

    Returns the orders' states. Offered means one pending offer and nothing accepted;
    assigned means one accepted offer, to the order's rider; pending means no live offer.
    """
    # One statement, so one snapshot: orders and their offers as of the same instant.
    async with db() as session:
        rows = (await session.execute(select(OrderRow, OfferRow).outerjoin(
            OfferRow, OfferRow.order_id == OrderRow.id).where(
            OrderRow.id.in_(order_ids)))).all()
    orders = {order.id: order for order, _ in rows}
    offers = [offer for _, offer in rows if offer is not None]
    assert sorted(orders) == sorted(order_ids), "an order was lost"
    live: dict[str, list[OfferRow]] = {order_id: [] for order_id in order_ids}
    for offer in offers:
        if offer.state in ("pending", "accepted"):
            live[offer.order_id].append(offer)
    for order_id, order in orders.items():
        mine = live[order_id]
        _check_one(order, mine)
    load: Counter[str] = Counter(o.rider_id for held in live.values() for o in held)
    assert all(n <= capacity for n in load.values()), load
    return {order_id: order.state for order_id, order in orders.items()}


def _check_one(order: OrderRow, live: list[OfferRow]) -> None:
    described: Any = (order.id, order.state, [(o.rider_id, o.state) for o in live])
    if order.state == "pending_dispatch":
        assert live == [], described
    elif order.state == "offered":
        assert [o.state for o in live] == ["pending"], described
    elif order.state in ("assigned", "picked_up"):
        assert [(o.state, o.rider_id) for o in live] == [("accepted", order.rider_id)], described
    else:
        raise AssertionError(f"unexpected state: {described}")
