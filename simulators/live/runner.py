"""`run_live`: play a synthetic city against a running service and report.

Set-up (accounts through the HTTP API), riders connecting at a steady rate, orders
placed on the simulated clock, then a drain: riders finish what they carry, orders
nobody took are cancelled, and the simulator's records are checked against the service's.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from simulators.city import Scenario
from simulators.live import api as service_api
from simulators.live import reconcile, scrape
from simulators.live.clock import Pacer, SimClock
from simulators.live.fleet import Fleet
from simulators.live.journal import Journal, StreamStats
from simulators.live.orders import OrderGenerator
from simulators.live.params import LiveParams
from simulators.live.report import RunRecord
from simulators.live.session import FleetEnv

log = logging.getLogger(__name__)
SAMPLE_WALL_S = 2.0


@dataclass(frozen=True)
class Target:
    """The service to drive: its base URL and (for the check at the end) an operator token."""

    url: str
    operator_token: str | None = None
    pid: int | None = None  # the service's process, when it runs on this machine

    @property
    def ws_url(self) -> str:
        """The rider stream's URL."""
        return self.url.replace("http", "ws", 1).rstrip("/") + "/v1/riders/stream"


@dataclass(frozen=True)
class Accounts:
    """Everyone the run logs in: one account per merchant and rider, a pool of customers."""

    merchants: list[service_api.Account]
    customers: list[service_api.Account]
    riders: list[service_api.Account]


async def sign_up(api: service_api.ServiceApi, scenario: Scenario, run_id: str,
                  customer_accounts: int) -> Accounts:
    """Register and log in every account the run needs."""
    def emails(kind: str, n: int) -> list[str]:
        return [f"{run_id}-{kind}{i}@sim.example" for i in range(n)]

    region = scenario.params.region
    merchants = await service_api.accounts(api, emails("m", len(scenario.merchants)), "merchant",
                                           None)
    customers = await service_api.accounts(api, emails("c", customer_accounts), "customer", None)
    riders = await service_api.accounts(api, emails("r", len(scenario.riders)), "rider", region)
    return Accounts(merchants=merchants, customers=customers, riders=riders)


def rider_hours(scenario: Scenario, start_s: float, end_s: float) -> float:
    """Simulated hours riders were on shift within `[start_s, end_s]`."""
    return sum(max(0.0, min(r.shift_end_s, end_s) - max(r.shift_start_s, start_s))
               for r in scenario.riders) / 3600.0


async def _sample(fleet: Fleet, generator: OrderGenerator, journal: Journal,
                  timeline: list[dict[str, float]], started: float) -> None:
    while True:
        timeline.append({
            "wall_s": time.time() - started, "sim_s": fleet.env.clock.now(),
            "connected": fleet.connected(), "carrying": fleet.carrying(),
            "placed": len(generator.placed),
            "delivered": sum(1 for ev in journal.events.values() if "deliver" in ev)})
        await asyncio.sleep(SAMPLE_WALL_S)


async def _drain(generator: OrderGenerator, journal: Journal, api: service_api.ServiceApi,
                 target: Target, drain_s: float) -> int:
    """Wait for open orders to finish; cancel those nobody picked up; wait for the rest."""
    await _settle(generator, journal, drain_s)
    cancelled = await reconcile.cancel_open(api, generator, journal, target.operator_token)
    await _settle(generator, journal, drain_s)
    return cancelled


async def _settle(generator: OrderGenerator, journal: Journal, wait_s: float) -> None:
    """Return once every order is closed, or after `wait_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        if not reconcile.open_orders(generator, journal):
            return
        await asyncio.sleep(1.0)


async def run_live(target: Target, scenario: Scenario, params: LiveParams,
                   customer_accounts: int = 50) -> RunRecord:
    """Play `scenario` against the service at `target`; the record of what happened."""
    api = service_api.ServiceApi(target.url, max_connections=params.order_concurrency * 2)
    try:
        return await _run(api, target, scenario, params, customer_accounts)
    finally:
        await api.close()


async def _run(api: service_api.ServiceApi, target: Target, scenario: Scenario,
               params: LiveParams, customer_accounts: int) -> RunRecord:
    run_id = f"sim{scenario.seed}-{secrets.token_hex(3)}"
    setup_started = time.time()
    accounts = await sign_up(api, scenario, run_id, customer_accounts)
    setup_s = time.time() - setup_started
    ramp_s = len(scenario.riders) / params.connect_per_s
    city = scenario.params
    clock = SimClock.starting_now(params.speed, city.start_s, lead_s=ramp_s + 2.0)
    stats, journal = StreamStats(), Journal()
    env = FleetEnv(ws_url=target.ws_url, clock=clock, api=api, params=params, stats=stats,
                   journal=journal, pacer=Pacer(params.connect_per_s), connect_lead_s=ramp_s)
    fleet = Fleet(env, list(zip(scenario.riders, accounts.riders, strict=True)), scenario.seed,
                  city.full_shifts)
    generator = OrderGenerator(api, clock, scenario, accounts.merchants, accounts.customers,
                               run_id, params.order_concurrency, params.stretch_promises)
    before = scrape.parse(await api.metrics_text())
    cpu_before = scrape.cpu_seconds(target.pid)
    started, timeline = time.time(), list[dict[str, float]]()
    fleet.start()
    sampler = asyncio.create_task(_sample(fleet, generator, journal, timeline, started))
    await clock.sleep_until(city.start_s)
    placing = time.time()
    await generator.run(until_s=city.end_s)
    placement_wall_s = time.time() - placing
    cancelled = await _drain(generator, journal, api, target, params.drain_s())
    crashed = fleet.crashed()
    await fleet.close()
    sampler.cancel()
    wall_s = time.time() - started
    after = scrape.parse(await api.metrics_text())
    cpu = {k: v - cpu_before.get(k, 0.0) for k, v in scrape.cpu_seconds(target.pid).items()}
    checked = await _reconcile(api, target, generator, journal, accounts, city.region)
    return RunRecord(
        speed=params.speed, riders=len(scenario.riders),
        rider_hours=rider_hours(scenario, city.start_s, clock.now()),
        placement_wall_s=placement_wall_s, wall_s=wall_s,
        placed=list(generator.placed.values()), journal=journal, stats=stats,
        metrics_before=before, metrics_after=after, reconciliation=checked, timeline=timeline,
        extra={"setup_s": setup_s, "cancelled_at_end": cancelled, "run_id": run_id,
               "seed": scenario.seed, "scenario_fingerprint": scenario.fingerprint(),
               "http": dict(api.counts), "cpu_s": cpu,
               "simulator_crashes": [repr(e) for e in crashed[:5]]})


async def _reconcile(api: service_api.ServiceApi, target: Target, generator: OrderGenerator,
                     journal: Journal, accounts: Accounts, region: str) -> dict[str, Any]:
    if target.operator_token is None:
        return {"skipped": "no operator token"}
    records = await reconcile.service_orders(api, target.operator_token, region)
    return reconcile.compare(generator, journal, records,
                             {account.user_id for account in accounts.customers})
