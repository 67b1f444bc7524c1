"""When a courier should meet food whose ready time is only estimated: a load-aware quantile.

If the courier comes too late the food (and the customer) waits; if it comes too
early the courier waits. A waiting courier costs nothing while others are idle,
but when couriers are short its time is what the other orders wait for. So the
courier is sent to meet an early quantile of the predicted ready time while many
couriers on shift are idle, and a late one when few are, interpolating linearly
between the two in the share of idle couriers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class ArrivalRule:
    """The quantile of the predicted ready time couriers are sent for, by fleet load.

    Parameters
    ----------
    idle_quantile
        Quantile used when at least `idle_share_high` of the couriers on shift are idle.
    busy_quantile
        Quantile used when at most `idle_share_low` of them are; `None` means the
        point forecast (the merchant's shrunk mean) whatever the load.
    idle_share_low, idle_share_high
        The band of idle shares over which the quantile moves from busy to idle.
    waiting_quantile
        Quantile planned with for food a courier is already waiting for: its
        question is no longer when to set off but how long it will still wait
        (`None`: the point forecast).
    """

    idle_quantile: float | None = 0.05
    busy_quantile: float | None = 1.0
    idle_share_low: float = 0.02
    idle_share_high: float = 0.25
    waiting_quantile: float | None = 0.5

    def __post_init__(self) -> None:
        for q in (self.idle_quantile, self.busy_quantile, self.waiting_quantile):
            if q is not None and not 0.0 <= q <= 1.0:
                raise ValueError("quantiles must lie in [0, 1]")
        if (self.idle_quantile is None) != (self.busy_quantile is None):
            raise ValueError("idle_quantile and busy_quantile are both set or both None")
        if not 0.0 <= self.idle_share_low < self.idle_share_high <= 1.0:
            raise ValueError("need 0 <= idle_share_low < idle_share_high <= 1")

    def quantile(self, idle_share: float) -> float | None:
        """The quantile to plan with when `idle_share` of the couriers on shift are idle."""
        if self.idle_quantile is None or self.busy_quantile is None:
            return None
        span = self.idle_share_high - self.idle_share_low
        w = min(max((idle_share - self.idle_share_low) / span, 0.0), 1.0)
        return self.busy_quantile + w * (self.idle_quantile - self.busy_quantile)


MEAN_ONLY = ArrivalRule(idle_quantile=None, busy_quantile=None)


def idle_share(
    on_s: NDArray[np.float64], off_s: NDArray[np.float64], free_s: NDArray[np.float64],
    now_s: float,
) -> float:
    """Share of the couriers on shift at `now_s` that are free (1 when none is on shift)."""
    on_shift = (on_s <= now_s) & (off_s > now_s)
    count = int(on_shift.sum())
    if count == 0:
        return 1.0
    return float((on_shift & (free_s <= now_s)).sum()) / count
