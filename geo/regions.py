"""Regions of a service area: `k` contiguous parts of equal weight, each a set of grid cells.

A city too big for one optimizer batch is split into regions, each batched on its
own (one optimizer loop per region). `partition` groups the cells of a grid (H3
cells of WGS84 points, or squares of planar metres) by recursive coordinate
bisection of their centres: the set is cut across its longer side at the weighted
median, the weight (for example the day's orders at each merchant) shared between
the two halves in proportion to the regions each gets, and each half is cut again.
The result is `k` boxes whose cells hold nearly equal weight; a point belongs to
the region whose box holds the centre of its cell, so a region is a union of whole
cells (as the service's riders are indexed) and every point of the plane has
exactly one region. No randomness: the same points, weights and `k` give the same
regions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from geo.cells import cell_centre, cell_of

Box = tuple[float, float, float, float]  # lat from, lat to, lng from, lng to (half-open)
_EVERYWHERE: Box = (-math.inf, math.inf, -math.inf, math.inf)


class Grid(Protocol):
    """Cells that points are snapped to: a point's region is its cell centre's."""

    def centre(self, lat: float, lng: float) -> tuple[float, float]:
        """The centre of the cell holding the point."""
        ...

    def lng_scale(self, lat: float) -> float:
        """Length of a unit of longitude against one of latitude, around `lat`."""
        ...


@dataclass(frozen=True)
class H3Grid:
    """H3 cells of WGS84 points at one resolution (7: about 5 km² a cell)."""

    resolution: int = 7

    def centre(self, lat: float, lng: float) -> tuple[float, float]:
        """The centre of the H3 cell holding the point."""
        return cell_centre(cell_of(lat, lng, self.resolution))

    def lng_scale(self, lat: float) -> float:
        """A degree of longitude is cos(latitude) degrees of latitude long."""
        return math.cos(math.radians(lat))


@dataclass(frozen=True)
class SquareGrid:
    """Squares of planar coordinates (metres), `size` on a side."""

    size: float = 1000.0

    def __post_init__(self) -> None:
        if not self.size > 0:
            raise ValueError("a square grid's size must be > 0")

    def centre(self, lat: float, lng: float) -> tuple[float, float]:
        """The centre of the square holding the point."""
        return ((math.floor(lat / self.size) + 0.5) * self.size,
                (math.floor(lng / self.size) + 0.5) * self.size)

    def lng_scale(self, lat: float) -> float:
        """Planar: both axes are metres."""
        return 1.0


@dataclass(frozen=True)
class Regions:
    """`k` regions as boxes over cell centres; `region_of` gives a point's region (0..k-1)."""

    grid: Grid
    boxes: tuple[Box, ...]

    @property
    def k(self) -> int:
        """How many regions."""
        return len(self.boxes)

    def region_of(self, lat: float, lng: float) -> int:
        """The region of the cell holding the point."""
        clat, clng = self.grid.centre(lat, lng)
        for region, (lat0, lat1, lng0, lng1) in enumerate(self.boxes):
            if lat0 <= clat < lat1 and lng0 <= clng < lng1:
                return region
        raise AssertionError("the boxes of a partition cover the plane")  # pragma: no cover


def partition(
    lats: NDArray[np.float64], lngs: NDArray[np.float64], weights: NDArray[np.float64],
    k: int, grid: Grid,
) -> Regions:
    """`k` regions over `grid` holding nearly equal shares of the weighted points.

    Parameters
    ----------
    lats, lngs, weights
        Points (for example merchants) and their weights (for example orders).
    k
        Number of regions (>= 1). Regions may be empty when there are fewer
        occupied cells than regions.
    grid
        The cells the points are grouped by (`H3Grid` for WGS84, `SquareGrid` for metres).
    """
    if k < 1:
        raise ValueError("a partition needs k >= 1 regions")
    if not len(lats) == len(lngs) == len(weights):
        raise ValueError("lats, lngs and weights must have one entry per point")
    cells: dict[tuple[float, float], float] = {}
    for lat, lng, w in zip(lats.tolist(), lngs.tolist(), weights.tolist(), strict=True):
        key = grid.centre(lat, lng)
        cells[key] = cells.get(key, 0.0) + w
    keys = sorted(cells)  # deterministic whatever the points' order
    clat = np.array([c[0] for c in keys], dtype=np.float64)
    clng = np.array([c[1] for c in keys], dtype=np.float64)
    weight = np.array([cells[c] for c in keys], dtype=np.float64)
    scale = grid.lng_scale(float(clat.mean())) if keys else 1.0
    boxes: list[Box] = []
    _bisect(np.arange(len(keys)), clat, clng, weight, scale, k, _EVERYWHERE, boxes)
    return Regions(grid, tuple(boxes))


def _bisect(
    idx: NDArray[np.int64], lat: NDArray[np.float64], lng: NDArray[np.float64],
    weight: NDArray[np.float64], scale: float, k: int, box: Box, out: list[Box],
) -> None:
    """Append `k` boxes splitting `box` (holding cells `idx`) by weight."""
    if k == 1:
        out.append(box)
        return
    low_k = k // 2
    lat_spread = float(np.ptp(lat[idx])) if len(idx) else 0.0
    lng_spread = float(np.ptp(lng[idx])) * scale if len(idx) else 0.0
    axis = lat if lat_spread >= lng_spread else lng
    lat0, lat1, lng0, lng1 = box
    cut = _weighted_cut(idx, axis, weight, low_k / k)
    if cut is None:  # nothing to split: the low regions get all of it, the high ones none
        cut = lat1 if axis is lat else lng1
    if axis is lat:
        low_box, high_box = (lat0, cut, lng0, lng1), (cut, lat1, lng0, lng1)
    else:
        low_box, high_box = (lat0, lat1, lng0, cut), (lat0, lat1, cut, lng1)
    below = axis[idx] < cut
    _bisect(idx[below], lat, lng, weight, scale, low_k, low_box, out)
    _bisect(idx[~below], lat, lng, weight, scale, k - low_k, high_box, out)


def _weighted_cut(
    idx: NDArray[np.int64], axis: NDArray[np.float64], weight: NDArray[np.float64],
    share: float,
) -> float | None:
    """A coordinate between two cell centres leaving about `share` of the weight below it.

    None when the cells do not differ along the axis (or there are none).
    """
    values = np.unique(axis[idx])
    if len(values) < 2:
        return None
    per_value = np.bincount(np.searchsorted(values, axis[idx]), weights=weight[idx],
                            minlength=len(values))
    below = np.cumsum(per_value)[:-1]  # weight below each gap between distinct values
    total = float(per_value.sum())
    gap = int(np.argmin(np.abs(below - share * total))) if total > 0 else len(below) // 2
    return float(values[gap] + values[gap + 1]) / 2
