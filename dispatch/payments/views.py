"""Payment routes: an order's payment, refunds, and the provider's webhook."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from dispatch.db.base import new_id
from dispatch.deps import IdempotencyKeyDep, OperatorDep, PrincipalDep, ServicesDep
from dispatch.idempotency import service as idempotency
from dispatch.idempotency.models import StoredResponse
from dispatch.idempotency.views import respond, scope_for
from dispatch.orders import service as orders
from dispatch.orders.access import require_role
from dispatch.payments import service, webhooks
from dispatch.payments.models import PaymentOut, RefundIn, payment_out

router = APIRouter(prefix="/v1", tags=["payments"])


@router.get("/orders/{order_id}/payment", response_model=PaymentOut)
async def get_payment(order_id: str, principal: PrincipalDep, services: ServicesDep
                      ) -> PaymentOut:
    """The payment of an order (its customer, its merchant, operators)."""
    require_role(principal, "customer", "merchant", "operator")
    order = await orders.get_order(db=services.db, principal=principal, order_id=order_id)
    return payment_out(await service.get_payment(db=services.db, order_id=order.id))


@router.post("/orders/{order_id}/refunds", response_model=PaymentOut)
async def create_refund(order_id: str, body: RefundIn, principal: OperatorDep,
                        services: ServicesDep, idempotency_key: IdempotencyKeyDep = None
                        ) -> Response:
    """Refund part of a captured payment (operators); retry safely with an Idempotency-Key."""
    db, settings = services.db, services.settings
    scope = scope_for(principal, f"create_refund:{order_id}", idempotency_key, body)
    refund_id = new_id("rf")
    if scope is not None:
        async with db.begin() as session:
            refund_id, replay = await idempotency.claim(
                session, scope=scope, resource_id=refund_id,
                lock_s=settings.idempotency_lock_s, ttl_s=settings.idempotency_ttl_s)
        if replay is not None:
            return respond(replay, True)
    payment = await service.refund(db=db, provider=services.payments, order_id=order_id,
                                   amount_minor=body.amount_minor, refund_id=refund_id)
    stored = StoredResponse(200, payment_out(payment).model_dump_json())
    if scope is not None:
        async with db.begin() as session:
            await idempotency.complete(session, scope=scope, response=stored)
    return respond(stored, False)


@router.post("/payments/webhooks/sandbox", status_code=204)
async def receive_webhook(
    request: Request, services: ServicesDep,
    signature: Annotated[str | None, Header(alias=webhooks.SIGNATURE_HEADER)] = None,
) -> Response:
    """Provider events, signed with HMAC-SHA256 over `timestamp.raw_body`."""
    body = await request.body()
    settings = services.settings
    secrets = [s.strip() for s in settings.payment_webhook_secrets.split(",") if s.strip()]
    webhooks.verify_signature(signature, body, secrets,
                              tolerance_s=settings.payment_webhook_tolerance_s)
    await webhooks.apply_event(db=services.db, evt=webhooks.parse_event(body))
    return Response(status_code=204)
