"""`build_scenario`: one seeded, reproducible synthetic city and its day of orders.

Each part draws from its own child of the seed (`SeedSequence.spawn`), so changing how
many riders there are leaves the merchants and orders as they were, and the same
parameters with the same seed always give the identical scenario (`fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from shapely.geometry import Polygon, mapping

from simulators.city import demand, fleet, geography
from simulators.city.model import Merchant, OrderRequest, Place, RiderProfile
from simulators.city.params import CityParams

PARTS = ("area", "merchants", "customers", "riders", "orders")


@dataclass(frozen=True)
class Scenario:
    """A city (area, merchants, customers, riders) and the orders of its played window."""

    params: CityParams
    seed: int
    area: Polygon
    centres: tuple[Place, ...]
    merchants: tuple[Merchant, ...]
    customers: tuple[Place, ...]
    riders: tuple[RiderProfile, ...]
    orders: tuple[OrderRequest, ...]

    def as_dict(self) -> dict[str, Any]:
        """Everything as plain JSON-ready data (the area as GeoJSON)."""
        return {
            "params": asdict(self.params), "seed": self.seed, "area": mapping(self.area),
            "centres": [asdict(c) for c in self.centres],
            "merchants": [asdict(m) for m in self.merchants],
            "customers": [asdict(c) for c in self.customers],
            "riders": [asdict(r) for r in self.riders],
            "orders": [asdict(o) for o in self.orders],
        }

    def fingerprint(self) -> str:
        """SHA-256 of the scenario's canonical JSON: equal scenarios, equal fingerprints."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(text.encode()).hexdigest()

    def area_geojson(self) -> dict[str, Any]:
        """The service area as the FeatureCollection `DISPATCH_SERVICE_AREAS_PATH` takes."""
        return {"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"region": self.params.region},
            "geometry": mapping(self.area)}]}


def _merchants(params: CityParams, rng: np.random.Generator, area: Polygon,
               centres: list[Place]) -> list[Merchant]:
    """Merchants clustered around the commercial centres (downtown the densest)."""
    weights = np.array([2.5] + [1.0] * (len(centres) - 1))
    sigmas = np.full(len(centres), params.radius_km * 0.06)
    points = geography.gaussian_mixture(params, rng, area, params.merchants, centres, sigmas,
                                        weights)
    nearest = [int(np.argmin([(c.lat - lat) ** 2 + (c.lng - lng) ** 2 for c in centres]))
               for lat, lng in points]
    popularity = rng.lognormal(0.0, 0.8, size=params.merchants)
    prep = rng.uniform(params.prep_min_s, params.prep_max_s, size=params.merchants)
    return [Merchant(index=i, lat=float(points[i, 0]), lng=float(points[i, 1]), area=nearest[i],
                     popularity=float(popularity[i]), prep_mean_s=float(prep[i]))
            for i in range(params.merchants)]


def _customers(params: CityParams, rng: np.random.Generator, area: Polygon
               ) -> tuple[list[Place], npt.NDArray[np.float64]]:
    """Customers spread over residential neighbourhoods; each with an ordering propensity."""
    places, sigmas, population = geography.neighbourhoods(params, rng, area)
    points = geography.gaussian_mixture(params, rng, area, params.customers, places, sigmas,
                                        population)
    propensity = rng.lognormal(0.0, 0.6, size=params.customers)
    return [Place(float(lat), float(lng)) for lat, lng in points], propensity


def build_scenario(params: CityParams, seed: int) -> Scenario:
    """The scenario of `params` for `seed` (deterministic)."""
    streams = dict(zip(PARTS, (np.random.default_rng(s) for s in
                               np.random.SeedSequence(seed).spawn(len(PARTS))), strict=True))
    area = geography.service_area(params, streams["area"])
    centres = geography.commercial_centres(params, streams["area"], area)
    merchants = _merchants(params, streams["merchants"], area, centres)
    customers, propensity = _customers(params, streams["customers"], area)
    starts = geography.gaussian_mixture(
        params, streams["riders"], area, params.riders, centres,
        np.full(len(centres), params.radius_km * 0.15), np.ones(len(centres)))
    riders = fleet.riders(params, streams["riders"], starts)
    orders = demand.orders(params, streams["orders"], merchants, customers, propensity)
    return Scenario(params=params, seed=seed, area=area, centres=tuple(centres),
                    merchants=tuple(merchants), customers=tuple(customers),
                    riders=tuple(riders), orders=tuple(orders))
