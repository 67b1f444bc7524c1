"""Committing a plan: re-check the riders live, then write every offer under the fence.

The plan becomes offers in one transaction (`dispatch.orders.offers.record_offers`) whose
first statement advances the region's fence, so a stale optimizer commits nothing. Riders
who went offline, stale, busy or on break since the batch read them get no offer. If the
database refuses one rider's part (an order cancelled meanwhile, a rider over capacity),
that rider's offers are dropped and the rest retried; the dropped orders wait for the next
batch.
"""

from __future__ import annotations

import functools
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.errors import IllegalTransition, RiderOverCapacity
from dispatch.live.store import LiveStore
from dispatch.optimizer.core import Plan
from dispatch.optimizer.core.heap import frozen_heap
from dispatch.optimizer.service import fences
from dispatch.optimizer.service.params import LoopParams
from dispatch.optimizer.service.routes import planned_route
from dispatch.optimizer.service.sweep import liveness
from dispatch.orders.models import OfferRow
from dispatch.orders.offers import Guard, PlannedOffer, record_offers

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


def plan_offers(plan: Plan, timeout_s: int) -> list[PlannedOffer]:
    """One offer per planned order, each carrying its rider's whole planned route."""
    offers: list[PlannedOffer] = []
    with frozen_heap():  # tens of thousands of stops: see dispatch.optimizer.core.heap
        for rider_id, rider_plan in sorted(plan.routes.items()):
            if not rider_plan.order_ids:
                continue
            route = planned_route(rider_plan)
            offers.extend(PlannedOffer(order_id, rider_id, timeout_s, route)
                          for order_id in rider_plan.order_ids)
    return offers


def _without_rider_of(offers: list[PlannedOffer], exc: IllegalTransition | RiderOverCapacity
                      ) -> list[PlannedOffer] | None:
    rider = exc.details.get("rider_id")
    if rider is None:
        order = exc.details.get("order_id")
        rider = next((o.rider_id for o in offers if o.order_id == order), None)
    if rider is None:
        return None
    return [offer for offer in offers if offer.rider_id != rider]


async def commit_plan(*, db: fences.Db, store: LiveStore, region: str, token: int,
                      plan: Plan, params: LoopParams) -> list[OfferRow]:
    """Write the plan's offers to riders still live, fenced by `token`; the rows written."""
    offers = plan_offers(plan, params.offer_timeout_s)
    live = await liveness(store, region, (o.rider_id for o in offers), params.stale_after_s)
    offers = [offer for offer in offers if offer.rider_id in live.available]
    return await write_offers(db=db, region=region, token=token, offers=offers,
                              rider_capacity=params.rider_capacity)


async def write_offers(*, db: fences.Db, region: str, token: int, offers: list[PlannedOffer],
                       rider_capacity: int) -> list[OfferRow]:
    """Commit offers in one transaction fenced by `token`, dropping a refused rider's part."""
    guard = functools.partial(_fence, region=region, token=token)
    with frozen_heap():  # thousands of rows: see dispatch.optimizer.core.heap
        return await _write(db, region, offers, rider_capacity, guard)


async def _write(db: fences.Db, region: str, offers: list[PlannedOffer], rider_capacity: int,
                 guard: Guard) -> list[OfferRow]:
    for _ in range(MAX_ATTEMPTS):
        if not offers:
            return []
        try:
            return await record_offers(db=db, batch=offers, rider_capacity=rider_capacity,
                                       guard=guard)
        except (IllegalTransition, RiderOverCapacity) as exc:
            log.info("dropping one rider's offers from the batch", extra={
                "region": region, "code": exc.code, "error": exc.message})
            remaining = _without_rider_of(offers, exc)
            if remaining is None:
                raise
            offers = remaining
    return []


async def _fence(session: AsyncSession, *, region: str, token: int) -> None:
    await fences.advance(session, region=region, token=token)
