"""Provider webhooks: HMAC-SHA256 signatures over `timestamp.raw_body`, applied exactly once.

The signature header is `Dispatch-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`: any
`v1` made with any configured secret is accepted (secrets rotate), within a time tolerance.
Each event carries the charge's cumulative state, applied monotonically, so redelivered and
reordered events end in the same place; the event id makes a redelivery a no-op.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dispatch.api_input import ApiIn
from dispatch.db.base import table, utcnow
from dispatch.errors import InvalidSignature, ValidationFailed
from dispatch.outbox.models import OutboxRow, event
from dispatch.payments.models import PaymentRow, PaymentState, WebhookEventRow

SIGNATURE_HEADER = "Dispatch-Signature"


class ChargeState(BaseModel):
    """The provider's view of a charge at the time of the event."""

    ref: str = Field(min_length=1, max_length=64)
    captured_minor: int = Field(0, ge=0)
    refunded_minor: int = Field(0, ge=0)
    voided: bool = False


class ProviderEvent(ApiIn):
    """One webhook delivery."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=64)
    created: int
    data: ChargeState


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The v1 signature of a body sent at `timestamp`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_signature(header: str | None, body: bytes, secrets: list[str], *, tolerance_s: int,
                     now: float | None = None) -> None:
    """`InvalidSignature` unless some v1 signature matches some secret within the tolerance."""
    if not header or not secrets:
        raise InvalidSignature("missing signature or no webhook secret configured")
    parts = [part.partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in parts if name.strip() == "t"]
    signatures = [value.strip() for name, _, value in parts if name.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        raise InvalidSignature("malformed signature header")
    timestamp = int(stamps[0])
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        raise InvalidSignature("signature timestamp outside the tolerance")
    expected = [sign(secret, timestamp, body) for secret in secrets]
    if not any(hmac.compare_digest(want, got) for want in expected for got in signatures):
        raise InvalidSignature("no signature matches")


def parse_event(body: bytes) -> ProviderEvent:
    """The event in a verified body."""
    try:
        return ProviderEvent.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise ValidationFailed("malformed provider event") from exc


def _merge(payment: PaymentRow, charge: ChargeState) -> bool:
    before = (payment.state, payment.captured_minor, payment.refunded_minor)
    if charge.voided and payment.state == PaymentState.AUTHORISED:
        payment.state = PaymentState.VOIDED
    captured = min(max(payment.captured_minor, charge.captured_minor), payment.amount_minor)
    if captured and payment.state in (PaymentState.AUTHORISED, PaymentState.CAPTURED):
        payment.state, payment.captured_minor = PaymentState.CAPTURED, captured
    payment.refunded_minor = min(max(payment.refunded_minor, charge.refunded_minor),
                                 payment.captured_minor)
    return before != (payment.state, payment.captured_minor, payment.refunded_minor)


async def apply_event(*, db: async_sessionmaker[AsyncSession], evt: ProviderEvent) -> bool:
    """Apply an event once; False for a redelivery or an unknown charge."""
    try:
        async with db.begin() as session:
            session.add(WebhookEventRow(id=evt.id, type=evt.type, received_at=utcnow()))
            await session.flush()
            payment = (await session.execute(select(PaymentRow).where(
                PaymentRow.provider_ref == evt.data.ref).with_for_update())).scalar_one_or_none()
            if payment is None or not _merge(payment, evt.data):
                return False
            payment.updated_at = utcnow()
            await session.execute(table(OutboxRow).insert(), [event(
                "payment", payment.id, f"payment.{evt.type}", order_id=payment.order_id,
                state=payment.state, captured_minor=payment.captured_minor,
                refunded_minor=payment.refunded_minor)])
    except IntegrityError:
        return False  # this event id was applied already
    return True
