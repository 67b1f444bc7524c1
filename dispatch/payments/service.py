"""Payment actions: record the provider call (and its key) first, call, then apply the result.

A call is written to `provider_calls` in the same transaction as the change that needs it,
so a crash between the provider's answer and our commit is repaired by `settle_incomplete`,
which repeats the call with the same key: the provider answers as before, money moves once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import ColumnElement, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Insert, Update

from dispatch.db.atomic import Step, insert_if, insert_values, param
from dispatch.db.base import dialect_of, table, utcnow
from dispatch.errors import (
    IllegalTransition,
    PaymentNotFound,
    ProviderUnavailable,
    RefundExceedsCaptured,
)
from dispatch.outbox.models import OutboxRow, event
from dispatch.payments.models import PaymentRow, PaymentState, ProviderCallRow
from dispatch.payments.provider import PaymentProvider, ProviderResult

log = logging.getLogger(__name__)
Db = async_sessionmaker[AsyncSession]
PROVIDER_TIMEOUT_S = 10.0
# The bind parameters of the statements below, per column.
_CALL = {"key": "call_key", "payment_id": "payment_id", "action": "action",
         "amount_minor": "amount_minor", "created_at": "now", "completed_at": None}
_PAYMENT = {"id": "payment_id", "order_id": "order_id", "provider": "provider",
            "provider_ref": "provider_ref", "state": "payment_state",
            "amount_minor": "amount_minor", "captured_minor": "captured_minor",
            "refunded_minor": "refunded_minor", "currency": "currency", "created_at": "now",
            "updated_at": "now"}


class Call(Protocol):
    """What the provider needs of a recorded call."""

    @property
    def key(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def amount_minor(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """A call about to be made (already recorded under `key`)."""

    key: str
    action: str
    amount_minor: int


def record_call_if(dialect: str, gate: ColumnElement[bool]) -> Insert:
    """A statement recording a call (before it is made) when `gate` holds and the key is new;
    it returns the key if it did."""
    return insert_if(dialect, table(ProviderCallRow), _CALL, gate).returning(ProviderCallRow.key)


def call_done_statement() -> Update:
    """A statement marking the call `call_key` applied, at `now`."""
    return update(ProviderCallRow).where(ProviderCallRow.key == param("call_key")).values(
        completed_at=param("now"))


def payment_insert() -> Insert:
    """A statement inserting a new payment row from its bind parameters."""
    return insert_values(table(PaymentRow), _PAYMENT)


@functools.cache
def _record_step(dialect: str) -> Step:
    return Step.of(record_call_if(dialect, true()))


async def record_call(session: AsyncSession, *, key: str, payment_id: str, action: str,
                      amount_minor: int) -> bool:
    """Write the call before making it; False if this key was already recorded."""
    step = _record_step(dialect_of(session))
    created = (await session.execute(step.statement, step.bind({
        "call_key": key, "payment_id": payment_id, "action": action,
        "amount_minor": amount_minor, "now": utcnow()}))).scalar_one_or_none()
    return created is not None


async def call_provider(provider: PaymentProvider, call: Call, ref: str,
                        currency: str = "") -> ProviderResult:
    """Make the recorded call; `ProviderUnavailable` if the provider cannot be reached."""
    try:
        async with asyncio.timeout(PROVIDER_TIMEOUT_S):
            if call.action == "authorise":
                return await provider.authorise(key=call.key, amount_minor=call.amount_minor,
                                                currency=currency)
            if call.action == "capture":
                return await provider.capture(key=call.key, ref=ref, amount_minor=call.amount_minor)
            if call.action == "void":
                return await provider.void(key=call.key, ref=ref)
            return await provider.refund(key=call.key, ref=ref, amount_minor=call.amount_minor)
    except (TimeoutError, OSError) as exc:
        raise ProviderUnavailable("the payment provider did not answer; retry later") from exc


def _apply(payment: PaymentRow, call: ProviderCallRow, result: ProviderResult) -> str | None:
    """Update the payment for the provider's answer; the event to publish, if any."""
    if call.action == "refund":
        if result.ok:
            return "payment.refunded"
        payment.refunded_minor -= call.amount_minor  # release the reservation
        return "payment.refund_failed"
    if not result.ok:
        log.warning("provider refused", extra={"action": call.action, "code": result.decline_code})
        return f"payment.{call.action}_failed"
    if call.action == "capture":
        payment.state, payment.captured_minor = PaymentState.CAPTURED, call.amount_minor
        return "payment.captured"
    if call.action == "void":
        payment.state = PaymentState.VOIDED
        return "payment.voided"
    return None


