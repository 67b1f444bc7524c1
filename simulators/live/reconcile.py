"""After a run: settle orders still open, and check the simulator's records against the
service's (`GET /v1/orders` as an operator)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from simulators.live.api import ServiceApi
from simulators.live.journal import Journal
from simulators.live.orders import OrderGenerator, Placed

TERMINAL = frozenset({"delivered", "failed", "cancelled"})


def expected_state(record: Placed, journal: Journal) -> str | None:
    """The state the simulator believes the order is in (None if it was never created)."""
    if record.order_id is None:
        return None
    if record.state in TERMINAL:
        return record.state
    seen = journal.events.get(record.order_id, {})
    for event, state in (("deliver", "delivered"), ("pickup", "picked_up"), ("accept", "assigned")):
        if event in seen:
            return state
    return record.state


def open_orders(generator: OrderGenerator, journal: Journal) -> list[Placed]:
    """Orders the simulator has not seen reach a terminal state."""
    return [r for r in generator.placed.values()
            if r.order_id is not None and expected_state(r, journal) not in TERMINAL]


async def cancel_open(api: ServiceApi, generator: OrderGenerator, journal: Journal,
                      operator_token: str | None) -> int:
    """Cancel the open orders not yet picked up (as an operator, else as their customers,
    who may cancel only orders no rider took); how many were."""
    async def cancel(record: Placed) -> bool:
        token = operator_token or generator.customer_of(record).token
        reply = await api.call("POST", f"/v1/orders/{record.order_id}/cancel", token=token)
        if reply.status == 200:
            record.state = "cancelled"
            return True
        return False

    done = await asyncio.gather(*(cancel(r) for r in open_orders(generator, journal)
                                  if "pickup" not in journal.events.get(str(r.order_id), {})))
    return sum(done)


async def service_orders(api: ServiceApi, token: str, region: str) -> dict[str, dict[str, Any]]:
    """Every order of the region as the service records it, by id."""
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        path = f"/v1/orders?region={region}&limit=100" + (f"&cursor={cursor}" if cursor else "")
        reply = await api.call("GET", path, token=token)
        if reply.status != 200:
            raise RuntimeError(f"listing orders: {reply.status} {reply.body}")
        found.update({order["id"]: order for order in reply.body["orders"]})
        cursor = reply.body.get("next_cursor")
        if not cursor:
            return found


def compare(generator: OrderGenerator, journal: Journal, records: dict[str, dict[str, Any]],
            customers: set[str]) -> dict[str, Any]:
    """How the simulator's view matches the service's: counts by outcome, and mismatches."""
    ours = {r.order_id: expected_state(r, journal) for r in generator.placed.values()
            if r.order_id is not None}
    theirs = {oid: o["state"] for oid, o in records.items() if o["customer_id"] in customers}
    mismatched = sorted(oid for oid, state in ours.items() if theirs.get(oid) != state)
    return {
        "simulator_states": dict(Counter(ours.values())),
        "service_states": dict(Counter(theirs.values())),
        "missing_in_service": sorted(set(ours) - set(theirs))[:20],
        "unknown_to_simulator": sorted(set(theirs) - set(ours))[:20],
        "mismatched": len(mismatched),
        "mismatch_examples": [(oid, ours[oid], theirs.get(oid)) for oid in mismatched[:10]],
        "lost": sum(1 for state in theirs.values() if state not in TERMINAL),
        "match": not mismatched and set(ours) == set(theirs),
    }
