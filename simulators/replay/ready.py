"""What the dispatcher knows about when food is ready.

With ready times known, the dispatcher sees each order's true ready time from its
placement. With ready times estimated, it never sees a future ready time: an
order's food is known to be ready only once it is (the merchant marks it), and
until then the ready time it plans with is a quantile of the predicted
preparation (`simulators.replay.prep`: the merchant's mean so far, shrunk towards
all merchants', plus the day's forecast errors), chosen by how idle the fleet is
(`simulators.replay.arrival`), and never earlier than now. Food a courier is
already waiting for, or riding to, is forecast instead as the waiting quantile
(the median) of the preparation given how long it has lasted.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from simulators.instances import DayOrder
from simulators.replay.arrival import ArrivalRule, idle_share
from simulators.replay.prep import PrepEstimator


@dataclass
class ReadyBoard:
    """Ready times as the dispatcher sees them (the truth, or estimates from history).

    Parameters
    ----------
    known
        True when the dispatcher sees true ready times from placement.
    prep
        The preparation-time forecasts and their errors (used when not `known`).
    arrival
        Which quantile of the predicted ready time to plan with, by fleet load.
    """

    known: bool
    prep: PrepEstimator = field(default_factory=PrepEstimator)
    arrival: ArrivalRule = field(default_factory=ArrivalRule)
    quantile: float | None = None
    idle: float = 1.0  # share of couriers on shift idle at the last fleet observation
    _upcoming: list[tuple[float, str, str, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.quantile = self.arrival.quantile(1.0)

    def place(self, order: DayOrder) -> None:
        """Note an order as placed, with the forecast made now; its truth is learnt when ready."""
        prep = order.ready_s - order.placed_s
        forecast = self.prep.mean_s(order.merchant_id)
        heapq.heappush(self._upcoming,
                       (order.ready_s, order.order_id, order.merchant_id, prep, forecast))

    def advance(self, now_s: float) -> None:
        """Learn the preparation time of every order whose food is ready by `now_s`."""
        while self._upcoming and self._upcoming[0][0] <= now_s:
            _, _, merchant, prep, forecast = heapq.heappop(self._upcoming)
            self.prep.learn(merchant, prep, forecast)

    def observe_fleet(
        self, on_s: NDArray[np.float64], off_s: NDArray[np.float64],
        free_s: NDArray[np.float64], now_s: float,
    ) -> None:
        """Set the quantile planned with from the share of couriers on shift that are idle."""
        if not self.known:
            self.idle = idle_share(on_s, off_s, free_s, now_s)
            self.quantile = self.arrival.quantile(self.idle)

    def prep_estimate_s(self, merchant_id: str) -> float:
        """Preparation time at a merchant planned with now (the current quantile)."""
        return self.prep.quantile_s(merchant_id, self.quantile)

    def ready_s(self, order: DayOrder, now_s: float, waited: bool = False) -> float:
        """The ready time the dispatcher uses for `order` at `now_s`.

        `waited`: a courier is already at the restaurant, so the question is how long
        it will still wait, not when to set off: the `ArrivalRule.waiting_quantile`
        of the preparation given that it has lasted this long.
        """
        if self.known or order.ready_s <= now_s:
            return order.ready_s
        if waited:
            prep = self.prep.quantile_s(order.merchant_id, self.arrival.waiting_quantile,
                                        elapsed_s=now_s - order.placed_s)
        else:
            prep = self.prep_estimate_s(order.merchant_id)
        # Not ready yet (the merchant has not said so), so never earlier than now.
        return max(now_s, order.placed_s + prep)
