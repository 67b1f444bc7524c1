"""Assignment: one optimizer batch at city scale, beside the greedy nearest-rider rule.

A synthetic city at its dinner peak (riders spread at ~90 per km², restaurants
clustered in a few hotspots with lognormal popularity, pending orders placed in the
last four minutes plus a few that have waited long enough to widen their search,
a quarter of the riders already carrying an order) is solved with
`solve_batch` (default parameters, bundling on) and with `greedy_plan`, the
baseline, in the same run. Per size it reports:

- time per batch (median of the repeats; wall clock, and the CPU seconds of this
  process, which other work on the machine inflates less), split into the phases the core reports:
  candidate graph, build (arrays, priced edges, bundles) and solve (greedy, flow,
  exact model, plan), then the commit: the plan's offers written to a fresh
  PostgreSQL schema (migrated by the service's own migrations, the pool's orders
  pending, riders' accounts and carried orders in place) by the function the batch
  loop commits with (`dispatch.optimizer.service.commit.write_offers`: the fence,
  every order locked and moved, riders' capacity, offers and outbox events, in one
  transaction);
- plan cost and rider travel per order against greedy;
- the gap to the exact optimum of the one-order-per-rider relaxation (bundling off,
  scipy's sparse min-weight full bipartite matching on the same candidate graph);
- the gain from bundling (cost with bundling against without).

A "peak" instance (as many riders as orders, in the 5,000-order city) measures
rider travel per order against greedy when riders are scarce.

Run: python -m benchmarks.assignment [--quick] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import secrets
import statistics
import sys
import time
from typing import Any

import asyncpg
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from benchmarks._support import emit, pin_to_core
from dispatch.config import Settings
from dispatch.db.base import table
from dispatch.db.engine import create_engine, postgres_problem, session_factory
from dispatch.db.migrate import migrate
from dispatch.optimizer.core import (
    BatchParams,
    CarriedStop,
    OrderSpec,
    Plan,
    RiderSpec,
    candidate_graph,
    greedy_plan,
    solve_batch,
)
from dispatch.optimizer.service import fences
from dispatch.optimizer.service.commit import plan_offers, write_offers
from dispatch.orders.models import OrderRow
from dispatch.users.models import UserRow

CENTRE = (4.65, -74.10)  # Bogotá
NOW = 1_800_000_000.0
M_PER_DEG = 111_320.0
RIDERS_PER_KM2 = 90.0
SIZES = ((1_000, 5_000), (5_000, 20_000), (20_000, 80_000))
PEAK = (5_000, 5_000, 20_000)  # orders, riders, and the rider count that sizes the city
# Every step of the ladder runs: the benchmark measures the whole batch, not a cut one.
PARAMS = BatchParams(time_limit_s=60.0)
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
REGION = "city"
CAPACITY = 3  # the service's default DISPATCH_RIDER_CAPACITY, and RiderSpec's
OFFER_TIMEOUT_S = 30


def city(n_orders: int, n_riders: int, seed: int, city_riders: int | None = None) -> tuple[
    list[OrderSpec], list[RiderSpec]
]:
    """A peak-hour batch: clustered merchants, recent orders, riders (some carrying one)."""
    rng = np.random.default_rng(seed)
    half_m = 500.0 * math.sqrt((city_riders or n_riders) / RIDERS_PER_KM2)
    lat_deg, lng_deg = 1 / M_PER_DEG, 1 / (M_PER_DEG * math.cos(math.radians(CENTRE[0])))

    def clip(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
        return np.clip(y, -half_m, half_m), np.clip(x, -half_m, half_m)

    n_shops = max(n_orders // 2, 1)
    hubs = rng.uniform(-half_m, half_m, (max(3, int(half_m // 1000)), 2))
    at_hub = rng.random(n_shops) < 0.6
    shops = np.where(at_hub[:, None], hubs[rng.integers(len(hubs), size=n_shops)]
                     + rng.normal(0, 600, (n_shops, 2)), rng.uniform(-half_m, half_m, (n_shops, 2)))
    popularity = rng.lognormal(0.0, 0.6, n_shops)  # the busiest kitchens have ~10x the median
    shop = rng.choice(n_shops, size=n_orders, p=popularity / popularity.sum())
    py, px = clip(shops[shop, 0], shops[shop, 1])
    dy, dx = clip(py + rng.normal(0, 1500, n_orders), px + rng.normal(0, 1500, n_orders))
    waited = rng.random(n_orders) < 0.05
    placed = NOW - np.where(waited, rng.uniform(600, 1500, n_orders), rng.uniform(0, 240, n_orders))
    ready = placed + rng.uniform(300, 1200, n_orders)
    promised = placed + rng.uniform(2100, 2700, n_orders)
    orders = [
        OrderSpec(f"o{i}", CENTRE[0] + py[i] * lat_deg, CENTRE[1] + px[i] * lng_deg,
                  CENTRE[0] + dy[i] * lat_deg, CENTRE[1] + dx[i] * lng_deg,
                  placed_s=placed[i], ready_s=ready[i], promised_s=promised[i],
                  merchant_id=f"m{shop[i]}")
        for i in range(n_orders)
    ]
    ry, rx = rng.uniform(-half_m, half_m, (2, n_riders))
    cy, cx = clip(ry + rng.normal(0, 1500, n_riders), rx + rng.normal(0, 1500, n_riders))
    carrying = rng.random(n_riders) < 0.25
    riders = [
        RiderSpec(f"r{j}", CENTRE[0] + ry[j] * lat_deg, CENTRE[1] + rx[j] * lng_deg,
                  available_s=NOW, load=int(carrying[j]),
                  carried=(CarriedStop("dropoff", f"c{j}", CENTRE[0] + cy[j] * lat_deg,
                                       CENTRE[1] + cx[j] * lng_deg, promised_s=NOW + 900),)
                  if carrying[j] else ())
        for j in range(n_riders)
    ]
    return orders, riders


def exact_relaxation(orders: list[OrderSpec], riders: list[RiderSpec]) -> tuple[float, float]:
    """Optimum of one order per rider on the same candidate graph, and the seconds it took."""
    started = time.perf_counter()
    graph = candidate_graph(orders, riders, PARAMS, now_s=NOW)
    n, r = len(orders), len(riders)
    # One private "leave it for the next batch" column per order keeps a full matching possible;
    # +1 keeps every weight positive (explicit zeros vanish from sparse matrices).
    rows = np.concatenate([graph.order, np.arange(n)])
    cols = np.concatenate([graph.rider, r + np.arange(n)])
    weights = np.concatenate([graph.cost, graph.penalty]) + 1.0
    matrix = csr_matrix((weights, (rows, cols)), shape=(n, r + n))
    left, right = min_weight_full_bipartite_matching(matrix)
    cost = float(np.asarray(matrix[left, right]).sum()) - n
    return cost, time.perf_counter() - started


def travel_per_order(plan: Plan) -> float:
    """Metres ridden for the batch's new work per assigned order."""
    assigned = int(plan.stats["assigned"])
    return float(plan.stats["travel_m"]) / assigned if assigned else float("nan")


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """A call's result, its wall-clock seconds and this process's CPU seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started, time.process_time() - cpu


def _at(epoch_s: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC)


def _order_row(order_id: str, state: str, rider_id: str | None, pickup: tuple[float, float],
               dropoff: tuple[float, float], times: tuple[float, float, float],
               merchant_id: str) -> dict[str, Any]:
    placed, ready, promised = (_at(t) for t in times)
    return {"id": order_id, "customer_id": "usr_bench_customer", "merchant_id": merchant_id,
            "region": REGION, "state": state, "pickup_lat": pickup[0], "pickup_lng": pickup[1],
            "dropoff_lat": dropoff[0], "dropoff_lng": dropoff[1],
            "items": [{"name": "dinner", "quantity": 1}], "amount_minor": 2500,
            "currency": "COP", "ready_at": ready, "promised_at": promised,
            "rider_id": rider_id, "created_at": placed, "updated_at": placed}


def seed_rows(orders: list[OrderSpec], riders: list[RiderSpec]
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Riders' accounts; the pool's orders (pending) and the ones riders carry (picked up)."""
    users = [{"id": r.rider_id, "email": f"{r.rider_id}@bench.invalid", "password_hash": "-",
              "role": "rider", "region": REGION, "active": True, "created_at": _at(NOW - 86_400)}
             for r in riders]
    rows = [_order_row(o.order_id, "pending_dispatch", None, (o.pickup_lat, o.pickup_lng),
                       (o.dropoff_lat, o.dropoff_lng), (o.placed_s, o.ready_s, o.promised_s),
                       o.merchant_id or "m")
            for o in orders]
    rows.extend(_order_row(stop.order_id, "picked_up", r.rider_id, (stop.lat, stop.lng),
                           (stop.lat, stop.lng), (NOW - 1_500, NOW - 900, stop.promised_s), "m")
                for r in riders for stop in r.carried)
    return users, rows


