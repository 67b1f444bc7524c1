"""Payment, provider-call and webhook-event rows, and the payment HTTP schemas."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.api_input import ApiIn
from dispatch.db.base import Base, UTCDateTime


class PaymentState(StrEnum):
    """Where a payment is: refunds are amounts on a captured payment, not states."""

    AUTHORISED = "authorised"
    DECLINED = "declined"
    CAPTURED = "captured"
    VOIDED = "voided"


class PaymentRow(Base):
    """The one payment of an order; `refunded_minor` includes refunds in progress."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("refunded_minor <= captured_minor", name="refund_le_captured"),
        CheckConstraint("captured_minor <= amount_minor", name="capture_le_amount"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(12))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    captured_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ProviderCallRow(Base):
    """A call to the provider, recorded (with its idempotency key) before it is made."""

    __tablename__ = "provider_calls"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(12))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class WebhookEventRow(Base):
    """A provider event already applied; its id makes redelivery a no-op."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PaymentOut(BaseModel):
    """A payment as the API shows it."""

    id: str
    order_id: str
    state: PaymentState
    amount_minor: int
    captured_minor: int
    refunded_minor: int
    currency: str


class RefundIn(ApiIn):
    """A (partial) refund of a captured payment."""

    model_config = ConfigDict(extra="forbid")

    amount_minor: int = Field(ge=1, le=10_000_000_00)


def payment_out(row: PaymentRow) -> PaymentOut:
    """The API view of a payment row."""
    return PaymentOut(id=row.id, order_id=row.order_id, state=PaymentState(row.state),
                      amount_minor=row.amount_minor, captured_minor=row.captured_minor,
                      refunded_minor=row.refunded_minor, currency=row.currency)
