"""Random batch instances for the optimizer's tests: a small city with merchants and riders."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dispatch.optimizer.core import CarriedStop, OrderSpec, RiderSpec

CENTRE = (4.65, -74.08)
NOW = 1_000_000.0
DEG_PER_M = 1 / 111_000


def _point(rng: np.random.Generator, spread_m: float) -> tuple[float, float]:
    dy, dx = rng.normal(0.0, spread_m, 2) * DEG_PER_M
    return CENTRE[0] + float(dy), CENTRE[1] + float(dx)


def random_orders(rng: np.random.Generator, n: int, *, merchants: int = 6) -> list[OrderSpec]:
    """`n` orders from a few merchants, placed in the last 20 minutes, promised within 45."""
    shops = [_point(rng, 2500) for _ in range(merchants)]
    orders = []
    for i in range(n):
        m = int(rng.integers(merchants))
        drop = _point(rng, 3000)
        placed = NOW - float(rng.uniform(0, 1200))
        orders.append(OrderSpec(
            order_id=f"o{i}",
            pickup_lat=shops[m][0], pickup_lng=shops[m][1],
            dropoff_lat=drop[0], dropoff_lng=drop[1],
            placed_s=placed,
            ready_s=placed + float(rng.uniform(300, 1200)),
            promised_s=placed + 2700.0,
            merchant_id=f"m{m}",
        ))
    return orders


def random_riders(
    rng: np.random.Generator, n: int, orders: list[OrderSpec], *, carry: float = 0.3,
    exclude: float = 0.2,
) -> tuple[list[RiderSpec], list[OrderSpec]]:
    """`n` riders (some carrying an order, others near the end of their shift) and the
    orders, a few riders excluded from some of them."""
    riders = []
    for j in range(n):
        lat, lng = _point(rng, 3000)
        carried: tuple[CarriedStop, ...] = ()
        if rng.random() < carry:
            d_lat, d_lng = _point(rng, 3000)
            carried = (CarriedStop("dropoff", f"c{j}", d_lat, d_lng, promised_s=NOW + 900),)
        riders.append(RiderSpec(
            rider_id=f"r{j}", lat=lat, lng=lng, available_s=NOW - 60,
            capacity=int(rng.integers(1, 4)) + len(carried), load=len(carried),
            vehicle=["motorcycle", "bicycle"][int(rng.integers(2))],
            shift_end_s=(
                NOW + float(rng.uniform(0, 3600)) if not carried and rng.random() < 0.3 else None
            ),
            carried=carried,
        ))
    excluded = []
    for order in orders:
        if riders and rng.random() < exclude:
            banned = frozenset(f"r{k}" for k in rng.integers(0, n, 3))
            excluded.append(replace(order, excluded_riders=banned))
        else:
            excluded.append(order)
    return riders, excluded


def random_instance(
    seed: int, n_orders: int, n_riders: int
) -> tuple[list[OrderSpec], list[RiderSpec]]:
    """Orders and riders of one random batch, reproducible from `seed`."""
    rng = np.random.default_rng(seed)
    orders = random_orders(rng, n_orders)
    riders, orders = random_riders(rng, n_riders, orders)
    return orders, riders
