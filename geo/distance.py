"""Great-circle distances on the WGS84 mean sphere, scalar and vectorised."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8

FloatArray = npt.NDArray[np.float64]


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Distance in metres between two points given in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def haversine_many_m(
    lat: float, lng: float, lats: npt.ArrayLike, lngs: npt.ArrayLike
) -> FloatArray:
    """Distances in metres from one point to many (arrays of degrees)."""
    p1 = math.radians(lat)
    p2 = np.radians(np.asarray(lats, dtype=np.float64))
    dl = np.radians(np.asarray(lngs, dtype=np.float64) - lng)
    a = np.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return out


def haversine_pairs_m(
    lats1: npt.ArrayLike, lngs1: npt.ArrayLike, lats2: npt.ArrayLike, lngs2: npt.ArrayLike
) -> FloatArray:
    """Element-wise distances in metres between two equally long arrays of points."""
    p1 = np.radians(np.asarray(lats1, dtype=np.float64))
    p2 = np.radians(np.asarray(lats2, dtype=np.float64))
    dl = np.radians(np.asarray(lngs2, dtype=np.float64) - np.asarray(lngs1, dtype=np.float64))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return out


def valid_lat_lng(lat: float, lng: float) -> bool:
    """True for finite coordinates inside [-90, 90] x [-180, 180]."""
    return -90.0 <= lat <= 90.0 and -180.0 <= lng <= 180.0
