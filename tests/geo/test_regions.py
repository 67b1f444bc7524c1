"""Regions by recursive bisection: every point in exactly one region, balanced, deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.regions import H3Grid, Regions, SquareGrid, partition


def _holding(regions: Regions, lat: float, lng: float) -> list[int]:
    """Every region whose box holds the point's cell centre (the answer must be one)."""
    clat, clng = regions.grid.centre(lat, lng)
    return [r for r, (a, b, c, d) in enumerate(regions.boxes) if a <= clat < b and c <= clng < d]


coordinate = st.floats(min_value=-20_000, max_value=20_000, allow_nan=False)
points = st.lists(st.tuples(coordinate, coordinate, st.integers(0, 5)), min_size=0, max_size=40)


@settings(max_examples=60, deadline=None)
@given(points=points, k=st.integers(1, 9), probes=st.lists(st.tuples(coordinate, coordinate),
                                                           min_size=1, max_size=20))
def test_every_point_of_the_plane_lies_in_exactly_one_region(
    points: list[tuple[float, float, int]], k: int, probes: list[tuple[float, float]]
) -> None:
    lats, lngs, weights = (np.array(v, dtype=np.float64) for v in zip(*points, strict=True)) \
        if points else (np.zeros(0), np.zeros(0), np.zeros(0))
    regions = partition(lats, lngs, weights, k, SquareGrid(1000.0))
    assert regions.k == k
    for lat, lng in [*probes, *((p[0], p[1]) for p in points)]:
        assert _holding(regions, lat, lng) == [regions.region_of(lat, lng)]


def test_the_partition_does_not_depend_on_the_order_of_the_points() -> None:
    rng = np.random.default_rng(5)
    lats, lngs = rng.uniform(6.15, 6.30, 500), rng.uniform(-75.65, -75.52, 500)
    weights = rng.integers(1, 10, 500).astype(np.float64)
    shuffle = rng.permutation(500)
    first = partition(lats, lngs, weights, 5, H3Grid(8))
    second = partition(lats[shuffle], lngs[shuffle], weights[shuffle], 5, H3Grid(8))
    assert first.boxes == second.boxes


def test_regions_share_the_weight_evenly_and_keep_clusters_whole() -> None:
    # Four clusters of 100 points 10 km apart, with equal weight: one region each.
    rng = np.random.default_rng(1)
    centres = [(0.0, 0.0), (0.0, 10_000.0), (10_000.0, 0.0), (10_000.0, 10_000.0)]
    lats = np.concatenate([rng.normal(c[0], 500, 100) for c in centres])
    lngs = np.concatenate([rng.normal(c[1], 500, 100) for c in centres])
    regions = partition(lats, lngs, np.ones(400), 4, SquareGrid(1000.0))
    owner = [regions.region_of(a, b) for a, b in zip(lats.tolist(), lngs.tolist(), strict=True)]
    assert sorted(len(set(owner[i * 100:(i + 1) * 100])) for i in range(4)) == [1, 1, 1, 1]
    assert sorted(owner.count(r) for r in range(4)) == [100, 100, 100, 100]


def test_weight_not_points_decides_the_balance() -> None:
    # Two cells: one heavy, one light. Two regions split them; three leave one empty.
    lats, lngs = np.array([500.0, 5500.0]), np.array([500.0, 500.0])
    two = partition(lats, lngs, np.array([9.0, 1.0]), 2, SquareGrid(1000.0))
    assert two.region_of(500, 500) != two.region_of(5500, 500)
    three = partition(lats, lngs, np.array([9.0, 1.0]), 3, SquareGrid(1000.0))
    assert len({three.region_of(500, 500), three.region_of(5500, 500)}) == 2


def test_one_region_is_the_whole_plane_and_zero_is_refused() -> None:
    regions = partition(np.array([6.2]), np.array([-75.6]), np.ones(1), 1, H3Grid(8))
    assert regions.region_of(-80.0, 170.0) == 0
    with pytest.raises(ValueError):
        partition(np.array([6.2]), np.array([-75.6]), np.ones(1), 0, H3Grid(8))
