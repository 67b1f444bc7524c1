"""Riders' routes: the stored order is kept, and reconciled with what the rider carries."""

from __future__ import annotations

import datetime as dt

from dispatch.optimizer.service.routes import carried_stops, current_route
from dispatch.orders.models import OrderRow

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def order(order_id: str, state: str) -> OrderRow:
    return OrderRow(id=order_id, state=state, pickup_lat=1.0, pickup_lng=2.0, dropoff_lat=3.0,
                    dropoff_lng=4.0, ready_at=NOW, promised_at=NOW + dt.timedelta(hours=1))


def stop(kind: str, order_id: str) -> dict[str, object]:
    return {"kind": kind, "order_id": order_id, "lat": 0.0, "lng": 0.0, "eta_ms": 1}


def kinds(route: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(s["kind"], s["order_id"]) for s in route]


def test_the_stored_order_of_stops_is_kept() -> None:
    stored = [stop("pickup", "b"), stop("pickup", "a"), stop("dropoff", "a"),
              stop("dropoff", "b")]
    route = current_route(stored, [order("a", "assigned"), order("b", "assigned")])
    assert kinds(route) == kinds(stored)


def test_picked_up_orders_lose_their_pickup_and_dropped_orders_vanish() -> None:
    stored = [stop("pickup", "a"), stop("pickup", "b"), stop("dropoff", "b"),
              stop("dropoff", "a")]
    route = current_route(stored, [order("a", "picked_up")])
    assert kinds(route) == [("dropoff", "a")]


def test_carried_orders_the_route_does_not_know_are_appended() -> None:
    route = current_route([stop("pickup", "a"), stop("dropoff", "a")],
                          [order("a", "assigned"), order("c", "assigned"),
                           order("d", "picked_up")])
    assert kinds(route) == [("pickup", "a"), ("dropoff", "a"), ("pickup", "c"),
                            ("dropoff", "c"), ("dropoff", "d")]
    assert route[2]["lat"] == 1.0 and route[3]["lat"] == 3.0


def test_the_solver_sees_the_route_with_ready_and_promised_times() -> None:
    carried = [order("a", "assigned")]
    [pickup, dropoff] = carried_stops(current_route(None, carried), carried)
    assert (pickup.kind, pickup.ready_s) == ("pickup", NOW.timestamp())
    assert (dropoff.kind, dropoff.promised_s) == ("dropoff", NOW.timestamp() + 3600)
