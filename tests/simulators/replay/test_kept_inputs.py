"""The replay keeps batch inputs between batches: what it keeps equals what it would rebuild.

Order specs are kept until their ready time or exclusions change, couriers' specs until
their state does, and the commit rule is timed for all proposals at once; on random
days, with ready times known and estimated, every batch's kept inputs and start times
equal those built afresh.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.optimizer.core import OrderSpec, RiderSpec
from simulators.replay import ReplayConfig
from simulators.replay.commit import must_start_by, order_spec
from simulators.replay.engine import Replay
from simulators.replay.policies import Proposal
from tests.simulators.replay.test_engine import random_day, seed_orders


class _Checked(Replay):
    """A replay that rebuilds every kept input and compares."""

    batches = 0

    def _order_specs(self, now: float) -> list[OrderSpec]:
        kept = super()._order_specs(now)
        horizon = now + self.config.order_horizon_s
        fresh = [
            order_spec(self.orders[oid], self.board, now, excluded, self.floors[oid])
            for oid, excluded in self.pending.items()
            if self.board.ready_s(self.orders[oid], now) <= horizon
        ]
        assert kept == fresh
        riders = self.fleet.available(now, self.config.rider_lookahead_s, self.board,
                                      self.config.tuning.max_bundle_size)
        for spec in riders:
            assert spec == self._fresh_rider(spec.rider_id, now)
        self.batches += 1
        return kept

    def _fresh_rider(self, courier_id: str, now: float) -> RiderSpec:
        i = self.fleet.index[courier_id]
        c = self.fleet.couriers[i]
        available_s = max(self.fleet._seen_free_s(i, now, self.board), c.on_s)
        return RiderSpec(courier_id, float(self.fleet.lat[i]), float(self.fleet.lng[i]),
                         available_s=available_s, capacity=self.config.tuning.max_bundle_size,
                         vehicle=c.vehicle, shift_end_s=c.off_s)


def _one_at_a_time(proposals: list[Proposal], replay: Replay, now: float) -> list[float]:
    riders = [replay.fleet.spec(p.rider_id) for p in proposals]
    return [
        must_start_by([p], [r], replay.orders, replay.board, replay.instance.rules,
                      replay.travel, now)[0]
        for p, r in zip(proposals, riders, strict=True)
    ]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), couriers=st.integers(1, 6), estimate=st.booleans())
def test_kept_inputs_equal_rebuilt_ones_every_batch(seed: int, couriers: int, estimate: bool
                                                    ) -> None:
    day = random_day(seed_orders(seed, 30), couriers)
    checked = _Checked(day, ReplayConfig(policy="full", estimate_ready=estimate))
    inner = checked.policy

    def policy(orders: list[OrderSpec], riders: list[RiderSpec], now: float) -> list[Proposal]:
        answer = inner(orders, riders, now)
        together = must_start_by(answer, [checked.fleet.spec(p.rider_id) for p in answer],
                                 checked.orders, checked.board, checked.instance.rules,
                                 checked.travel, now)
        assert together == _one_at_a_time(answer, checked, now)
        return answer

    checked.policy = policy  # type: ignore[assignment]
    checked.run()
    assert checked.batches > 0
