"""Committing a plan's offers in bulk (`write_offers`): each order offered once, with its
rider's route and its outbox event, riders' capacity held, all under the fence. Runs on
SQLite, and on PostgreSQL (COPY, array parameters) when the suite runs there."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatch.db.base import table
from dispatch.db.bulk import COPY_MIN_ROWS, insert_rows
from dispatch.errors import AlreadyOffered
from dispatch.optimizer.service import fences
from dispatch.optimizer.service.commit import write_offers
from dispatch.orders.models import OfferRow, OrderRow
from dispatch.orders.offers import Db, PlannedOffer
from dispatch.outbox.models import OutboxRow
from dispatch.users.models import UserRow

pytestmark = pytest.mark.asyncio

NOW = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)
RIDERS = 40  # each planned two orders: 80 offers


def order(order_id: str, state: str = "pending_dispatch", rider_id: str | None = None
          ) -> dict[str, Any]:
    return {"id": order_id, "customer_id": "usr_c", "merchant_id": "usr_m", "region": "city",
            "state": state, "pickup_lat": 4.65, "pickup_lng": -74.1, "dropoff_lat": 4.66,
            "dropoff_lng": -74.1, "items": [{"name": "x", "quantity": 1}], "amount_minor": 100,
            "currency": "COP", "ready_at": NOW, "promised_at": NOW, "rider_id": rider_id,
            "created_at": NOW, "updated_at": NOW}


async def seed(db: Db, carried: dict[str, int] | None = None) -> int:
    """Riders r0… with accounts, orders o0… pending, `carried` orders assigned; a token."""
    rows = [order(f"o{i}") for i in range(2 * RIDERS)]
    rows += [order(f"c{r}-{k}", "assigned", r) for r, n in (carried or {}).items()
             for k in range(n)]
    async with db.begin() as session:
        await session.execute(table(UserRow).insert(), [
            {"id": f"r{j}", "email": f"r{j}@x", "password_hash": "-", "role": "rider",
             "region": "city", "active": True, "created_at": NOW} for j in range(RIDERS)])
        await session.execute(table(OrderRow).insert(), rows)
    assert await fences.register_token(db=db, region="city", token=1)
    return 1


def planned(rider: int) -> list[PlannedOffer]:
    """Rider `rider` takes orders o(2r) and o(2r+1), both offers sharing one route."""
    ids = [f"o{2 * rider}", f"o{2 * rider + 1}"]
    route = [{"kind": kind, "order_id": oid, "lat": 4.65, "lng": -74.1, "eta_ms": 1_000 * k}
             for k, (kind, oid) in enumerate([("pickup", ids[0]), ("pickup", ids[1]),
                                              ("dropoff", ids[1]), ("dropoff", ids[0])])]
    return [PlannedOffer(oid, f"r{rider}", 30, route) for oid in ids]


async def stored(db: Db) -> tuple[list[OfferRow], list[OutboxRow], dict[str, str]]:
    async with db() as session:
        offers = list((await session.execute(select(OfferRow))).scalars())
        events = list((await session.execute(select(OutboxRow))).scalars())
        states = {oid: state for oid, state in (await session.execute(
            select(OrderRow.id, OrderRow.state))).all()}
    return offers, events, states


async def test_a_planned_batch_offers_each_order_once_with_its_route_and_event(db: Db) -> None:
    token = await seed(db)
    batch = [offer for r in range(RIDERS) for offer in planned(r)]
    written = await write_offers(db=db, region="city", token=token, offers=batch,
                                 rider_capacity=3)
    assert sorted(o.order_id for o in written) == sorted(o.order_id for o in batch)
    offers, events, states = await stored(db)
    assert sorted(o.order_id for o in offers) == sorted(o.order_id for o in batch)
    by_order = {o.order_id: o for o in offers}
    for offer in batch:
        row = by_order[offer.order_id]
        assert (row.rider_id, row.state, row.route) == (offer.rider_id, "pending", offer.route)
        assert row.expires_at - row.created_at == dt.timedelta(seconds=30)
        assert states[offer.order_id] == "offered"
    assert sorted(e.aggregate_id for e in events) == sorted(o.order_id for o in batch)
    for e in events:
        assert e.event == "order.offered" and e.published_at is None
        assert e.payload["previous"] == "pending_dispatch"
        assert e.payload["rider_offered"] == by_order[e.aggregate_id].rider_id


async def test_a_rider_over_capacity_loses_its_own_offers_and_the_rest_commit(db: Db) -> None:
    token = await seed(db, carried={"r3": 2})  # r3 carries two: room for one, offered two
    batch = [offer for r in range(RIDERS) for offer in planned(r)]
    written = await write_offers(db=db, region="city", token=token, offers=batch,
                                 rider_capacity=3)
    assert {o.rider_id for o in written} == {f"r{r}" for r in range(RIDERS)} - {"r3"}
    _, events, states = await stored(db)
    assert states["o6"] == states["o7"] == "pending_dispatch"
    assert len(events) == len(written) == 2 * (RIDERS - 1)


async def test_a_stale_token_writes_nothing(db: Db) -> None:
    await seed(db)
    assert await fences.register_token(db=db, region="city", token=2)
    with pytest.raises(fences.StaleFence):
        await write_offers(db=db, region="city", token=1, offers=planned(0), rider_capacity=3)
    offers, events, states = await stored(db)
    assert offers == [] and events == [] and set(states.values()) == {"pending_dispatch"}


async def test_an_order_planned_twice_is_refused_whole(db: Db) -> None:
    token = await seed(db)
    twice = [*planned(0), PlannedOffer("o0", "r1", 30, [])]
    with pytest.raises(AlreadyOffered):
        await write_offers(db=db, region="city", token=token, offers=twice, rider_capacity=3)
    offers, events, _ = await stored(db)
    assert offers == [] and events == []


async def test_a_second_live_offer_of_an_order_fails_as_an_integrity_error_and_rolls_back(
    db: Db,
) -> None:
    # The bulk insert under the commit (COPY on PostgreSQL at this size) keeps the
    # database's last guard and reports it the way SQLAlchemy would.
    row = {"rider_id": "r0", "state": "pending", "created_at": NOW, "expires_at": NOW,
           "answered_at": None, "route": [{"kind": "pickup"}]}
    rows = [{**row, "id": f"off_{i}", "order_id": f"o{i}"} for i in range(COPY_MIN_ROWS)]
    rows.append({**row, "id": "off_again", "order_id": "o0"})
    with pytest.raises(IntegrityError):
        async with db.begin() as session:
            await insert_rows(session, table(OfferRow), rows)
    offers, _, _ = await stored(db)
    assert offers == []
