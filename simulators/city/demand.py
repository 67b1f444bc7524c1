"""Demand over the day: when orders are placed (lunch and dinner peaks), from which
merchant, to which customer, and what they cost."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from geo.distance import haversine_many_m
from simulators.city.model import Merchant, OrderRequest, Place
from simulators.city.params import HOUR, CityParams

# (centre, spread, weight) of the intensity's bumps, in hours after midnight, over a base of 1.
PEAKS = ((12.75, 0.75, 4.0), (19.5, 1.0, 5.5))
BASE = 1.0
# Customers order from merchants nearby: a merchant's weight decays with this many metres.
REACH_M = 3000.0
DECLINED_SUFFIX = 402  # the sandbox payment provider declines amounts ending in 402


def intensity(t_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Relative order intensity at times of day (seconds after midnight; wraps at 24 h)."""
    hours = (np.asarray(t_s, dtype=np.float64) / HOUR) % 24.0
    out = np.full_like(hours, BASE)
    for centre, spread, weight in PEAKS:
        out += weight * np.exp(-0.5 * ((hours - centre) / spread) ** 2)
    return out


def peak_intensity() -> float:
    """An upper bound of `intensity` over the day (for thinning)."""
    return BASE + sum(weight for _, _, weight in PEAKS)


def placement_times(params: CityParams, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Order times in the window: a Poisson process of rate proportional to `intensity`,
    scaled so that the expected count is `params.orders` (by thinning)."""
    grid = np.linspace(params.start_s, params.end_s, 512)
    mean_intensity = float(np.mean(intensity(grid)))
    if params.orders == 0 or mean_intensity == 0:
        return np.empty(0)
    rate_per_s = params.orders / params.duration_s / mean_intensity  # orders per unit intensity
    bound = peak_intensity() * rate_per_s
    count = rng.poisson(bound * params.duration_s)
    times = np.sort(rng.uniform(params.start_s, params.end_s, size=count))
    keep = rng.uniform(0.0, bound, size=count) < intensity(times) * rate_per_s
    out: npt.NDArray[np.float64] = times[keep]
    return out


def _merchant_for(rng: np.random.Generator, customer: Place, lats: npt.NDArray[np.float64],
                  lngs: npt.NDArray[np.float64], popularity: npt.NDArray[np.float64]) -> int:
    weights = popularity * np.exp(-haversine_many_m(customer.lat, customer.lng, lats, lngs)
                                  / REACH_M)
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def _amount(rng: np.random.Generator, declined: bool) -> int:
    amount = int(rng.integers(800, 6000))
    if declined:
        return amount // 1000 * 1000 + DECLINED_SUFFIX
    return amount + 1 if amount % 1000 == DECLINED_SUFFIX else amount


def orders(params: CityParams, rng: np.random.Generator, merchants: list[Merchant],
           customers: list[Place], population: npt.NDArray[np.float64]) -> list[OrderRequest]:
    """The day's orders: who orders (by population), from where, ready and promised when."""
    times = placement_times(params, rng)
    lats = np.array([m.lat for m in merchants])
    lngs = np.array([m.lng for m in merchants])
    popularity = np.array([m.popularity for m in merchants])
    who = rng.choice(len(customers), size=len(times), p=population / population.sum())
    out = []
    for index, (placed, customer) in enumerate(zip(times, who, strict=True)):
        home = customers[int(customer)]
        merchant = merchants[_merchant_for(rng, home, lats, lngs, popularity)]
        prep = float(np.clip(rng.gamma(4.0, merchant.prep_mean_s / 4.0),
                             params.prep_min_s, params.prep_max_s))
        declined = bool(rng.uniform() < params.decline_share)
        out.append(OrderRequest(
            index=index, placed_s=float(placed), merchant=merchant.index, customer=int(customer),
            dropoff_lat=home.lat, dropoff_lng=home.lng, ready_s=float(placed) + prep,
            promised_s=float(placed) + params.promise_s,
            amount_minor=_amount(rng, declined), items=int(rng.integers(1, 6))))
    return out

