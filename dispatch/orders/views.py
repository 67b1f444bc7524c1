"""Order routes: create, read, list, cancel, offers, assignment and delivery steps."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse
from redis.exceptions import RedisError

from dispatch.auth.tokens import Principal
from dispatch.deps import DbDep, IdempotencyKeyDep, OperatorDep, PrincipalDep, ServicesDep
from dispatch.idempotency.views import respond, scope_for
from dispatch.optimizer.service import notify
from dispatch.optimizer.service.answers import answer_offer
from dispatch.orders import lifecycle, offers, service, tracking
from dispatch.orders.access import require_role
from dispatch.orders.models import (
    AssignmentOut,
    CreateOrderIn,
    OfferOut,
    OffersIn,
    OrderOut,
    OrderPageOut,
    offer_out,
    order_out,
)
from dispatch.orders.service import Db
from dispatch.orders.states import OrderState
from dispatch.outbox.service import latest_event_id
from dispatch.services import Services

router = APIRouter(prefix="/v1", tags=["orders"])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"}, 404: {"description": "No such order"},
    409: {"description": "Illegal transition or key in flight"},
}


@router.post("/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED,
             responses={**ERRORS, 402: {"description": "Payment declined"}})
async def create_order(body: CreateOrderIn, principal: PrincipalDep, services: ServicesDep,
                       idempotency_key: IdempotencyKeyDep = None) -> Response:
    """Create an order and authorise its payment; retry safely with an Idempotency-Key."""
    require_role(principal, "customer")
    stored, replayed = await service.create_order(
        params=services.order_params, customer_id=principal.subject, data=body,
        scope=scope_for(principal, "create_order", idempotency_key, body))
    return respond(stored, replayed)


@router.get("/orders/{order_id}", response_model=OrderOut, responses=ERRORS)
async def get_order(order_id: str, principal: PrincipalDep, db: DbDep) -> OrderOut:
    """One order the caller may see."""
    return order_out(await service.get_order(db=db, principal=principal, order_id=order_id))


@router.get("/orders", response_model=OrderPageOut, responses=ERRORS)
async def list_orders(
    principal: PrincipalDep, services: ServicesDep,
    state: Annotated[OrderState | None, Query(description="Only orders in this state")] = None,
    region: Annotated[str | None, Query(max_length=64, description="Only this region")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="From a next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 50,
) -> OrderPageOut:
    """The caller's orders, newest first, a page at a time."""
    rows, next_cursor = await service.list_orders(
        db=services.db, principal=principal,
        filters=service.ListFilters(state=state, region=region, cursor=cursor, limit=limit))
    return OrderPageOut(orders=[order_out(row) for row in rows], next_cursor=next_cursor)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut, responses=ERRORS)
async def cancel_order(order_id: str, principal: PrincipalDep, services: ServicesDep
                       ) -> OrderOut:
    """Cancel the order and release its payment authorisation."""
    return order_out(await lifecycle.cancel_order(
        db=services.db, provider=services.payments, principal=principal, order_id=order_id))


@router.post("/orders/{order_id}/accept", response_model=OrderOut, responses=ERRORS)
async def accept_offer(order_id: str, principal: PrincipalDep, services: ServicesDep
                       ) -> OrderOut:
    """The offered rider takes the order (its socket, if open, gets `offer.accepted` with
    the new route too)."""
    return await _answer(services, principal, order_id, accept=True)


@router.post("/orders/{order_id}/reject", response_model=OrderOut, responses=ERRORS)
async def reject_offer(order_id: str, principal: PrincipalDep, services: ServicesDep
                       ) -> OrderOut:
    """The offered rider declines; the order goes back to the pool."""
    return await _answer(services, principal, order_id, accept=False)


async def _answer(services: Services, principal: Principal, order_id: str, accept: bool
                  ) -> OrderOut:
    answered = await answer_offer(db=services.db, principal=principal, order_id=order_id,
                                  accept=accept)
    # The same reply as on the socket, so an app that answered over HTTP still learns its
    # route there; best effort (the route is also in GET .../assignment).
    with contextlib.suppress(RedisError, OSError):
        await notify.publish(services.redis, answered.order.region,
                             [(principal.subject, answered.frame)])
    return order_out(answered.order)


@router.post("/orders/{order_id}/pickup", response_model=OrderOut, responses=ERRORS)
async def pickup_order(order_id: str, principal: PrincipalDep, services: ServicesDep
                       ) -> OrderOut:
    """The assigned rider has the food."""
    return order_out(await lifecycle.advance_delivery(
        db=services.db, provider=services.payments, principal=principal, order_id=order_id,
        target=OrderState.PICKED_UP))


@router.post("/orders/{order_id}/deliver", response_model=OrderOut, responses=ERRORS)
async def deliver_order(order_id: str, principal: PrincipalDep, services: ServicesDep
                        ) -> OrderOut:
    """The assigned rider handed the order over; the payment is captured."""
    return order_out(await lifecycle.advance_delivery(
        db=services.db, provider=services.payments, principal=principal, order_id=order_id,
        target=OrderState.DELIVERED))


async def _assignment(db: Db, principal: Principal, order_id: str) -> AssignmentOut:
    order = await service.get_order(db=db, principal=principal, order_id=order_id)
    offer = await offers.get_live_offer(db=db, order_id=order_id)
    if offer is not None and principal.role == "rider" and offer.rider_id != principal.subject:
        offer = None
    return AssignmentOut(order_id=order.id, state=OrderState(order.state),
                         rider_id=order.rider_id, offer=offer_out(offer) if offer else None)


@router.get("/orders/{order_id}/assignment", response_model=AssignmentOut, responses=ERRORS)
async def get_assignment(order_id: str, principal: PrincipalDep, db: DbDep) -> AssignmentOut:
    """The order's dispatch status: state, rider and live offer."""
    return await _assignment(db, principal, order_id)


@router.get("/orders/{order_id}/events", response_class=StreamingResponse, responses={
    **ERRORS, 200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                    "description": "Server-Sent Events: a snapshot, then each state change"}})
async def subscribe_order_events(
    order_id: str, principal: PrincipalDep, services: ServicesDep,
    timeout_s: Annotated[float, Query(gt=0, le=3600, description="End the stream after")] = 900,
) -> StreamingResponse:
    """Follow an order live: its assignment now, then every state change, as SSE."""
    await _assignment(services.db, principal, order_id)  # 404/403 before streaming starts

    async def snapshot() -> tuple[int, dict[str, Any]]:
        # Called once subscribed. The event id is read before the state, so the snapshot
        # reflects at least every event up to that id and later ones arrive on the channel.
        seen = await latest_event_id(db=services.db, aggregate="order", aggregate_id=order_id)
        now = await _assignment(services.db, principal, order_id)
        return seen, now.model_dump(mode="json")

    return StreamingResponse(tracking.order_events(
        events=services.order_events, order_id=order_id, snapshot=snapshot,
        heartbeat_s=15.0, timeout_s=timeout_s,
    ), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post("/offers", response_model=list[OfferOut], status_code=status.HTTP_201_CREATED,
             responses=ERRORS)
async def create_offers(body: OffersIn, _: OperatorDep, db: DbDep) -> list[OfferOut]:
    """Commit a batch of offers atomically (operators and the optimizer)."""
    rows = await offers.record_offers(db=db, batch=body.offers, rider_capacity=body.rider_capacity)
    return [offer_out(row) for row in rows]
