"""Offers on the rider stream: the `offer` frame of an offer row, a rider's answers, and
the replay of pending offers when a rider (re)connects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dispatch.auth.tokens import Principal
from dispatch.optimizer.service import queries
from dispatch.optimizer.service.routes import current_route
from dispatch.orders.lifecycle import respond_to_offer
from dispatch.orders.models import OfferRow, OrderRow
from dispatch.riders import protocol as p


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def offer_frame(offer: OfferRow, order: OrderRow) -> bytes:
    """The `offer` frame telling the rider about one pending offer."""
    return p.offer_frame(
        offer_id=offer.id, order_id=order.id, expires_at_ms=_ms(offer.expires_at),
        pickup={"lat": order.pickup_lat, "lng": order.pickup_lng},
        dropoff={"lat": order.dropoff_lat, "lng": order.dropoff_lng},
        ready_at_ms=_ms(order.ready_at), promised_at_ms=_ms(order.promised_at),
        route=offer.route or current_route(None, [order]),
    )


@dataclass(frozen=True)
class Answered:
    """A rider's answer applied: the order as it now is, and the reply frame for the rider."""

    order: OrderRow
    frame: bytes


async def answer_offer(*, db: queries.Db, principal: Principal, order_id: str,
                       accept: bool) -> Answered:
    """Apply a rider's answer (given on the socket or over HTTP); the order and the reply
    frame (`offer.accepted` with the rider's new route, or `offer.rejected`).

    Raises the same `DispatchError`s as the HTTP endpoints: no pending offer of this order
    to this rider (`auth.forbidden`), expired (`object.conflict`), unknown order.
    """
    order = await respond_to_offer(db=db, principal=principal, order_id=order_id,
                                   accept=accept)
    if not accept:
        return Answered(order, p.frame("offer.rejected", order_id=order_id, state=order.state))
    rider_id = principal.subject
    book = await queries.rider_book(db=db, rider_ids=[rider_id])
    route = current_route(book.routes.get(rider_id), book.carried.get(rider_id, []))
    return Answered(order, p.frame("offer.accepted", order_id=order_id, state=order.state,
                                   route=route))


async def pending_offer_frames(*, db: queries.Db, rider_ids: list[str]) -> dict[str, list[bytes]]:
    """`offer` frames for every offer still waiting for each rider's answer; raises the
    database's errors."""
    pending = await queries.pending_offers_of(db=db, rider_ids=rider_ids)
    return {rider_id: [offer_frame(offer, order) for offer, order in offers]
            for rider_id, offers in pending.items()}