async def execute(*, db: Db, provider: PaymentProvider, key: str) -> ProviderResult | None:
    """Make a recorded call and apply its result once; None if it was already applied."""
    async with db() as session:
        call = await session.get(ProviderCallRow, key)
        payment = await session.get(PaymentRow, call.payment_id) if call else None
    if call is None or payment is None or call.completed_at is not None:
        return None
    result = await call_provider(provider, call, payment.provider_ref or "")
    async with db.begin() as session:
        done = await session.execute(update(ProviderCallRow).where(
            ProviderCallRow.key == key, ProviderCallRow.completed_at.is_(None)
        ).values(completed_at=utcnow()))
        if not done.rowcount:  # type: ignore[attr-defined]
            return None  # another worker applied it meanwhile
        payment = await session.get(PaymentRow, call.payment_id, with_for_update=True)
        assert payment is not None
        name = _apply(payment, call, result)
        payment.updated_at = utcnow()
        if name is not None:
            await session.execute(table(OutboxRow).insert(), [event(
                "payment", payment.id, name, order_id=payment.order_id,
                amount_minor=call.amount_minor, currency=payment.currency)])
    return result


async def get_payment(*, db: Db, order_id: str) -> PaymentRow:
    """The payment of an order; `PaymentNotFound` if it has none."""
    async with db() as session:
        row = (await session.execute(
            select(PaymentRow).where(PaymentRow.order_id == order_id))).scalar_one_or_none()
    if row is None:
        raise PaymentNotFound(f"order {order_id} has no payment")
    return row


async def refund(*, db: Db, provider: PaymentProvider, order_id: str, amount_minor: int,
                 refund_id: str) -> PaymentRow:
    """Refund part of a captured payment, never beyond what was captured."""
    async with db.begin() as session:
        payment = (await session.execute(select(PaymentRow).where(
            PaymentRow.order_id == order_id).with_for_update())).scalar_one_or_none()
        if payment is None:
            raise PaymentNotFound(f"order {order_id} has no payment")
        if payment.state != PaymentState.CAPTURED:
            raise IllegalTransition(f"a {payment.state} payment cannot be refunded",
                                    state=payment.state)
        key = f"{payment.id}.refund.{refund_id}"
        if await record_call(session, key=key, payment_id=payment.id, action="refund",
                             amount_minor=amount_minor):
            if payment.refunded_minor + amount_minor > payment.captured_minor:
                raise RefundExceedsCaptured(
                    "the refund exceeds what is left of the captured amount",
                    captured_minor=payment.captured_minor, refunded_minor=payment.refunded_minor)
            payment.refunded_minor += amount_minor  # reserved until the provider answers
    result = await execute(db=db, provider=provider, key=key)
    if result is not None and not result.ok:
        raise RefundExceedsCaptured("the provider refused the refund",
                                    decline_code=result.decline_code)
    return await get_payment(db=db, order_id=order_id)


async def settle_incomplete(*, db: Db, provider: PaymentProvider, older_than_s: float) -> int:
    """Repeat calls recorded but never applied (a crash between call and commit); how many."""
    cutoff = utcnow() - dt.timedelta(seconds=older_than_s)
    async with db() as session:
        keys = (await session.execute(select(ProviderCallRow.key).where(
            ProviderCallRow.completed_at.is_(None), ProviderCallRow.created_at < cutoff,
            ProviderCallRow.action != "authorise",
        ).limit(100))).scalars().all()
    for key in keys:
        await execute(db=db, provider=provider, key=key)
    return len(keys)
