"""Riders' routes: the stops still ahead of a rider, kept in the order it was last given.

A route is a list of stop dicts `{kind, order_id, lat, lng, eta_ms}` as stored on offers
and sent to riders. The route a rider follows is the one of its newest accepted offer,
reconciled with what it actually carries: stops of orders it no longer holds are dropped,
a pickup disappears once the order is picked up, and carried orders the stored route does
not mention (accepted from an older offer, or offered by an operator) are appended.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from dispatch.optimizer.core import CarriedStop, RiderPlan
from dispatch.orders.models import OrderRow
from dispatch.orders.states import OrderState

StopDict = dict[str, Any]


def _stop(kind: str, order: OrderRow) -> StopDict:
    lat, lng = ((order.pickup_lat, order.pickup_lng) if kind == "pickup"
                else (order.dropoff_lat, order.dropoff_lng))
    return {"kind": kind, "order_id": order.id, "lat": lat, "lng": lng, "eta_ms": None}


def _remaining(order: OrderRow) -> tuple[str, ...]:
    return ("pickup", "dropoff") if order.state == OrderState.ASSIGNED else ("dropoff",)


def current_route(stored: Iterable[StopDict] | None, carried: Iterable[OrderRow]) -> list[StopDict]:
    """The stops still ahead of a rider carrying `carried`, in the stored route's order."""
    orders = {order.id: order for order in carried}
    route: list[StopDict] = []
    seen: set[tuple[str, str]] = set()
    for stop in stored or ():
        order = orders.get(stop["order_id"])
        key = (stop["kind"], stop["order_id"])
        if order is not None and stop["kind"] in _remaining(order) and key not in seen:
            route.append(dict(stop))
            seen.add(key)
    for order in orders.values():
        for kind in _remaining(order):
            if (kind, order.id) not in seen:
                route.append(_stop(kind, order))
    return route


def carried_stops(route: Iterable[StopDict], carried: Iterable[OrderRow]
                  ) -> tuple[CarriedStop, ...]:
    """The solver's view of a route: each stop with the food's ready time and the promise."""
    orders = {order.id: order for order in carried}
    return tuple(
        CarriedStop(kind=stop["kind"], order_id=stop["order_id"], lat=stop["lat"],
                    lng=stop["lng"], ready_s=orders[stop["order_id"]].ready_at.timestamp(),
                    promised_s=orders[stop["order_id"]].promised_at.timestamp())
        for stop in route)


def planned_route(plan: RiderPlan) -> list[StopDict]:
    """A rider's planned route (carried stops, then the new ones) with epoch-ms estimates,
    as stored on offers."""
    return [{"kind": stop.kind, "order_id": stop.order_id, "lat": float(stop.lat),
             "lng": float(stop.lng),
             "eta_ms": int(stop.eta_s * 1000) if math.isfinite(stop.eta_s) else None}
            for stop in plan.stops]
