"""Stateful property tests: random sequences of order and payment actions against the real
services and database never make an illegal transition, and refunds never exceed captures."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from dispatch.auth.tokens import Principal
from dispatch.config import Settings
from dispatch.db.engine import create_engine, session_factory
from dispatch.db.migrate import migrate
from dispatch.errors import DispatchError
from dispatch.orders import lifecycle, offers
from dispatch.orders.areas import load_areas
from dispatch.orders.models import CreateOrderIn, OfferIn, OrderRow
from dispatch.orders.service import CreateParams, create_order
from dispatch.orders.states import OrderState, is_legal
from dispatch.payments import service as payments
from dispatch.payments.models import PaymentRow
from dispatch.payments.provider import SandboxProvider
from dispatch.users.models import UserRow
from tests.support.accounts import order_body

CUSTOMER = Principal("usr_c", "customer", None)
RIDER = Principal("usr_r", "rider", "city")
OPERATOR = Principal("usr_o", "operator", None)


class OrderPayments(RuleBasedStateMachine):
    """Drive orders through the services at random and check the invariants after each step."""

    orders = Bundle("orders")
    db_settings: dict[str, Any] = {}
    data_dir = Path(".")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        config = Settings(data_dir=self.data_dir, **self.db_settings)
        self.engine = create_engine(config)
        self.db = session_factory(self.engine)
        self.provider = SandboxProvider()
        self.params = CreateParams(db=self.db, provider=self.provider, areas=load_areas(config),
                                   lock_s=30, ttl_s=86_400)
        self.seen: dict[str, str] = {}
        self.run(self._setup(config))

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _setup(self, config: Settings) -> None:
        await migrate(self.engine, schema=config.database_schema)
        async with self.db.begin() as session:
            for table in (PaymentRow, OrderRow):
                await session.execute(table.__table__.delete())  # type: ignore[attr-defined]
            await session.execute(UserRow.__table__.delete())  # type: ignore[attr-defined]
            now = dt.datetime.now(dt.UTC)
            for uid, role in (("usr_m", "merchant"), ("usr_r", "rider")):
                session.add(UserRow(id=uid, email=f"{uid}@x", password_hash="-", role=role,
                                    region="city" if role == "rider" else None, active=True,
                                    created_at=now))

    def teardown(self) -> None:
        self.run(self.engine.dispose())
        self.loop.close()

    def attempt(self, coro: Any) -> None:
        with contextlib.suppress(DispatchError):  # refusals are fine: the state is checked
            self.run(coro)

    @rule(target=orders, amount=st.sampled_from([1000, 2500, 1402, 777]))
    def create(self, amount: int) -> str:
        data = CreateOrderIn.model_validate(order_body("usr_m", amount))
        stored, _ = self.run(create_order(params=self.params, customer_id="usr_c", data=data,
                                          scope=None))
        body = orjson.loads(stored.body)
        return str(body["id"] if stored.status_code == 201 else body["error"]["order_id"])

    @rule(order=orders)
    def offer(self, order: str) -> None:
        self.attempt(offers.record_offers(db=self.db, batch=[OfferIn(order_id=order,
                                          rider_id="usr_r")], rider_capacity=50))

    @rule(order=orders, accept=st.booleans())
    def respond(self, order: str, accept: bool) -> None:
        self.attempt(lifecycle.respond_to_offer(db=self.db, principal=RIDER, order_id=order,
                                                accept=accept))

    @rule(order=orders, step=st.sampled_from([OrderState.PICKED_UP, OrderState.DELIVERED]))
    def advance(self, order: str, step: OrderState) -> None:
        self.attempt(lifecycle.advance_delivery(db=self.db, provider=self.provider,
                                                principal=RIDER, order_id=order, target=step))

    @rule(order=orders, who=st.sampled_from([CUSTOMER, OPERATOR]))
    def cancel(self, order: str, who: Principal) -> None:
        self.attempt(lifecycle.cancel_order(db=self.db, provider=self.provider, principal=who,
                                            order_id=order))

    @rule(order=orders, amount=st.integers(1, 3000), n=st.integers(0, 3))
    def refund(self, order: str, amount: int, n: int) -> None:
        self.attempt(payments.refund(db=self.db, provider=self.provider, order_id=order,
                                     amount_minor=amount, refund_id=f"{order}-{n}"))

    @invariant()
    def states_move_only_along_the_machine_and_money_adds_up(self) -> None:
        async def load() -> list[tuple[OrderRow, PaymentRow]]:
            async with self.db() as session:
                return [tuple(r) for r in (await session.execute(  # type: ignore[misc]
                    select(OrderRow, PaymentRow).join(
                        PaymentRow, PaymentRow.order_id == OrderRow.id))).all()]

        for order, payment in self.run(load()):
            before = self.seen.get(order.id)
            if before is not None and before != order.state:
                assert is_legal(OrderState(before), OrderState(order.state)), (
                    before, order.state)
            self.seen[order.id] = order.state
            assert 0 <= payment.refunded_minor <= payment.captured_minor <= payment.amount_minor
            assert (payment.captured_minor > 0) == (order.state == "delivered")
            charge = self.provider.charges.get(payment.provider_ref or "")
            if charge is not None:
                assert charge.captured_minor == payment.captured_minor
                assert charge.refunded_minor == payment.refunded_minor
            if payment.state == "voided":
                assert order.state in ("cancelled", "failed")


@pytest.mark.slow
def test_random_action_sequences_keep_the_invariants(
    database_settings: dict[str, Any], tmp_path: Path,
) -> None:
    OrderPayments.db_settings = {k: v for k, v in database_settings.items() if v is not None}
    OrderPayments.data_dir = tmp_path
    run_state_machine_as_test(OrderPayments, settings=settings(
        max_examples=12, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
