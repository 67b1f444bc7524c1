"""The city's shape: a service-area polygon, commercial centres and where people live.

Distances are drawn in kilometres on a local plane around the centre and turned into
degrees (one degree of latitude is 111.32 km; of longitude, that times cos(latitude)),
which is accurate to well under 1% across a city.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon

from simulators.city.model import Place
from simulators.city.params import CityParams

KM_PER_DEG_LAT = 111.32
VERTICES = 64
Points = npt.NDArray[np.float64]  # (n, 2) of (lat, lng)


def km_to_deg(params: CityParams, north_km: Points, east_km: Points) -> Points:
    """Local kilometre offsets from the centre as (lat, lng) degrees."""
    lat = params.centre_lat + north_km / KM_PER_DEG_LAT
    lng = params.centre_lng + east_km / (KM_PER_DEG_LAT * math.cos(math.radians(
        params.centre_lat)))
    return np.column_stack([lat, lng])


def service_area(params: CityParams, rng: np.random.Generator) -> Polygon:
    """A star-shaped blob around the centre: the radius wobbles by up to about 25%."""
    angles = np.linspace(0.0, 2 * math.pi, VERTICES, endpoint=False)
    radius = np.ones(VERTICES)
    for harmonic in (2, 3, 5):
        radius += rng.uniform(0.03, 0.09) * np.sin(harmonic * angles + rng.uniform(0, 2 * math.pi))
    radius *= params.radius_km
    points = km_to_deg(params, radius * np.sin(angles), radius * np.cos(angles))
    return Polygon([(lng, lat) for lat, lng in points])


def gaussian_mixture(params: CityParams, rng: np.random.Generator, area: Polygon, n: int,
                     centres: list[Place], sigmas_km: Points, weights: Points) -> Points:
    """`n` points inside `area` from a mixture of round Gaussians (rejection sampling)."""
    found: list[Points] = [np.empty((0, 2))]
    total = 0
    probabilities = weights / weights.sum()
    centre_km = np.array([_to_km(params, c) for c in centres])
    while total < n:
        want = 2 * (n - total) + 16
        which = rng.choice(len(centres), size=want, p=probabilities)
        offsets = rng.normal(size=(want, 2)) * sigmas_km[which, None]
        north, east = (centre_km[which] + offsets).T
        points = km_to_deg(params, north, east)
        inside = points[shapely.contains_xy(area, points[:, 1], points[:, 0])]
        found.append(inside)
        total += len(inside)
    return np.concatenate(found)[:n]


def _to_km(params: CityParams, place: Place) -> tuple[float, float]:
    north = (place.lat - params.centre_lat) * KM_PER_DEG_LAT
    east = (place.lng - params.centre_lng) * KM_PER_DEG_LAT * math.cos(math.radians(
        params.centre_lat))
    return north, east


def commercial_centres(params: CityParams, rng: np.random.Generator, area: Polygon
                       ) -> list[Place]:
    """Downtown at the centre, the other commercial areas scattered around it."""
    centre = Place(params.centre_lat, params.centre_lng)
    others = gaussian_mixture(params, rng, area, params.commercial_areas - 1, [centre],
                              np.array([params.radius_km * 0.45]), np.ones(1))
    return [centre, *(Place(float(lat), float(lng)) for lat, lng in others)]


def neighbourhoods(params: CityParams, rng: np.random.Generator, area: Polygon, count: int = 12
                   ) -> tuple[list[Place], Points, Points]:
    """Residential blobs (centres, spreads in km, relative populations) for customers."""
    spread = gaussian_mixture(params, rng, area, count, [Place(params.centre_lat,
                              params.centre_lng)], np.array([params.radius_km * 0.5]),
                              np.ones(1))
    places = [Place(float(lat), float(lng)) for lat, lng in spread]
    sigmas = rng.uniform(0.08, 0.22, size=count) * params.radius_km
    population = rng.lognormal(mean=0.0, sigma=0.5, size=count)
    return places, sigmas, population
