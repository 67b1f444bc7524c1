"""A day's regions, as an operator would configure the service, and a batch split by them.

The service runs one optimizer batch loop per region. With `ReplayConfig.regions`
= k > 1 the replay does the same: the service area is cut into k regions of about
equal demand (`geo.regions.partition` over H3 cells of resolution 8 on real days,
1 km squares on planar MDRP instances, weighted by the day's orders at each
merchant, as an operator would balance them from past days); an order belongs to
the region of its pickup, a courier to the region of the place it is seen free
at, and each region's orders and couriers are one batch, solved on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from dispatch.optimizer.core import OrderSpec, RiderSpec
from geo.regions import Grid, H3Grid, Regions, SquareGrid, partition
from simulators.instances import Instance

REAL_DAY_GRID = H3Grid(resolution=8)
PLANAR_GRID = SquareGrid(size=1000.0)

Batch = tuple[list[OrderSpec], list[RiderSpec]]


def day_regions(instance: Instance, k: int) -> Regions:
    """`k` regions of the day's service area, balanced by its orders' pickups."""
    grid: Grid = PLANAR_GRID if instance.planar else REAL_DAY_GRID
    lats = np.array([o.pickup_lat for o in instance.orders], dtype=np.float64)
    lngs = np.array([o.pickup_lng for o in instance.orders], dtype=np.float64)
    return partition(lats, lngs, np.ones(len(lats)), k, grid)


def order_regions(instance: Instance, regions: Regions) -> dict[str, int]:
    """Each order's region: its pickup's."""
    return {o.order_id: regions.region_of(o.pickup_lat, o.pickup_lng) for o in instance.orders}


def split_batch(
    orders: Sequence[OrderSpec], order_region: Mapping[str, int],
    riders: Sequence[RiderSpec], rider_region: NDArray[np.int64], k: int,
) -> list[Batch]:
    """Per region (0..k-1), its orders and its riders (`rider_region[i]` is rider i's)."""
    batches: list[Batch] = [([], []) for _ in range(k)]
    for spec in orders:
        batches[order_region[spec.order_id]][0].append(spec)
    for rider, region in zip(riders, rider_region.tolist(), strict=True):
        batches[region][1].append(rider)
    return batches
