"""The optimizer's plain data: orders and riders going in, a plan coming out.

All times are seconds on one clock (the caller's: epoch seconds in the service,
simulated seconds in replays). Coordinates are whatever the travel model reads:
WGS84 degrees for the haversine model, planar metres (y in `lat`, x in `lng`)
for the planar one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

StopKind = Literal["pickup", "dropoff"]
# A route's new stops as (kind, order id), in the order the rider visits them.
StopSequence = tuple[tuple[StopKind, str], ...]


def picked_up(sequence: StopSequence) -> tuple[str, ...]:
    """The order ids a stop sequence picks up, in pickup order."""
    return tuple(oid for kind, oid in sequence if kind == "pickup")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


@dataclass(frozen=True)
class OrderSpec:
    """An order waiting for a rider: one pickup, one drop-off, its clock and its promise."""

    order_id: str
    pickup_lat: float
    pickup_lng: float
    dropoff_lat: float
    dropoff_lng: float
    placed_s: float
    ready_s: float
    promised_s: float
    merchant_id: str | None = None
    excluded_riders: frozenset[str] = frozenset()
    size: int = 1

    def __post_init__(self) -> None:
        _require(bool(self.order_id), "order_id must be non-empty")
        _require(
            _finite(self.pickup_lat, self.pickup_lng, self.dropoff_lat, self.dropoff_lng),
            f"order {self.order_id}: coordinates must be finite",
        )
        _require(
            _finite(self.placed_s, self.ready_s, self.promised_s),
            f"order {self.order_id}: times must be finite",
        )
        _require(self.size >= 1, f"order {self.order_id}: size must be >= 1")


@dataclass(frozen=True)
class CarriedStop:
    """A remaining stop of an order a rider already carries (or has accepted but not picked up).

    `ready_s` matters for pickups (the rider waits for the food); `promised_s` for
    drop-offs (lateness is measured against it).
    """

    kind: StopKind
    order_id: str
    lat: float
    lng: float
    ready_s: float = -math.inf
    promised_s: float = math.inf

    def __post_init__(self) -> None:
        _require(self.kind in ("pickup", "dropoff"), f"unknown stop kind {self.kind!r}")
        _require(_finite(self.lat, self.lng), f"carried stop {self.order_id}: bad coordinates")


@dataclass(frozen=True)
class RiderSpec:
    """A rider who can take work: where, when, on what, and what it already carries.

    `carried` lists the rider's remaining stops in the order it will visit them;
    new work is appended after them, so the route's detour is measured from the
    last carried stop. `load` counts the orders the rider holds (carried or accepted)
    and `capacity - load` is what a batch may add.
    """

    rider_id: str
    lat: float
    lng: float
    available_s: float
    capacity: int = 3
    vehicle: str = "motorcycle"
    shift_end_s: float | None = None
    carried: tuple[CarriedStop, ...] = ()
    load: int = 0

    def __post_init__(self) -> None:
        _require(bool(self.rider_id), "rider_id must be non-empty")
        _require(_finite(self.lat, self.lng), f"rider {self.rider_id}: bad coordinates")
        _require(_finite(self.available_s), f"rider {self.rider_id}: available_s must be finite")
        _require(self.capacity >= 1, f"rider {self.rider_id}: capacity must be >= 1")
        _require(
            0 <= self.load <= self.capacity, f"rider {self.rider_id}: need 0 <= load <= capacity"
        )
        carried_orders = {stop.order_id for stop in self.carried}
        _require(
            len(carried_orders) <= self.load,
            f"rider {self.rider_id}: carries {len(carried_orders)} orders but load is {self.load}",
        )


@dataclass(frozen=True)
class Stop:
    """One stop of a planned route, with its estimated service time."""

    kind: StopKind
    order_id: str
    lat: float
    lng: float
    eta_s: float


@dataclass(frozen=True)
class RiderPlan:
    """What one rider is asked to do: the new orders and its whole remaining route.

    `stops` starts with the rider's carried stops, then the new ones.
    """

    rider_id: str
    order_ids: tuple[str, ...]
    stops: tuple[Stop, ...]


class PlannedRoutes(Mapping[str, RiderPlan]):
    """A plan's routes by rider id, whose `RiderPlan`s are built on first lookup.

    `sequences` (each route's new stops as (kind, order id)) is there from the start:
    a caller that needs only those (a replay commits a route or two of a batch's
    hundreds) never pays for the `Stop` objects and their ETAs. Iterating, counting
    and membership read `sequences` too; `build()` must give the same riders in the
    same order.
    """

    def __init__(
        self, sequences: Mapping[str, StopSequence], build: Callable[[], dict[str, RiderPlan]]
    ) -> None:
        self.sequences = sequences
        self._build: Callable[[], dict[str, RiderPlan]] | None = build
        self._routes: dict[str, RiderPlan] = {}

    def _built(self) -> dict[str, RiderPlan]:
        build = self._build
        if build is not None:  # two threads may both build: the same routes either way
            self._routes, self._build = build(), None
        return self._routes

    def __getitem__(self, rider_id: str) -> RiderPlan:
        return self._built()[rider_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.sequences)

    def __len__(self) -> int:
        return len(self.sequences)

    def __contains__(self, rider_id: object) -> bool:
        return rider_id in self.sequences

    def __repr__(self) -> str:
        return f"PlannedRoutes({self._built()!r})"


@dataclass(frozen=True)
class Plan:
    """A batch's answer: routes per rider, orders left for the next batch, cost and timings.

    `timings` holds `candidates_s`, `build_s`, `solve_s` (and `total_s`); `stats`
    holds counts such as `candidates`, `bundles`, the `method` that produced the
    plan and `travel_m`, the metres riders travel for the new work. The optimizer's
    `routes` are `PlannedRoutes`, built on first lookup; `sequences` reads the new
    stops without building them.
    """

    routes: Mapping[str, RiderPlan]
    unassigned: tuple[str, ...]
    cost: float
    timings: Mapping[str, float] = field(default_factory=dict)
    stats: Mapping[str, float | int | str] = field(default_factory=dict)

    @property
    def sequences(self) -> Mapping[str, StopSequence]:
        """Each route's new stops (after the carried ones) as (kind, order id), by rider id."""
        if isinstance(self.routes, PlannedRoutes):
            return self.routes.sequences
        return {
            rid: tuple((s.kind, s.order_id) for s in route.stops if s.order_id in route.order_ids)
            for rid, route in self.routes.items()
        }

    def assignment(self) -> dict[str, str]:
        """Order id to rider id for every assigned order."""
        return {oid: rid for rid, stops in self.sequences.items() for oid in picked_up(stops)}
