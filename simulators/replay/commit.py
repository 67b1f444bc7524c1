"""Between the replay and the optimizer: what a batch is given, and which answers are kept.

The commitment rule: a proposal is committed only when its courier must leave
within the next batch interval (`commit_ahead_s`) for its first pickup, that is
when ``max(when the courier is free, ready - pickup_service/2 - travel to the
pickup) <= now + commit_ahead_s``, with the ready time the dispatcher sees. A
committed trip is final: the courier leaves at once (or when it finishes its
current trip) and the orders are never revisited, unless the shift ends before
the pickup, in which case they come back to the pool. Proposals that need not
start yet are dropped, their orders stay pending, and the next batch decides
again with more orders and riders in view (the paper's postponement, at the
service's batch interval instead of every five minutes).

With ready times estimated, a courier waiting at a restaurant for food not ready
yet is offered to each batch again, free now where it waits, beside the orders it
waits for (`waiting_verdict`): a due proposal that gives it other work takes it
off that trip first, and the orders it waited for go back to the pool; one that
gives those orders to another courier is not committed (a swap only adds a
ride). The rules allow it: nothing has been picked up, and the courier leaves
from where it is. So late food does not pin down a courier that other orders
need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from dispatch.optimizer.core import OrderSpec, RiderSpec
from geo.travel import TravelModel
from simulators.instances import DayOrder, Rules
from simulators.replay.policies import Proposal
from simulators.replay.ready import ReadyBoard
from simulators.replay.trips import Visit

Verdict = Literal["commit", "release", "keep"]


def order_spec(
    order: DayOrder, board: ReadyBoard, now_s: float, excluded: frozenset[str], floor_s: float,
    waited: bool = False,
) -> OrderSpec:
    """The order as the optimizer sees it: the ready time the dispatcher knows or estimates.

    The promise handed over is never earlier than the order could possibly be
    delivered (`floor_s` after its ready time: services plus the direct trip), so
    lateness nobody could avoid does not make the order look too costly to serve
    and leave it starving in the pool. `waited`: a courier is already waiting for
    the food (`ReadyBoard.ready_s`).
    """
    ready = board.ready_s(order, now_s, waited)
    return OrderSpec(
        order_id=order.order_id,
        pickup_lat=order.pickup_lat,
        pickup_lng=order.pickup_lng,
        dropoff_lat=order.dropoff_lat,
        dropoff_lng=order.dropoff_lng,
        placed_s=order.placed_s,
        ready_s=ready,
        promised_s=max(order.promised_s, ready + floor_s),
        merchant_id=order.merchant_id,
        excluded_riders=excluded,
    )


def delivery_floors_s(orders: Sequence[DayOrder], rules: Rules, vehicles: set[str]) -> list[float]:
    """Per order, the least time from ready to drop-off: services and the fastest direct trip."""
    travel = rules.travel()
    plat = np.array([o.pickup_lat for o in orders])
    plng = np.array([o.pickup_lng for o in orders])
    dlat = np.array([o.dropoff_lat for o in orders])
    dlng = np.array([o.dropoff_lng for o in orders])
    trip = np.full(len(orders), np.inf)
    for vehicle in vehicles:
        trip = np.minimum(trip, travel.travel_s(plat, plng, dlat, dlng, vehicle))
    services = rules.pickup_service_s + rules.dropoff_service_s / 2
    floors: list[float] = (trip + services).tolist()
    return floors


def must_start_by(
    proposals: Sequence[Proposal],
    riders: Sequence[RiderSpec],
    orders: Mapping[str, DayOrder],
    board: ReadyBoard,
    rules: Rules,
    travel: TravelModel,
    now_s: float,
) -> list[float]:
    """Per proposal (rider i takes proposal i), the latest time its courier can leave
    without picking up later than it could.

    The first pickup's visit (every pickup at its place) is ready when its last order
    is; the rides to the first pickups are timed in one call per vehicle.
    """
    firsts = [orders[p.stops[0][1]] for p in proposals]
    ready = np.array([
        max(board.ready_s(orders[oid], now_s) for kind, oid in p.stops
            if kind == "pickup" and _same_place(orders[oid], first))
        for p, first in zip(proposals, firsts, strict=True)
    ], dtype=np.float64)
    rider_at = np.array([(r.lat, r.lng) for r in riders], dtype=np.float64).reshape(-1, 2)
    pickup = np.array([(o.pickup_lat, o.pickup_lng) for o in firsts], dtype=np.float64)
    pickup = pickup.reshape(-1, 2)
    vehicles = np.array([r.vehicle for r in riders], dtype=object)
    leg = np.zeros(len(proposals))
    for vehicle in set(vehicles.tolist()):
        at = vehicles == vehicle
        leg[at] = travel.travel_s(rider_at[at, 0], rider_at[at, 1], pickup[at, 0],
                                  pickup[at, 1], vehicle)
    latest = ready - rules.pickup_service_s / 2 - leg
    available = np.array([r.available_s for r in riders], dtype=np.float64)
    start_by: list[float] = np.maximum(available, latest).tolist()
    return start_by


def _same_place(order: DayOrder, first: DayOrder) -> bool:
    """Whether `order` is picked up where `first` is (one visit)."""
    return (order.pickup_lat, order.pickup_lng) == (first.pickup_lat, first.pickup_lng)


def should_commit(start_by_s: float, now_s: float, commit_ahead_s: float) -> bool:
    """True when waiting for the next batch could delay the pickup."""
    return start_by_s <= now_s + commit_ahead_s


def waiting_verdict(proposal: Proposal, waiting: Mapping[str, Visit]) -> Verdict:
    """What a due `proposal` does, given the couriers waiting for food (`waiting`).

    ``"keep"`` when it touches an order a courier waits for: the plan stands, since
    handing those orders to another courier, or to the same one again, only adds
    a courier's ride or a second pickup service. ``"release"`` when its courier
    waits for other food: it is taken off that trip, then the proposal is
    committed. ``"commit"`` otherwise.
    """
    taken = {oid for kind, oid in proposal.stops if kind == "pickup"}
    if any(taken & set(visit.order_ids) for visit in waiting.values()):
        return "keep"
    return "release" if proposal.rider_id in waiting else "commit"
