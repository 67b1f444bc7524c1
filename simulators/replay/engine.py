"""The replay: a delivery day on a simulated clock, re-optimised every batch interval.

Orders enter the pending pool at their placement time, never before. Batches run
on the grid of `batch_interval_s` (the service's interval): the pending orders
and the couriers the dispatcher sees free soon go to the policy; proposals that
must start now are committed (see `simulators.replay.commit`) and played by the
MDRP rules (`trips`). A grid point where nothing changed is skipped: the clock
moves to the next one where an order is placed or released, a held proposal
falls due, or `refresh_s` has passed since the last batch (couriers coming into
view are picked up by that refresh; held proposals make sure no commitment that
is due waits for it).
The day ends when every order is delivered, or when no courier is left on shift;
orders still pending then are undelivered.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

from dispatch.optimizer.core import OrderSpec
from simulators.instances import Instance
from simulators.replay.arrival import ArrivalRule
from simulators.replay.commit import (
    delivery_floors_s,
    must_start_by,
    order_spec,
    should_commit,
    waiting_verdict,
)
from simulators.replay.fleet import Fleet
from simulators.replay.policies import Policy, PolicyTuning, Proposal, make_policy
from simulators.replay.ready import ReadyBoard
from simulators.replay.trips import Trip, Visit, play_trip


@dataclass(frozen=True)
class ReplayConfig:
    """How a day is replayed.

    Parameters
    ----------
    policy
        `greedy`, `flow` or `full` (see `simulators.replay.policies`).
    batch_interval_s
        Seconds between batches (the service's optimizer interval).
    estimate_ready
        Estimate ready times from each merchant's history instead of knowing them.
    rider_lookahead_s
        Couriers free (or starting their shift) within this many seconds join a batch.
    order_horizon_s
        Pending orders whose food is ready (as the dispatcher sees it) more than this
        many seconds ahead wait outside the batch: none could be committed yet.
    refresh_s
        While orders are pending, a batch runs at least this often even when nothing
        changed (ready times come into the horizon, estimates are revised).
    commit_ahead_s
        Commit a proposal when its courier must leave within this many seconds
        (default: one batch interval).
    seed
        Seed handed to the optimizer.
    arrival
        With estimated ready times, which quantile of the predicted ready time
        couriers are sent to meet, by fleet load (`simulators.replay.arrival`).
    release_idle_share
        With estimated ready times, while at most this share of the couriers on
        shift is idle, offer each courier waiting at a restaurant for food not ready
        yet to the batch again, with the orders it waits for: if the batch gives it
        other work, or its orders to another courier, it is taken off that trip
        (see `simulators.replay.commit`). `None`: never.
    """

    policy: str = "full"
    batch_interval_s: float = 2.0
    estimate_ready: bool = False
    rider_lookahead_s: float = 600.0
    order_horizon_s: float = 1200.0
    refresh_s: float = 60.0
    commit_ahead_s: float | None = None
    seed: int = 0
    tuning: PolicyTuning = field(default_factory=PolicyTuning)
    arrival: ArrivalRule = field(default_factory=ArrivalRule)
    release_idle_share: float | None = 0.1

    def __post_init__(self) -> None:
        if not math.isfinite(self.batch_interval_s) or self.batch_interval_s <= 0:
            raise ValueError("batch_interval_s must be finite and > 0")
        if self.rider_lookahead_s < 0:
            raise ValueError("rider_lookahead_s must be >= 0")
        share = self.release_idle_share
        if share is not None and not 0.0 <= share <= 1.0:
            raise ValueError("release_idle_share must lie in [0, 1] or be None")

    @property
    def ahead_s(self) -> float:
        """Commitment horizon in seconds."""
        return self.batch_interval_s if self.commit_ahead_s is None else self.commit_ahead_s


@dataclass(frozen=True)
class ReplayResult:
    """What happened: every trip, the orders never delivered, and how long batches took."""

    instance: Instance
    config: ReplayConfig
    trips: tuple[Trip, ...]
    undelivered: tuple[str, ...]
    batch_wall_s: tuple[float, ...]
    wall_s: float


class Replay:
    """One replay of one day; `run()` plays it to the end."""

    def __init__(self, instance: Instance, config: ReplayConfig, policy: Policy | None = None):
        self.instance, self.config = instance, config
        self.policy = policy or make_policy(config.policy, instance.rules, config.tuning,
                                            config.seed)
        self.travel = instance.rules.travel()
        self.board = ReadyBoard(known=not config.estimate_ready, arrival=config.arrival)
        self.fleet = Fleet(instance)
        self.orders = {o.order_id: o for o in instance.orders}
        vehicles = {c.vehicle for c in instance.couriers} or {"motorcycle"}
        floors = delivery_floors_s(instance.orders, instance.rules, vehicles)
        self.floors = dict(zip(self.orders, floors, strict=True))
        self.pending: dict[str, frozenset[str]] = {}  # order id -> couriers excluded
        self._specs: dict[str, OrderSpec] = {}  # pending order id -> its last spec
        self.releases: list[tuple[float, str, str]] = []  # (time, order id, courier id)
        self.next_order = 0
        self.batch_wall: list[float] = []
        self.last_batch_s = -math.inf
        self.due_s = math.inf  # when the earliest held proposal must be committed

    def run(self) -> ReplayResult:
        """Play the day; return every trip and the orders left undelivered."""
        t0 = time.perf_counter()
        now = self._next_tick(-math.inf)
        while now < math.inf:
            self._admit(now)
            if self.pending:
                self._batch(now)
            now = self._next_tick(now)
        return ReplayResult(self.instance, self.config, tuple(self.fleet.trips),
                            tuple(sorted(self.pending)), tuple(self.batch_wall),
                            time.perf_counter() - t0)

    def _next_tick(self, now: float) -> float:
        """The next batch time, jumping over idle stretches; inf when the day is over."""
        step = self.config.batch_interval_s
        upcoming = [r[0] for r in self.releases[:1]]
        if self.next_order < len(self.instance.orders):
            upcoming.append(self.instance.orders[self.next_order].placed_s)
        shift_left = bool(len(self.fleet.off_s)) and float(self.fleet.off_s.max()) > now
        if self.pending and shift_left:
            upcoming += [self.due_s, self.last_batch_s + self.config.refresh_s]
        if not upcoming:
            return math.inf
        return max(now + step, math.ceil(min(upcoming) / step) * step)

    def _admit(self, now: float) -> None:
        """Orders placed and orders released by now join the pool."""
        orders = self.instance.orders
        while self.next_order < len(orders) and orders[self.next_order].placed_s <= now:
            order = orders[self.next_order]
            self.pending[order.order_id] = frozenset()
            self.board.place(order)
            self.next_order += 1
        while self.releases and self.releases[0][0] <= now:
            _, oid, courier = heapq.heappop(self.releases)
            self.pending[oid] = self.pending.get(oid, frozenset()) | {courier}
        self.board.advance(now)

    def _batch(self, now: float) -> None:
        """One optimizer batch at `now`, and the commitments it leads to."""
        self.last_batch_s, self.due_s = now, math.inf
        self.board.observe_fleet(self.fleet.on_s, self.fleet.off_s, self.fleet.free_s, now)
        share = self.config.release_idle_share
        release = not self.board.known and share is not None and self.board.idle <= share
        waiting = self.fleet.waiting(now) if release else {}
        riders = self.fleet.available(now, self.config.rider_lookahead_s, self.board,
                                      self.config.tuning.max_bundle_size, waiting)
        if not riders:
            return
        specs = self._order_specs(now)
        if not specs:
            return
        specs += [order_spec(self.orders[oid], self.board, now, frozenset(), self.floors[oid],
                             waited=True)
                  for visit in waiting.values() for oid in visit.order_ids]
        t0 = time.perf_counter()
        answer = self.policy(specs, riders, now)
        self.batch_wall.append(time.perf_counter() - t0)
        chosen = [self.fleet.spec(p.rider_id) for p in answer]
        starts = must_start_by(answer, chosen, self.orders, self.board, self.instance.rules,
                               self.travel, now)
        # Waiting couriers first: the orders of those taken off their trips are free
        # for the proposals after them.
        order = sorted(range(len(answer)), key=lambda k: answer[k].rider_id not in waiting)
        for k in order:
            self._maybe_commit(answer[k], starts[k], now, waiting)

    def _order_specs(self, now: float) -> list[OrderSpec]:
        """The pending orders whose food is ready (as seen) within the horizon, as specs.

        A spec is rebuilt only when the ready time seen or the excluded couriers change.
        """
        horizon = now + self.config.order_horizon_s
        specs = []
        for oid, excluded in self.pending.items():
            order = self.orders[oid]
            ready = self.board.ready_s(order, now)
            if ready > horizon:
                continue
            cached = self._specs.get(oid)
            if cached is None or cached.ready_s != ready or cached.excluded_riders != excluded:
                cached = order_spec(order, self.board, now, excluded, self.floors[oid])
                self._specs[oid] = cached
            specs.append(cached)
        return specs

    def _maybe_commit(
        self, proposal: Proposal, start_by: float, now: float, waiting: dict[str, Visit]
    ) -> None:
        """Commit `proposal` if its courier must leave (by `start_by`) before the next batch.

        A waiting courier given other work is taken off its trip first (`waiting`
        loses it); a proposal touching food a courier waits for is not committed.
        """
        if not should_commit(start_by, now, self.config.ahead_s):
            self.due_s = min(self.due_s, start_by - self.config.ahead_s)
            return
        verdict = waiting_verdict(proposal, waiting)
        if verdict == "keep":
            return
        if verdict == "release":
            courier = proposal.rider_id
            for oid in self.fleet.release(courier, waiting.pop(courier), now).released:
                self.pending[oid] = frozenset()
        stops = [(kind, self.orders[oid]) for kind, oid in proposal.stops]
        trip = play_trip(self.fleet.leg(proposal.rider_id, now), stops, self.instance.rules,
                         self.travel, now)
        self.fleet.record(trip)
        for kind, order in stops:
            if kind == "pickup":
                self.pending.pop(order.order_id, None)
                self._specs.pop(order.order_id, None)
        for oid in trip.released:
            heapq.heappush(self.releases, (trip.release_s, oid, trip.courier_id))


def replay(instance: Instance, config: ReplayConfig, policy: Policy | None = None) -> ReplayResult:
    """Replay `instance` under `config` (optionally with a custom policy callable)."""
    return Replay(instance, config, policy).run()

