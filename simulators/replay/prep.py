"""Preparation times learnt online from the day's history, with their forecast errors.

The point forecast of an order's preparation is its merchant's mean over the
orders whose food has been ready so far, shrunk towards the all-merchant mean
(a default before any food has been ready). Each forecast is remembered when its
order is placed; once the food is ready, the error (true preparation minus that
forecast) joins a sorted pool, so the spread of the forecast is measured from
the day itself and any quantile of the preparation time can be read off it.
For food already overdue the quantile is read off the errors larger than the
delay so far only (the preparation given that it has lasted this long).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field


@dataclass
class _Mean:
    total: float = 0.0
    count: int = 0

    def add(self, value: float) -> None:
        self.total += value
        self.count += 1


@dataclass
class PrepEstimator:
    """Online preparation-time forecasts and the empirical distribution of their errors.

    Parameters
    ----------
    default_prep_s
        Preparation time assumed before any food of the day has been ready.
    prior_weight
        How many observations of the all-merchant mean a merchant's own mean is
        blended with (shrinks merchants with little history towards the mean).
    min_errors
        Forecast errors needed before quantiles are read from them; with fewer,
        every quantile is the point forecast.
    """

    default_prep_s: float = 900.0
    prior_weight: float = 2.0
    min_errors: int = 10
    _merchants: dict[str, _Mean] = field(default_factory=dict)
    _all: _Mean = field(default_factory=_Mean)
    _errors: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.default_prep_s < 0 or self.prior_weight <= 0 or self.min_errors < 1:
            raise ValueError("default_prep_s >= 0, prior_weight > 0 and min_errors >= 1 required")

    def mean_s(self, merchant_id: str) -> float:
        """Point forecast of the preparation time at a merchant, from the history so far."""
        prior = self._all.total / self._all.count if self._all.count else self.default_prep_s
        own = self._merchants.get(merchant_id, _Mean())
        return (own.total + self.prior_weight * prior) / (own.count + self.prior_weight)

    def learn(self, merchant_id: str, prep_s: float, forecast_s: float) -> None:
        """Record a preparation now known, and the error of the forecast made at placement."""
        self._merchants.setdefault(merchant_id, _Mean()).add(prep_s)
        self._all.add(prep_s)
        bisect.insort(self._errors, prep_s - forecast_s)

    def error_quantile_s(self, q: float, above_s: float = -math.inf) -> float:
        """The `q` quantile of the forecast errors seen so far that exceed `above_s`.

        0 with fewer than `min_errors` errors in all; `above_s` when none exceeds it.
        """
        n = len(self._errors)
        if n < self.min_errors:
            return 0.0
        first = bisect.bisect_right(self._errors, above_s)
        if first == n:
            return above_s
        pos = first + min(max(q, 0.0), 1.0) * (n - 1 - first)
        lo = int(pos)
        hi = min(lo + 1, n - 1)
        return self._errors[lo] + (pos - lo) * (self._errors[hi] - self._errors[lo])

    def quantile_s(
        self, merchant_id: str, q: float | None, elapsed_s: float | None = None
    ) -> float:
        """The `q` quantile of a merchant's preparation time (`None`: the point forecast),
        given that it has lasted `elapsed_s` so far (`None`: from placement)."""
        mean = self.mean_s(merchant_id)
        if q is None:
            return mean
        above = -math.inf if elapsed_s is None else elapsed_s - mean
        return max(0.0, mean + self.error_quantile_s(q, above))