# Between two timed commits: the pool back as it was, offers and events gone, statistics fresh.
RESET = ("DELETE FROM offers", "DELETE FROM outbox",
         "UPDATE orders SET state = 'pending_dispatch' WHERE state = 'offered'")


async def _reset(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url, server_settings={"search_path": schema})
    try:
        async with conn.transaction():
            for statement in RESET:
                await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE orders, offers, outbox, users")
    finally:
        await conn.close()


async def commit_phase(url: str, orders: list[OrderSpec], riders: list[RiderSpec], plan: Plan,
                       repeats: int) -> dict[str, Any]:
    """Median seconds to commit the plan on a fresh PostgreSQL schema, as the batch loop does."""
    schema = f"bench_{secrets.token_hex(4)}"
    engine = create_engine(Settings(database_url=url, database_schema=schema))
    try:
        await migrate(engine, schema=schema)
        db = session_factory(engine)
        users, rows = seed_rows(orders, riders)
        async with db.begin() as session:
            await session.execute(table(UserRow).insert(), users)
            await session.execute(table(OrderRow).insert(), rows)
        token = await fences.stored_token(db=db, region=REGION) + 1
        assert await fences.register_token(db=db, region=REGION, token=token)
        walls, cpus, written = [], [], 0
        for _ in range(repeats):
            await _reset(url, schema)
            started, cpu = time.perf_counter(), time.process_time()
            offers = plan_offers(plan, OFFER_TIMEOUT_S)
            written = len(await write_offers(db=db, region=REGION, token=token, offers=offers,
                                             rider_capacity=CAPACITY))
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            if written != len(offers):
                raise RuntimeError(f"committed {written} of {len(offers)} offers")
    finally:
        await engine.dispose()
        conn = await asyncpg.connect(url)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
    return {"commit_s_median": statistics.median(walls),
            "commit_cpu_s_median": statistics.median(cpus), "commit_offers": written}


