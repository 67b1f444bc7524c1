"""Per-order and per-courier facts read back from a replay's trips."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from simulators.replay import ReplayResult


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivered order."""

    order_id: str
    courier_id: str
    placed_s: float
    ready_s: float
    promised_s: float
    committed_s: float
    pickup_s: float
    dropoff_s: float
    bundle_size: int

    @property
    def click_to_door_s(self) -> float:
        """Drop-off time minus placement time."""
        return self.dropoff_s - self.placed_s

    @property
    def ready_to_pickup_s(self) -> float:
        """Pickup time minus ready time."""
        return self.pickup_s - self.ready_s


@dataclass(frozen=True)
class CourierTotals:
    """One courier's day: shift length, orders delivered, busy time, metres travelled."""

    courier_id: str
    shift_s: float
    delivered: int
    busy_s: float
    metres: float


def outcomes(result: ReplayResult) -> list[Outcome]:
    """Every delivered order's outcome, in drop-off order."""
    orders = {o.order_id: o for o in result.instance.orders}
    found: list[Outcome] = []
    for trip in result.trips:
        picked: dict[str, tuple[float, int]] = {}
        for visit in trip.visits:
            if visit.kind == "pickup":
                for oid in visit.order_ids:
                    picked[oid] = (visit.at_s, len(visit.order_ids))
            elif visit.kind == "dropoff":
                oid = visit.order_ids[0]
                pickup_s, size = picked[oid]
                o = orders[oid]
                found.append(Outcome(oid, trip.courier_id, o.placed_s, o.ready_s, o.promised_s,
                                     trip.committed_s, pickup_s, visit.at_s, size))
    found.sort(key=lambda x: (x.dropoff_s, x.order_id))
    return found


def courier_totals(result: ReplayResult) -> list[CourierTotals]:
    """Per courier: shift, deliveries, busy seconds (departure to last stop) and metres."""
    delivered: dict[str, int] = defaultdict(int)
    busy: dict[str, float] = defaultdict(float)
    metres: dict[str, float] = defaultdict(float)
    for trip in result.trips:
        delivered[trip.courier_id] += sum(1 for v in trip.visits if v.kind == "dropoff")
        busy[trip.courier_id] += trip.end_s - trip.depart_s
        metres[trip.courier_id] += trip.metres
    return [
        CourierTotals(c.courier_id, c.off_s - c.on_s, delivered[c.courier_id],
                      busy[c.courier_id], metres[c.courier_id])
        for c in result.instance.couriers
    ]
