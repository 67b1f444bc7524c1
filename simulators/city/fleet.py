"""Riders: vehicles from the mix, start points near the commercial areas, shifts that
follow demand (or cover the whole window in load tests)."""

from __future__ import annotations

import numpy as np

from simulators.city.demand import intensity
from simulators.city.geography import Points
from simulators.city.model import RiderProfile
from simulators.city.params import HOUR, CityParams

MIN_SHIFT_S = 3 * HOUR
MAX_SHIFT_S = 6 * HOUR
EARLY_S = 0.5 * HOUR  # riders log on a little before the demand they come for


def shifts(params: CityParams, rng: np.random.Generator, n: int) -> Points:
    """(start, end) per rider: whole window, or a 3-6 h shift started before a busy time."""
    if params.full_shifts:
        return np.tile([params.start_s, params.end_s], (n, 1))
    grid = np.linspace(params.start_s, params.end_s, 256)
    weights = intensity(grid)
    starts = rng.choice(grid, size=n, p=weights / weights.sum()) - EARLY_S
    lengths = rng.uniform(MIN_SHIFT_S, MAX_SHIFT_S, size=n)
    starts = np.clip(starts, params.start_s, params.end_s - 60.0)
    ends = np.minimum(starts + lengths, params.end_s)
    return np.column_stack([starts, ends])


def riders(params: CityParams, rng: np.random.Generator, starts: Points) -> list[RiderProfile]:
    """The fleet; `starts` holds one (lat, lng) start point per rider."""
    names = [vehicle for vehicle, _ in params.vehicle_mix]
    shares = np.array([share for _, share in params.vehicle_mix])
    vehicles = rng.choice(len(names), size=params.riders, p=shares / shares.sum())
    low, high = params.accept_prob
    accept = rng.uniform(low, high, size=params.riders)
    windows = shifts(params, rng, params.riders)
    return [
        RiderProfile(index=i, vehicle=names[int(vehicles[i])], lat=float(starts[i, 0]),
                     lng=float(starts[i, 1]), shift_start_s=float(windows[i, 0]),
                     shift_end_s=float(windows[i, 1]), accept_prob=float(accept[i]))
        for i in range(params.riders)
    ]