NO_COMMIT = {"commit_s_median": None, "commit_cpu_s_median": None, "commit_offers": None}


def measure(n_orders: int, n_riders: int, repeats: int, database_url: str | None
            ) -> dict[str, Any]:
    """All the figures of one size."""
    orders, riders = city(n_orders, n_riders, seed=n_orders)
    solve_batch(orders, riders, PARAMS, now_s=NOW)  # warm-up: imports, caches, allocator
    # Only the latest plan is kept, as in the service: older ones would swell the heap that
    # the garbage collector walks, and slow what follows for no reason the service has.
    timings, walls, cpus, greedy_walls = [], [], [], []
    for _ in range(repeats):
        plan, wall, cpu = timed(solve_batch, orders, riders, PARAMS, now_s=NOW)
        greedy, greedy_wall, _ = timed(greedy_plan, orders, riders, PARAMS, now_s=NOW)
        timings.append(plan.timings)
        walls.append(wall)
        cpus.append(cpu)
        greedy_walls.append(greedy_wall)
    singles = solve_batch(orders, riders, BatchParams(time_limit_s=60.0, bundling=False),
                          now_s=NOW)
    exact, exact_s = exact_relaxation(orders, riders)
    committed = NO_COMMIT if database_url is None else asyncio.run(
        commit_phase(database_url, orders, riders, plan, repeats))
    commit_s = committed["commit_s_median"]

    def median(key: str) -> float:
        return float(statistics.median(t[key] for t in timings))

    return {
        "orders": n_orders, "riders": n_riders, "repeats": repeats,
        "batch_s_median": statistics.median(walls),
        "batch_cpu_s_median": statistics.median(cpus),
        "load_avg_1m": os.getloadavg()[0],
        "candidates_s_median": median("candidates_s"), "build_s_median": median("build_s"),
        "solve_s_median": median("solve_s"), **committed,
        "total_s_median": None if commit_s is None else statistics.median(walls) + commit_s,
        "greedy_s_median": statistics.median(greedy_walls),
        "time_vs_greedy": statistics.median(walls) / statistics.median(greedy_walls),
        "candidates": plan.stats["candidates"], "edges": plan.stats["edges"],
        "bundles": plan.stats["bundles"], "method": plan.stats["method"],
        "cost": plan.cost, "greedy_cost": greedy.cost,
        "cost_vs_greedy_pct": 100 * (plan.cost / greedy.cost - 1),
        "assigned_pct": 100 * int(plan.stats["assigned"]) / n_orders,
        "greedy_assigned_pct": 100 * int(greedy.stats["assigned"]) / n_orders,
        "bundled_orders_pct": 100 * int(plan.stats["bundled_orders"]) / n_orders,
        "travel_m_per_order": travel_per_order(plan),
        "greedy_travel_m_per_order": travel_per_order(greedy),
        "travel_vs_greedy_pct": 100 * (1 - travel_per_order(plan) / travel_per_order(greedy)),
        "unbundled_cost": singles.cost, "exact_cost": exact, "exact_s": exact_s,
        "gap_to_exact_pct": 100 * (singles.cost / exact - 1),
        "bundling_gain_pct": 100 * (1 - plan.cost / singles.cost),
    }


