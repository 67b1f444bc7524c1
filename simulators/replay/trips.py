"""A committed trip played by the MDRP rules: when each stop happens, what is released.

A courier leaves where it is and visits its stops in order. Consecutive pickups
at one place are one visit, as a bundle from one restaurant is: the pickup is at
``max(last ready time, arrival + pickup_service / 2)`` and the courier leaves
half a service later. A drop-off is at ``arrival + dropoff_service / 2``, leaving
half a service later. Travel time is the instance's travel model. A courier may
not pick up after its shift ends: the orders of such a pickup (and of any later
one in the trip) are released at ``max(arrival, shift end)`` for another courier,
while what it already carries is still delivered.

A courier waiting at a restaurant for food not ready yet may be taken off its
trip (`cut_at_wait`): the trip then ends where and when it is, as a shift-end
release does, and its orders go back to the pool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from geo.travel import TravelModel
from simulators.instances import DayOrder, Rules


@dataclass(frozen=True)
class Visit:
    """One stop of a trip: a pickup of one or more orders, or one drop-off."""

    kind: str  # "pickup" or "dropoff"
    order_ids: tuple[str, ...]
    lat: float
    lng: float
    arrive_s: float
    at_s: float
    leave_s: float
    metres: float  # travelled from the previous stop


@dataclass(frozen=True)
class Trip:
    """What a courier did for one commitment, from departure to its last stop."""

    courier_id: str
    committed_s: float
    depart_s: float
    visits: tuple[Visit, ...]
    released: tuple[str, ...]
    release_s: float
    end_s: float
    end_lat: float
    end_lng: float

    @property
    def metres(self) -> float:
        """Distance travelled on the trip."""
        return sum(v.metres for v in self.visits)


@dataclass(frozen=True)
class Leg:
    """Where a trip starts: the courier's position, time, vehicle and shift end."""

    courier_id: str
    lat: float
    lng: float
    depart_s: float
    off_s: float
    vehicle: str


def group_stops(stops: Sequence[tuple[str, DayOrder]]) -> list[tuple[str, list[DayOrder]]]:
    """Stops with consecutive pickups at the same place merged into one."""
    groups: list[tuple[str, list[DayOrder]]] = []
    for kind, order in stops:
        last = groups[-1] if groups else None
        same_place = last is not None and (
            (last[1][0].pickup_lat, last[1][0].pickup_lng) == (order.pickup_lat, order.pickup_lng)
        )
        if kind == "pickup" and last is not None and last[0] == "pickup" and same_place:
            last[1].append(order)
        else:
            groups.append((kind, [order]))
    return groups


def play_trip(
    leg: Leg,
    stops: Sequence[tuple[str, DayOrder]],
    rules: Rules,
    travel: TravelModel,
    committed_s: float,
) -> Trip:
    """Play a trip's stops from `leg` by the rules; see the module docstring."""
    half_p, half_d = rules.pickup_service_s / 2, rules.dropoff_service_s / 2
    clock, lat, lng = leg.depart_s, leg.lat, leg.lng
    visits: list[Visit] = []
    released: list[str] = []
    release_s = clock
    for kind, group in group_stops(stops):
        if kind == "dropoff" and group[0].order_id in released:
            continue
        if kind == "pickup" and released:
            released.extend(o.order_id for o in group)
            continue
        to_lat, to_lng = _place(kind, group[0])
        metres = float(travel.distance_m(lat, lng, to_lat, to_lng))
        arrive = clock + float(travel.travel_s(lat, lng, to_lat, to_lng, leg.vehicle))
        lat, lng = to_lat, to_lng
        if kind == "pickup":
            at = max(*(o.ready_s for o in group), arrive + half_p)
            if at > leg.off_s:
                released.extend(o.order_id for o in group)
                release_s = clock = max(arrive, leg.off_s)
                visits.append(Visit("arrival", (), lat, lng, arrive, clock, clock, metres))
                continue
            leave = at + half_p
        else:
            at = arrive + half_d
            leave = at + half_d
        visits.append(Visit(kind, tuple(o.order_id for o in group), lat, lng, arrive, at, leave,
                            metres))
        clock = leave
    return Trip(leg.courier_id, committed_s, leg.depart_s, tuple(visits), tuple(released),
                release_s, clock, lat, lng)


def waiting_pickup(trip: Trip, now_s: float, half_pickup_s: float) -> Visit | None:
    """The trip's pickup its courier is at, waiting for food not ready by `now_s` (else None).

    The courier has arrived (its half service is done) and the pickup is still
    ahead, so the food is not ready: the merchant has not marked it, which the
    dispatcher sees without knowing when it will be.
    """
    for visit in trip.visits:
        if visit.kind == "pickup" and visit.at_s > now_s:
            return visit if visit.arrive_s + half_pickup_s <= now_s else None
    return None


def cut_at_wait(trip: Trip, visit: Visit, now_s: float) -> Trip:
    """`trip` ended at `now_s` where its courier waits at `visit`; the rest is released.

    What was done before the visit stays; the visit becomes an arrival (no
    pickup), and its orders and every later pickup's are released at `now_s`.
    """
    k = trip.visits.index(visit)
    done = trip.visits[:k]
    arrival = Visit("arrival", (), visit.lat, visit.lng, visit.arrive_s, now_s, now_s,
                    visit.metres)
    released = tuple(oid for v in trip.visits[k:] if v.kind == "pickup" for oid in v.order_ids)
    return Trip(trip.courier_id, trip.committed_s, trip.depart_s, (*done, arrival),
                released + trip.released, now_s, now_s, visit.lat, visit.lng)


def _place(kind: str, order: DayOrder) -> tuple[float, float]:
    if kind == "pickup":
        return order.pickup_lat, order.pickup_lng
    return order.dropoff_lat, order.dropoff_lng
