"""A batch's input: the region's pending pool and the riders who could take its orders.

Riders come from the live store around each pickup (available, fresh), minus riders
without an active account, riders deciding on an offer already, and riders at capacity;
each keeps its carried stops in the order of its current route.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from dispatch.live.models import NearbyRider, RiderStatus
from dispatch.live.store import LiveStore
from dispatch.optimizer.core import OrderSpec, RiderSpec
from dispatch.optimizer.service import queries
from dispatch.optimizer.service.params import LoopParams
from dispatch.optimizer.service.routes import carried_stops, current_route
from dispatch.orders.models import OrderRow
from dispatch.orders.service import list_pending

NEARBY_CONCURRENCY = 16


@dataclass(frozen=True)
class BatchInput:
    """What `solve_batch` is called with, and the rows behind it."""

    now_s: float
    pool: dict[str, OrderRow]
    orders: list[OrderSpec]
    riders: list[RiderSpec]


def order_spec(row: OrderRow, excluded: frozenset[str]) -> OrderSpec:
    """The solver's view of a pending order."""
    return OrderSpec(
        order_id=row.id, pickup_lat=row.pickup_lat, pickup_lng=row.pickup_lng,
        dropoff_lat=row.dropoff_lat, dropoff_lng=row.dropoff_lng,
        placed_s=row.created_at.timestamp(), ready_s=row.ready_at.timestamp(),
        promised_s=row.promised_at.timestamp(), merchant_id=row.merchant_id,
        excluded_riders=excluded,
    )


async def _nearby(store: LiveStore, region: str, pool: list[OrderRow], params: LoopParams
                  ) -> dict[str, NearbyRider]:
    """Available, fresh riders near any pickup of the pool (one query per distinct pickup)."""
    pickups = sorted({(round(o.pickup_lat, 4), round(o.pickup_lng, 4)) for o in pool})
    gate = asyncio.Semaphore(NEARBY_CONCURRENCY)

    async def around(lat: float, lng: float) -> list[NearbyRider]:
        async with gate:
            return await store.nearby(region, lat, lng, radius_m=params.candidate_radius_m,
                                      k=params.candidate_riders, status=RiderStatus.AVAILABLE)

    found: dict[str, NearbyRider] = {}
    for riders in await asyncio.gather(*(around(lat, lng) for lat, lng in pickups)):
        for rider in riders:
            found[rider.rider_id] = rider
    return found


def _rider_spec(rider: NearbyRider, carried: list[OrderRow], stored: list[dict[str, Any]] | None,
                now_s: float, capacity: int) -> RiderSpec:
    route = current_route(stored, carried)
    return RiderSpec(rider_id=rider.rider_id, lat=rider.lat, lng=rider.lng, available_s=now_s,
                     capacity=capacity, carried=carried_stops(route, carried), load=len(carried))


async def gather_input(*, db: queries.Db, store: LiveStore, region: str, params: LoopParams
                       ) -> BatchInput:
    """Read the pool and the candidate riders of one region for one batch."""
    now_s = time.time()
    # With no fresh rider in the region nothing can be assigned: skip the pool and the
    # per-pickup nearby queries, whose cost grows with a pool that nobody serves.
    if not await store.count_fresh(region):
        return BatchInput(now_s=now_s, pool={}, orders=[], riders=[])
    pool = await list_pending(db=db, region=region, limit=params.max_orders)
    if not pool:
        return BatchInput(now_s=now_s, pool={}, orders=[], riders=[])
    excluded = await queries.exclusions(
        db=db, order_ids=[o.id for o in pool],
        since=dt.datetime.fromtimestamp(now_s - params.exclusion_s, dt.UTC))
    nearby = await _nearby(store, region, pool, params)
    book = await queries.rider_book(db=db, rider_ids=sorted(nearby))
    riders = [
        _rider_spec(rider, book.carried.get(rid, []), book.routes.get(rid), now_s,
                    params.rider_capacity)
        for rid, rider in sorted(nearby.items())
        if rid in book.active and rid not in book.deciding
        and len(book.carried.get(rid, [])) < params.rider_capacity
    ]
    orders = [order_spec(row, excluded.get(row.id, frozenset())) for row in pool]
    return BatchInput(now_s=now_s, pool={row.id: row for row in pool}, orders=orders,
                      riders=riders)
