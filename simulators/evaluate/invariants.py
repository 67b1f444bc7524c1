"""Rule checks over a replay, independent of how the replay computed its times.

Each check re-derives what the MDRP rules demand from the instance and the trips
alone and returns a message for every breach; an empty list means the run kept
every rule. Every leg is timed from where the courier was, its first leg from its
shift's start or its previous trip's end (checked before 26 Nov 2026 only from a
trip's first stop on), so a trip cut short (a courier taken off food it waited for,
or stopped by its shift's end) is checked like any other: it must end at its last
stop, and the next trip leaves from there.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping

from simulators.instances import DayCourier, DayOrder, Instance, Rules
from simulators.replay import ReplayResult, Trip, Visit

EPS = 1e-6


def check_invariants(result: ReplayResult) -> list[str]:
    """Every rule breach in `result` (empty when none)."""
    instance = result.instance
    couriers = {c.courier_id: c for c in instance.couriers}
    orders = {o.order_id: o for o in instance.orders}
    problems = list(_accounting(result))
    by_courier: dict[str, list[Trip]] = defaultdict(list)
    for trip in result.trips:
        by_courier[trip.courier_id].append(trip)
    for cid, trips in by_courier.items():
        courier = couriers[cid]
        trips.sort(key=lambda t: t.depart_s)
        problems.extend(_sequence(cid, trips, courier))
        start = (courier.lat, courier.lng)
        for trip in trips:
            problems.extend(_trip(trip, courier, instance, orders, start))
            start = (trip.end_lat, trip.end_lng)
    return problems


def _accounting(result: ReplayResult) -> Iterator[str]:
    """Each order delivered exactly once or reported undelivered, never both, none lost."""
    dropped = Counter(
        oid for t in result.trips for v in t.visits if v.kind == "dropoff" for oid in v.order_ids
    )
    for oid, count in dropped.items():
        if count > 1:
            yield f"order {oid} delivered {count} times"
    undelivered = set(result.undelivered)
    for order in result.instance.orders:
        seen = order.order_id in dropped
        if seen == (order.order_id in undelivered):
            yield f"order {order.order_id}: delivered={seen}, listed undelivered={not seen}"


def _trip(
    trip: Trip, courier: DayCourier, instance: Instance, orders: Mapping[str, DayOrder],
    start: tuple[float, float],
) -> Iterator[str]:
    """Travel times (from where the courier was when it left), service times, ready times,
    shift end, pickup-before-drop-off, and the trip ending where its last stop is."""
    travel = instance.rules.travel()
    (lat, lng), clock = start, trip.depart_s
    picked: set[str] = set()
    for v in trip.visits:
        leg = float(travel.travel_s(lat, lng, v.lat, v.lng, courier.vehicle))
        if abs(v.arrive_s - (clock + leg)) > EPS:
            yield f"{trip.courier_id}: arrival at {v.arrive_s} breaks travel time {leg}"
        if v.leave_s < v.at_s - EPS or v.at_s < v.arrive_s - EPS:
            yield f"{trip.courier_id}: visit at {v.at_s} leaves before it arrives"
        lat, lng, clock = v.lat, v.lng, v.leave_s
        yield from _visit(v, trip, courier, instance.rules, orders, picked)
    if (trip.end_lat, trip.end_lng) != (lat, lng) or abs(trip.end_s - clock) > EPS:
        yield f"{trip.courier_id}: trip ends at {trip.end_s} away from its last stop"


def _visit(
    v: Visit, trip: Trip, courier: DayCourier, rules: Rules, all_orders: Mapping[str, DayOrder],
    picked: set[str],
) -> Iterator[str]:
    """Service time, ready time, shift end, placement and precedence of one visit."""
    orders = {oid: all_orders[oid] for oid in v.order_ids}
    if v.kind == "pickup":
        ready = max(o.ready_s for o in orders.values())
        if v.at_s < ready - EPS or v.at_s < v.arrive_s + rules.pickup_service_s / 2 - EPS:
            yield f"{trip.courier_id}: pickup of {v.order_ids} at {v.at_s} before ready/service"
        if v.at_s > courier.off_s + EPS:
            yield f"{trip.courier_id}: pickup at {v.at_s} after shift end {courier.off_s}"
        if any(o.placed_s > trip.committed_s for o in orders.values()):
            yield f"{trip.courier_id}: committed {v.order_ids} before placement"
        picked.update(v.order_ids)
    elif v.kind == "dropoff":
        if not set(v.order_ids) <= picked:
            yield f"{trip.courier_id}: drop-off of {v.order_ids} before its pickup"
        if abs(v.at_s - (v.arrive_s + rules.dropoff_service_s / 2)) > EPS:
            yield f"{trip.courier_id}: drop-off at {v.at_s} breaks the service time"


def _sequence(courier_id: str, trips: list[Trip], courier: DayCourier) -> Iterator[str]:
    """A courier's trips start after its shift starts and never overlap."""
    previous_end = courier.on_s
    for trip in trips:
        if trip.depart_s < previous_end - EPS or trip.depart_s < trip.committed_s - EPS:
            yield f"{courier_id}: trip departs at {trip.depart_s} before it is free or committed"
        previous_end = trip.end_s
