"""geo.cells: the disks that nearby search scans really cover the radii they promise."""

from __future__ import annotations

import math

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cells import (
    cell_of,
    covered_radius_m,
    offset_from_centre_m,
    parent_of,
    rings_for_radius,
)
from geo.distance import EARTH_RADIUS_M

lats = st.floats(min_value=-70, max_value=70, allow_nan=False)
lngs = st.floats(min_value=-179, max_value=179, allow_nan=False)


def destination(
    lat: float, lng: float, bearing_rad: float, distance_m: float
) -> tuple[float, float]:
    """The point `distance_m` from (lat, lng) along `bearing_rad` on the sphere."""
    p1, l1, d = math.radians(lat), math.radians(lng), distance_m / EARTH_RADIUS_M
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing_rad))
    l2 = l1 + math.atan2(math.sin(bearing_rad) * math.sin(d) * math.cos(p1),
                         math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


@settings(max_examples=300, deadline=None)
@given(lat=lats, lng=lngs, k=st.integers(0, 6), resolution=st.sampled_from([8, 9, 10]),
       bearing=st.floats(0, 2 * math.pi), fraction=st.floats(0, 1), use_offset=st.booleans())
def test_points_within_covered_radius_lie_in_the_disk(
    lat: float, lng: float, k: int, resolution: int, bearing: float, fraction: float,
    use_offset: bool,
) -> None:
    origin = cell_of(lat, lng, resolution)
    offset = offset_from_centre_m(origin, lat, lng) if use_offset else None
    radius = covered_radius_m(origin, k, offset)
    other = cell_of(*destination(lat, lng, bearing, radius * fraction), resolution)
    assert h3.grid_distance(origin, other) <= k


@settings(max_examples=200, deadline=None)
@given(lat=lats, lng=lngs, radius_m=st.floats(1, 5000))
def test_rings_for_radius_covers_the_radius(lat: float, lng: float, radius_m: float) -> None:
    origin = cell_of(lat, lng, 9)
    assert covered_radius_m(origin, rings_for_radius(origin, radius_m)) >= radius_m


def test_the_offset_bound_is_never_looser_than_the_any_point_bound() -> None:
    origin = cell_of(4.65, -74.1, 9)
    offset = offset_from_centre_m(origin, 4.65, -74.1)
    assert covered_radius_m(origin, 2, offset) >= covered_radius_m(origin, 2)


def test_parent_of_climbs_resolutions_and_stops_at_zero() -> None:
    cell = cell_of(4.65, -74.1, 9)
    assert h3.get_resolution(parent_of(cell, 3)) == 6
    assert h3.get_resolution(parent_of(cell, 20)) == 0
    assert h3.cell_to_parent(cell, 6) == parent_of(cell, 3)
