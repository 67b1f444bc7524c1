"""Travel-time models: how long a rider takes between two points, vectorised over arrays.

The optimizer only talks to the `TravelModel` protocol, so a road-network model
can replace the two implementations here without touching it:

- `HaversineTravel`: great-circle metres times a detour factor (streets are not
  straight lines), divided by a per-vehicle speed. Coordinates are WGS84 degrees.
- `PlanarTravel`: Euclidean metres on a plane and `ceil(metres / metres_per_minute)`
  whole minutes, the rule of the Grubhub meal-delivery benchmark (MDRP), whose
  coordinates are planar metres. Its "lat" is the y and its "lng" the x coordinate.

`project` maps points to planar metres so that neighbour searches (k-d trees) can
use Euclidean radii; straight-line distance never exceeds the travelled distance
of either model, so a radius in the plane is a safe reach bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from geo.distance import EARTH_RADIUS_M, FloatArray, haversine_pairs_m

DEFAULT_SPEEDS_MPS: tuple[tuple[str, float], ...] = (
    ("bicycle", 4.2),
    ("car", 6.5),
    ("motorcycle", 7.5),
    ("scooter", 6.0),
    ("walk", 1.3),
)


@runtime_checkable
class TravelModel(Protocol):
    """Element-wise travel distances and times between arrays of points."""

    def project(self, lat: npt.ArrayLike, lng: npt.ArrayLike, origin_lat: float) -> FloatArray:
        """Points as an (n, 2) array of planar metres around `origin_lat`, for radius searches."""
        ...

    def distance_m(
        self, lat1: npt.ArrayLike, lng1: npt.ArrayLike, lat2: npt.ArrayLike, lng2: npt.ArrayLike
    ) -> FloatArray:
        """Metres travelled from each point 1 to its point 2 (broadcasting)."""
        ...

    def travel_s(
        self,
        lat1: npt.ArrayLike,
        lng1: npt.ArrayLike,
        lat2: npt.ArrayLike,
        lng2: npt.ArrayLike,
        vehicle: str,
    ) -> FloatArray:
        """Seconds a rider on `vehicle` needs from each point 1 to its point 2 (broadcasting)."""
        ...


@dataclass(frozen=True)
class HaversineTravel:
    """Great-circle distance times `detour_factor`, at a constant speed per vehicle.

    Parameters
    ----------
    detour_factor
        Ratio of street distance to great-circle distance (1.2-1.4 in most cities).
    speeds_mps
        (vehicle, metres per second) pairs; asking for another vehicle raises ValueError.
    """

    detour_factor: float = 1.3
    speeds_mps: tuple[tuple[str, float], ...] = DEFAULT_SPEEDS_MPS
    _speeds: dict[str, float] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not math.isfinite(self.detour_factor) or self.detour_factor < 1.0:
            raise ValueError("detour_factor must be a finite number >= 1")
        speeds = dict(self.speeds_mps)
        if not speeds or any(not math.isfinite(v) or v <= 0 for v in speeds.values()):
            raise ValueError("speeds_mps needs at least one vehicle, all speeds finite and > 0")
        object.__setattr__(self, "_speeds", speeds)

    def speed_mps(self, vehicle: str) -> float:
        """Speed of `vehicle` in metres per second."""
        try:
            return self._speeds[vehicle]
        except KeyError:
            known = sorted(self._speeds)
            raise ValueError(f"unknown vehicle {vehicle!r}; known: {known}") from None

    def project(self, lat: npt.ArrayLike, lng: npt.ArrayLike, origin_lat: float) -> FloatArray:
        """Equirectangular metres around `origin_lat` (accurate to well under 1% across a city)."""
        lat_r = np.radians(np.asarray(lat, dtype=np.float64))
        lng_r = np.radians(np.asarray(lng, dtype=np.float64))
        x = lng_r * math.cos(math.radians(origin_lat)) * EARTH_RADIUS_M
        y = lat_r * EARTH_RADIUS_M
        return np.column_stack([x, y])

    def distance_m(
        self, lat1: npt.ArrayLike, lng1: npt.ArrayLike, lat2: npt.ArrayLike, lng2: npt.ArrayLike
    ) -> FloatArray:
        """Great-circle metres times the detour factor."""
        out: FloatArray = haversine_pairs_m(lat1, lng1, lat2, lng2) * self.detour_factor
        return out

    def travel_s(
        self,
        lat1: npt.ArrayLike,
        lng1: npt.ArrayLike,
        lat2: npt.ArrayLike,
        lng2: npt.ArrayLike,
        vehicle: str,
    ) -> FloatArray:
        """Travelled metres over the vehicle's speed."""
        out: FloatArray = self.distance_m(lat1, lng1, lat2, lng2) / self.speed_mps(vehicle)
        return out


@dataclass(frozen=True)
class PlanarTravel:
    """Euclidean metres on a plane; whole minutes `ceil(metres / metres_per_minute)` (MDRP).

    Every vehicle moves at `metres_per_minute`. With `whole_minutes=False` the time is
    the exact quotient instead (useful to see what the rounding costs).
    """

    metres_per_minute: float = 320.0
    whole_minutes: bool = True

    def __post_init__(self) -> None:
        if not math.isfinite(self.metres_per_minute) or self.metres_per_minute <= 0:
            raise ValueError("metres_per_minute must be finite and > 0")

    def project(self, lat: npt.ArrayLike, lng: npt.ArrayLike, origin_lat: float) -> FloatArray:
        """Already planar: (x, y) = (lng, lat)."""
        del origin_lat
        return np.column_stack(
            [np.asarray(lng, dtype=np.float64), np.asarray(lat, dtype=np.float64)]
        )

    def distance_m(
        self, lat1: npt.ArrayLike, lng1: npt.ArrayLike, lat2: npt.ArrayLike, lng2: npt.ArrayLike
    ) -> FloatArray:
        """Euclidean metres."""
        dy = np.asarray(lat2, dtype=np.float64) - np.asarray(lat1, dtype=np.float64)
        dx = np.asarray(lng2, dtype=np.float64) - np.asarray(lng1, dtype=np.float64)
        out: FloatArray = np.hypot(dx, dy)
        return out

    def travel_s(
        self,
        lat1: npt.ArrayLike,
        lng1: npt.ArrayLike,
        lat2: npt.ArrayLike,
        lng2: npt.ArrayLike,
        vehicle: str,
    ) -> FloatArray:
        """Seconds: whole minutes rounded up, as the MDRP evaluator counts them."""
        del vehicle
        minutes = self.distance_m(lat1, lng1, lat2, lng2) / self.metres_per_minute
        if self.whole_minutes:
            # 1e-9 keeps exact multiples (e.g. 640 m at 320 m/min) from rounding up on float noise.
            minutes = np.ceil(minutes - 1e-9)
        out: FloatArray = minutes * 60.0
        return out
