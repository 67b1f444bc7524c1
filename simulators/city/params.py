"""`CityParams`: the knobs of a synthetic city, validated at construction."""

from __future__ import annotations

import math
from dataclasses import dataclass

HOUR = 3600.0
VEHICLES = ("bicycle", "scooter", "car", "motorcycle", "walk")


@dataclass(frozen=True)
class CityParams:
    """What to generate: the area, who is in it, and the window of the day that is played.

    Times are seconds after midnight of the simulated day; distances in kilometres.
    `orders` is the expected number of orders in `[start_s, end_s)` (the exact count is
    Poisson). With `full_shifts` every rider works the whole window (load tests);
    otherwise shifts of 3-6 hours follow the demand curve.
    """

    region: str = "city"
    centre_lat: float = 52.52
    centre_lng: float = 13.405
    radius_km: float = 9.0
    commercial_areas: int = 6
    merchants: int = 120
    customers: int = 4000
    riders: int = 200
    orders: float = 1000.0
    start_s: float = 11 * HOUR
    end_s: float = 14 * HOUR
    vehicle_mix: tuple[tuple[str, float], ...] = (("bicycle", 0.5), ("scooter", 0.35),
                                                  ("car", 0.15))
    full_shifts: bool = False
    prep_min_s: float = 5 * 60.0
    prep_max_s: float = 18 * 60.0
    promise_s: float = 40 * 60.0
    accept_prob: tuple[float, float] = (0.85, 0.99)
    decline_share: float = 0.0  # share of orders whose payment the sandbox declines

    def __post_init__(self) -> None:
        if not (-80 < self.centre_lat < 80 and -180 <= self.centre_lng <= 180):
            raise ValueError("the centre must be a WGS84 point away from the poles")
        if not 0.5 <= self.radius_km <= 60:
            raise ValueError("radius_km must be within [0.5, 60]")
        if min(self.commercial_areas, self.merchants, self.customers) < 1 or self.riders < 0:
            raise ValueError("commercial_areas, merchants and customers must be >= 1, "
                             "riders >= 0")
        if not (math.isfinite(self.orders) and self.orders >= 0):
            raise ValueError("orders must be a finite number >= 0")
        if not 0 <= self.start_s < self.end_s <= 48 * HOUR:
            raise ValueError("the window needs 0 <= start_s < end_s <= 48 h")
        self._check_mix()
        if not 0 < self.prep_min_s <= self.prep_max_s < self.promise_s:
            raise ValueError("need 0 < prep_min_s <= prep_max_s < promise_s")
        low, high = self.accept_prob
        if not 0 <= low <= high <= 1:
            raise ValueError("accept_prob must be (low, high) within [0, 1]")
        if not 0 <= self.decline_share <= 1:
            raise ValueError("decline_share must be within [0, 1]")

    def _check_mix(self) -> None:
        if not self.vehicle_mix:
            raise ValueError("vehicle_mix needs at least one vehicle")
        for vehicle, share in self.vehicle_mix:
            if vehicle not in VEHICLES or not share > 0:
                raise ValueError(f"vehicle_mix: unknown vehicle {vehicle!r} or share <= 0; "
                                 f"known: {VEHICLES}")

    @property
    def duration_s(self) -> float:
        """Length of the played window."""
        return self.end_s - self.start_s
