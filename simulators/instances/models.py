"""A delivery day as plain data: its orders, its couriers and the rules it is played by.

Every reader turns its files into these, so the replay never knows where a day
came from. Times are seconds from the start of the day; coordinates are whatever
the instance's travel model reads (planar metres for MDRP, WGS84 for real days).
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.travel import DEFAULT_SPEEDS_MPS, HaversineTravel, PlanarTravel, TravelModel

# Real days name walking couriers "walking"; the travel model calls them "walk".
REAL_DAY_SPEEDS_MPS = (*DEFAULT_SPEEDS_MPS, ("walking", 1.3))


@dataclass(frozen=True)
class Rules:
    """How a day is played: service times, the promise, the pay rule and the travel model.

    `metres_per_minute` set means planar coordinates and MDRP travel times
    (``ceil(metres / metres_per_minute)`` whole minutes); unset means WGS84 and
    haversine travel at each vehicle's speed. Pay is in minor units of `currency`.
    """

    pickup_service_s: float = 240.0
    dropoff_service_s: float = 240.0
    target_click_to_door_s: float = 2400.0
    max_click_to_door_s: float = 5400.0
    pay_per_order_minor: int = 1000
    pay_per_hour_minor: int = 1500
    currency: str = "USD"
    metres_per_minute: float | None = None

    def __post_init__(self) -> None:
        if self.pickup_service_s < 0 or self.dropoff_service_s < 0:
            raise ValueError("service times must be >= 0")
        if self.metres_per_minute is not None and self.metres_per_minute <= 0:
            raise ValueError("metres_per_minute must be > 0")

    @property
    def planar(self) -> bool:
        """True when coordinates are planar metres and travel is MDRP's whole minutes."""
        return self.metres_per_minute is not None

    def travel(self) -> TravelModel:
        """The travel model these rules prescribe."""
        if self.metres_per_minute is not None:
            return PlanarTravel(metres_per_minute=self.metres_per_minute)
        return HaversineTravel(speeds_mps=REAL_DAY_SPEEDS_MPS)


@dataclass(frozen=True)
class DayOrder:
    """One order of the day, with the truth the dispatcher may or may not see (`ready_s`)."""

    order_id: str
    pickup_lat: float
    pickup_lng: float
    dropoff_lat: float
    dropoff_lng: float
    placed_s: float
    ready_s: float
    promised_s: float
    merchant_id: str


@dataclass(frozen=True)
class DayCourier:
    """One courier's shift: where it starts, when it is on, on what it rides."""

    courier_id: str
    lat: float
    lng: float
    on_s: float
    off_s: float
    vehicle: str = "motorcycle"


@dataclass(frozen=True)
class Instance:
    """A whole day: orders sorted by placement, couriers, rules, and where it came from."""

    name: str
    source: str
    orders: tuple[DayOrder, ...]
    couriers: tuple[DayCourier, ...]
    rules: Rules

    def __post_init__(self) -> None:
        ids = {o.order_id for o in self.orders}
        if len(ids) != len(self.orders):
            raise ValueError(f"{self.name}: order ids must be unique")
        if len({c.courier_id for c in self.couriers}) != len(self.couriers):
            raise ValueError(f"{self.name}: courier ids must be unique")
        if any(c.off_s < c.on_s for c in self.couriers):
            raise ValueError(f"{self.name}: a courier's shift ends before it starts")

    @property
    def planar(self) -> bool:
        """True when coordinates are planar metres (MDRP)."""
        return self.rules.planar
