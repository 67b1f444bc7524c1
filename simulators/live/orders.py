"""The order generator: the scenario's orders posted through the real HTTP API when the
simulated clock reaches them, each with its own `Idempotency-Key` (kept across retries)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass

from simulators.city import OrderRequest, Scenario
from simulators.live.api import Account, ServiceApi
from simulators.live.clock import SimClock

CURRENCY = "EUR"


@dataclass
class Placed:
    """One order as the customer placed it, and what the service answered."""

    index: int
    key: str
    placed_epoch: float
    ready_epoch: float
    promised_epoch: float
    order_id: str | None = None
    state: str | None = None  # the state the service last told the simulator
    error: str | None = None  # why it was not placed (after every retry)


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat()


@dataclass
class OrderGenerator:
    """Posts orders at their simulated placement times, `concurrency` calls at a time."""

    api: ServiceApi
    clock: SimClock
    scenario: Scenario
    merchants: list[Account]
    customers: list[Account]
    run_id: str
    concurrency: int = 32
    stretch_promises: bool = True

    def __post_init__(self) -> None:
        self.placed: dict[int, Placed] = {}
        self.gate = asyncio.Semaphore(self.concurrency)
        self.tasks: set[asyncio.Task[None]] = set()

    def body(self, order: OrderRequest) -> dict[str, object]:
        """The `POST /v1/orders` body of a scenario order."""
        merchant = self.scenario.merchants[order.merchant]
        return {
            "merchant_id": self.merchants[order.merchant].user_id,
            "pickup": {"lat": merchant.lat, "lng": merchant.lng},
            "dropoff": {"lat": order.dropoff_lat, "lng": order.dropoff_lng},
            "items": [{"name": f"dish {order.index % 37}", "quantity": order.items}],
            "amount_minor": order.amount_minor, "currency": CURRENCY,
            "ready_at": _iso(self.clock.epoch_of(order.ready_s)),
            "promised_at": _iso(self.promised_epoch(order)),
        }

    def promised_epoch(self, order: OrderRequest) -> float:
        """The promise the service is told: on the simulated clock, or (stretched) the
        promised duration in real seconds from placement, the scale of its travel model."""
        if not self.stretch_promises:
            return self.clock.epoch_of(order.promised_s)
        return self.clock.epoch_of(order.placed_s) + (order.promised_s - order.placed_s)

    async def run(self, until_s: float) -> None:
        """Place every order with `placed_s < until_s`, then wait for the calls to finish."""
        for order in self.scenario.orders:
            if order.placed_s >= until_s:
                break
            await self.clock.sleep_until(order.placed_s)
            await self.gate.acquire()
            task = asyncio.create_task(self._place(order))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        if self.tasks:
            await asyncio.gather(*self.tasks)

    async def _place(self, order: OrderRequest) -> None:
        try:
            await self._post(order)
        finally:
            self.gate.release()

    async def _post(self, order: OrderRequest) -> None:
        record = Placed(index=order.index, key=f"{self.run_id}-{order.index}",
                        placed_epoch=time.time(), ready_epoch=self.clock.epoch_of(order.ready_s),
                        promised_epoch=self.clock.epoch_of(order.promised_s))
        self.placed[order.index] = record
        customer = self.customers[order.customer % len(self.customers)]
        reply = await self.api.call("POST", "/v1/orders", token=customer.token,
                                    body=self.body(order), key=record.key)
        if reply.status == 201:
            record.order_id, record.state = reply.body["id"], reply.body["state"]
        elif reply.status == 402:
            record.order_id = reply.body["error"].get("order_id")
            record.state = "failed"
        else:
            record.error = f"{reply.status} {reply.error_code}"

    def customer_of(self, record: Placed) -> Account:
        """The account that placed an order."""
        return self.customers[self.scenario.orders[record.index].customer % len(self.customers)]
