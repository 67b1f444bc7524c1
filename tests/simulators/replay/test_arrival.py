"""The load-aware choice of which quantile of the ready time couriers are sent to meet."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.replay.arrival import MEAN_ONLY, ArrivalRule, idle_share


def test_idle_fleets_meet_an_early_quantile_and_busy_fleets_a_late_one() -> None:
    rule = ArrivalRule(idle_quantile=0.1, busy_quantile=0.9, idle_share_low=0.1,
                       idle_share_high=0.5)
    assert rule.quantile(0.0) == 0.9
    assert rule.quantile(0.1) == 0.9
    assert rule.quantile(0.3) == pytest.approx(0.5)
    assert rule.quantile(0.8) == pytest.approx(0.1)
    assert MEAN_ONLY.quantile(0.8) is None


@given(st.floats(0, 1), st.floats(0, 1))
def test_the_quantile_never_rises_as_more_couriers_are_idle(a: float, b: float) -> None:
    rule = ArrivalRule()
    lo, hi = sorted((a, b))
    q_lo, q_hi = rule.quantile(lo), rule.quantile(hi)
    assert q_lo is not None and q_hi is not None
    assert q_hi <= q_lo
    assert rule.idle_quantile is not None and rule.busy_quantile is not None
    assert rule.idle_quantile <= q_hi <= rule.busy_quantile


def test_idle_share_counts_only_couriers_on_shift() -> None:
    on = np.array([0.0, 0.0, 0.0, 500.0])
    off = np.array([1000.0, 1000.0, 50.0, 2000.0])
    free = np.array([0.0, 300.0, 0.0, 500.0])
    # At 100: couriers 0 and 1 are on shift (2 has ended, 3 not started); 0 is free.
    assert idle_share(on, off, free, 100.0) == 0.5
    assert idle_share(on, off, free, 5000.0) == 1.0  # nobody on shift


def test_inconsistent_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        ArrivalRule(idle_quantile=None, busy_quantile=0.5)
    with pytest.raises(ValueError):
        ArrivalRule(idle_quantile=1.5)
    with pytest.raises(ValueError):
        ArrivalRule(idle_share_low=0.5, idle_share_high=0.5)
