"""Preparation-time forecasts learnt online, and the quantiles read off their errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.replay.prep import PrepEstimator


def test_forecast_is_the_merchants_mean_shrunk_towards_all_merchants() -> None:
    est = PrepEstimator(default_prep_s=900.0, prior_weight=1.0)
    assert est.mean_s("m") == 900.0  # nothing seen yet: the default
    est.learn("m", 300.0, forecast_s=900.0)
    est.learn("n", 900.0, forecast_s=900.0)
    # m's own 300 s blended with one observation of the all-merchant mean (600 s).
    assert est.mean_s("m") == pytest.approx(450.0)
    assert est.mean_s("unseen") == pytest.approx(600.0)


def test_quantiles_are_the_point_forecast_until_enough_errors_are_seen() -> None:
    est = PrepEstimator(default_prep_s=600.0, min_errors=3)
    est.learn("m", 600.0, forecast_s=900.0)
    est.learn("m", 600.0, forecast_s=300.0)
    assert est.quantile_s("m", 0.1) == est.quantile_s("m", 0.9) == est.mean_s("m")
    est.learn("m", 600.0, forecast_s=600.0)  # errors now -300, 0, +300
    assert est.error_quantile_s(0.0) == -300.0
    assert est.error_quantile_s(0.25) == -150.0
    assert est.error_quantile_s(1.0) == 300.0
    assert est.quantile_s("m", None) == est.mean_s("m")


@given(st.lists(st.tuples(st.floats(0, 7200), st.floats(0, 7200)), min_size=1, max_size=40),
       st.floats(0, 1), st.floats(0, 1))
def test_quantiles_rise_with_q_and_are_never_negative(
    seen: list[tuple[float, float]], q1: float, q2: float
) -> None:
    est = PrepEstimator(min_errors=1)
    for prep, forecast in seen:
        est.learn("m", prep, forecast)
    lo, hi = sorted((q1, q2))
    assert est.error_quantile_s(lo) <= est.error_quantile_s(hi)
    assert 0.0 <= est.quantile_s("m", lo) <= est.quantile_s("m", hi)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        PrepEstimator(prior_weight=0.0)


def test_overdue_food_is_forecast_from_the_errors_larger_than_its_delay() -> None:
    est = PrepEstimator(default_prep_s=600.0, min_errors=1)
    for err in (-300.0, 0.0, 300.0, 600.0, 900.0):
        est.learn("m", 600.0 + err, forecast_s=600.0)
    mean = est.mean_s("m")
    # Lasted mean + 100 s already: only the errors 300, 600 and 900 s are still possible.
    assert est.quantile_s("m", 0.0, elapsed_s=mean + 100.0) == pytest.approx(mean + 300.0)
    assert est.quantile_s("m", 0.5, elapsed_s=mean + 100.0) == pytest.approx(mean + 600.0)
    # Longer than any error seen: as long as it has lasted.
    assert est.quantile_s("m", 0.5, elapsed_s=mean + 1000.0) == pytest.approx(mean + 1000.0)
    # Not overdue at all: the unconditional quantile.
    assert est.quantile_s("m", 0.5, elapsed_s=0.0) == est.quantile_s("m", 0.5)


@given(st.lists(st.floats(-1800, 3600), min_size=1, max_size=30), st.floats(0, 1),
       st.floats(0, 7200))
def test_a_conditional_forecast_is_never_shorter_than_the_time_already_spent(
    errors: list[float], q: float, elapsed: float
) -> None:
    est = PrepEstimator(min_errors=1)
    for err in errors:
        est.learn("m", 900.0 + err, forecast_s=900.0)
    assert est.quantile_s("m", q, elapsed_s=elapsed) >= elapsed - 1e-6
