"""The bound that lets the replay skip batches: no proposal ever has to start before it."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.optimizer.core import RiderSpec
from simulators.replay import POLICY_NAMES, Proposal, ReplayConfig, replay
from simulators.replay.commit import must_start_by, order_spec
from simulators.replay.earliest import earliest_start_s
from simulators.replay.engine import Replay
from simulators.replay.policies import batch_params
from tests.simulators.replay.test_engine import random_day, seed_orders, unit


class CheckedReplay(Replay):
    """A replay that solves every batch and records each proposal's start beside the bound."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.pairs: list[tuple[float, float]] = []  # (bound, proposal's start)
        self._bound_at: tuple[float, float] = (math.nan, math.nan)

    def _maybe_commit(self, proposal: Proposal, rider: RiderSpec, now: float) -> None:
        if self._bound_at[0] != now:
            specs = [order_spec(self.orders[oid], self.board, now, excluded, self.floors[oid])
                     for oid, excluded in self.pending.items()]
            specs = [s for s in specs if s.ready_s <= now + self.config.order_horizon_s]
            riders = self.fleet.available(now, self.config.rider_lookahead_s, self.board,
                                          self.config.tuning.max_bundle_size)
            params = batch_params(self.instance.rules, self.config.tuning, bundling=False, seed=0)
            self._bound_at = (now, earliest_start_s(specs, riders, params, now))
        start = must_start_by(proposal, rider, self.orders, self.board, self.instance.rules,
                              self.travel, now)
        self.pairs.append((self._bound_at[1], start))
        super()._maybe_commit(proposal, rider, now)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(unit, unit, unit, unit, unit, unit), min_size=1, max_size=12),
    couriers=st.integers(min_value=1, max_value=5),
    policy=st.sampled_from(POLICY_NAMES),
    estimate=st.booleans(),
)
def test_no_proposal_starts_before_the_bound(
    rows: list[tuple[float, ...]], couriers: int, policy: str, estimate: bool
) -> None:
    config = ReplayConfig(policy=policy, estimate_ready=estimate, skip_idle=False)
    run = CheckedReplay(random_day(rows, couriers), config)
    run.run()
    assert all(start >= bound - 1e-6 for bound, start in run.pairs)


def test_skipping_idle_batches_solves_fewer_and_still_delivers() -> None:
    day = random_day(seed_orders(5, 60), 8)
    solved_all = replay(day, ReplayConfig(policy="full", skip_idle=False))
    skipping = replay(day, ReplayConfig(policy="full"))
    assert skipping.batches_skipped > 0
    assert len(skipping.batch_wall_s) < len(solved_all.batch_wall_s)
    assert len(skipping.undelivered) <= len(solved_all.undelivered) + 1
