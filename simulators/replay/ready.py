"""What the dispatcher knows about when food is ready.

With ready times known, the dispatcher sees each order's true ready time from its
placement. With ready times estimated, it never sees a future ready time: an
order's food is known to be ready only once it is (the merchant marks it), and
until then its ready time is estimated from the preparation times of the orders
of the same merchant whose food has already been ready, shrunk towards the mean
of all merchants (and a default before any food has been ready at all).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from simulators.instances import DayOrder


@dataclass
class _Mean:
    total: float = 0.0
    count: int = 0

    def add(self, value: float) -> None:
        self.total += value
        self.count += 1


@dataclass
class ReadyBoard:
    """Ready times as the dispatcher sees them (the truth, or estimates from history).

    Parameters
    ----------
    known
        True when the dispatcher sees true ready times from placement.
    default_prep_s
        Preparation time assumed before any food of the day has been ready.
    prior_weight
        How many observations of the all-merchant mean a merchant's own mean is
        blended with (shrinks merchants with little history towards the mean).
    """

    known: bool
    default_prep_s: float = 900.0
    prior_weight: float = 2.0
    _upcoming: list[tuple[float, str, str, float]] = field(default_factory=list)
    _merchants: dict[str, _Mean] = field(default_factory=dict)
    _all: _Mean = field(default_factory=_Mean)

    def place(self, order: DayOrder) -> None:
        """Note an order as placed; its preparation time is learnt once its food is ready."""
        prep = order.ready_s - order.placed_s
        heapq.heappush(self._upcoming, (order.ready_s, order.order_id, order.merchant_id, prep))

    def advance(self, now_s: float) -> None:
        """Learn the preparation time of every order whose food is ready by `now_s`."""
        while self._upcoming and self._upcoming[0][0] <= now_s:
            _, _, merchant, prep = heapq.heappop(self._upcoming)
            self._merchants.setdefault(merchant, _Mean()).add(prep)
            self._all.add(prep)

    def prep_estimate_s(self, merchant_id: str) -> float:
        """Estimated preparation time at a merchant from the history seen so far."""
        prior = self._all.total / self._all.count if self._all.count else self.default_prep_s
        own = self._merchants.get(merchant_id, _Mean())
        return (own.total + self.prior_weight * prior) / (own.count + self.prior_weight)

    def ready_s(self, order: DayOrder, now_s: float) -> float:
        """The ready time the dispatcher uses for `order` at `now_s`."""
        if self.known or order.ready_s <= now_s:
            return order.ready_s
        # Not ready yet (the merchant has not said so), so never earlier than now.
        return max(now_s, order.placed_s + self.prep_estimate_s(order.merchant_id))