def peak() -> dict[str, Any]:
    """Rider travel per order against greedy when there are as many riders as orders."""
    n_orders, n_riders, city_riders = PEAK
    orders, riders = city(n_orders, n_riders, seed=7, city_riders=city_riders)
    plan = solve_batch(orders, riders, PARAMS, now_s=NOW)
    greedy = greedy_plan(orders, riders, PARAMS, now_s=NOW)
    return {
        "orders": n_orders, "riders": n_riders,
        "travel_m_per_order": travel_per_order(plan),
        "greedy_travel_m_per_order": travel_per_order(greedy),
        "travel_vs_greedy_pct": 100 * (1 - travel_per_order(plan) / travel_per_order(greedy)),
        "assigned_pct": 100 * int(plan.stats["assigned"]) / n_orders,
        "greedy_assigned_pct": 100 * int(greedy.stats["assigned"]) / n_orders,
        "cost_vs_greedy_pct": 100 * (plan.cost / greedy.cost - 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the two smaller sizes, fewer repeats")
    parser.add_argument("--database-url", default=os.environ.get(
        "DISPATCH_TEST_DATABASE_URL", DEFAULT_PG), help="PostgreSQL to time the commit on")
    args = parser.parse_args()
    database_url: str | None = args.database_url
    if (problem := asyncio.run(postgres_problem(args.database_url))) is not None:
        print(f"!!! COMMIT NOT MEASURED: no PostgreSQL at {args.database_url}: {problem}",
              file=sys.stderr, flush=True)
        database_url = None
    pin_to_core(0)
    sizes = SIZES[:2] if args.quick else SIZES
    by_size = {}
    for n_orders, n_riders in sizes:
        repeats = (3 if n_orders <= 1_000 else 2) if args.quick else (7 if n_orders <= 5_000 else 5)
        figures = measure(n_orders, n_riders, repeats, database_url)
        by_size[f"{n_orders}x{n_riders}"] = figures
        print(f"--- {n_orders:,} orders x {n_riders:,} riders ({repeats} repeats, medians)")
        for key, value in figures.items():
            print(f"{key:>28}: {value:.4g}" if isinstance(value, float) else f"{key:>28}: {value}")
    if database_url is None:
        print("!!! commit_s_median is null: PostgreSQL was unreachable", file=sys.stderr)
    at_peak = peak()
    print(f"--- peak: {at_peak['orders']:,} orders x {at_peak['riders']:,} riders")
    for key, value in at_peak.items():
        print(f"{key:>28}: {value:.4g}" if isinstance(value, float) else f"{key:>28}: {value}")
    emit({**figures, "travel_vs_greedy_peak_pct": at_peak["travel_vs_greedy_pct"],
          "peak": at_peak, "by_size": by_size, "quick": args.quick,
          "commit_database": None if database_url is None else "postgresql"})


if __name__ == "__main__":
    main()
