"""`BatchParams`: the weights of the objective and the knobs of one batch, validated early.

The objective, in "seconds of rider time" units, is for every assigned order

    travel_weight   * seconds the rider travels for it (to the pickup, then on)
  + distance_weight * metres it rides for it
  + wait_weight     * seconds the rider waits at the pickup for the food
  + lateness_weight * seconds the drop-off is past the promised time
  + delivery_weight * seconds from placement to drop-off (click-to-door)

summed over routes (a bundle's travel is its route's), plus for every order left
unassigned

    unassigned_penalty_s
  + age_weight * seconds since placement
  + (delivery_weight + lateness_weight) * seconds past the promised time

so an order is left for the next batch only when every option is worse than that,
and long-waiting orders are served first. The last term is why a late order
cannot starve: each second it waits makes serving it up to `delivery_weight +
lateness_weight` dearer (its drop-off moves a second later), and once it is past
its promise leaving it grows dearer by at least as much, so from then on its claim
to a rider (serving cost minus penalty) never weakens and, with `age_weight > 0`,
strengthens by `age_weight` a second until it beats any fresh order's. Without that
term a late order lost every batch to fresh ones once riders were short, because
its lateness cost outgrew `age_weight`. Before the promise the penalty grows by
`age_weight`, so keep `age_weight >= delivery_weight` for fresh orders too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from geo.travel import HaversineTravel, TravelModel

_NON_NEGATIVE = (
    "travel_weight",
    "distance_weight",
    "wait_weight",
    "lateness_weight",
    "delivery_weight",
    "unassigned_penalty_s",
    "age_weight",
    "pickup_service_s",
    "dropoff_service_s",
    "widen_after_s",
    "bundle_pickup_radius_m",
    "bundle_ready_gap_s",
    "exact_max_edges",
)


@dataclass(frozen=True)
class BatchParams:
    """Parameters of one batch; see the module docstring for the objective.

    Parameters
    ----------
    travel_weight, wait_weight, lateness_weight, delivery_weight
        Weights of the per-order cost terms (per second).
    distance_weight
        Weight per metre ridden for the new work (0: travel is priced in seconds
        only). Among nearly equally fast options it prefers the shorter ride, which a
        faster rider from farther away would otherwise win.
    unassigned_penalty_s, age_weight
        Cost of leaving an order for the next batch, growing with its age (and, past
        its promise, with ``delivery_weight + lateness_weight`` per second as well).
    pickup_service_s, dropoff_service_s
        Time spent at each stop; the pickup happens at
        ``max(ready, arrival + pickup_service_s / 2)`` and the rider leaves half a
        service later (the MDRP rule); a drop-off at ``arrival + dropoff_service_s / 2``.
    candidate_radius_m, candidate_count
        A rider is a candidate for an order when it is among the `candidate_count`
        nearest (straight line, in the travel model's plane) to the pickup within
        `candidate_radius_m`.
    widen_after_s, widen_factor
        Orders waiting longer than `widen_after_s` search `widen_factor` times the
        radius and count.
    bundling, max_bundle_size, same_merchant_only, bundle_pickup_radius_m,
    bundle_ready_gap_s, bundle_partners
        Several orders per rider: bundles of up to `max_bundle_size` orders whose
        pickups are within `bundle_pickup_radius_m` (or share the merchant when
        `same_merchant_only`) and whose ready times differ by at most
        `bundle_ready_gap_s`; each order considers its `bundle_partners` nearest
        pickups, and its `bundle_route_partners` nearest in pickup and drop-off
        together (0: none) among those that qualify.
    bundle_riders
        Each bundle is priced for this many riders (nearest to its first pickup
        among those that are candidates of every member).
    exact_max_edges
        The whole set-partitioning model is solved exactly (LP, else CP-SAT) when
        it has at most this many edges (single-order edges plus bundles times
        `bundle_riders`); larger batches rely on the flows alone.
    time_limit_s
        Wall-clock budget of the solve; past it the best plan found so far is returned.
    deterministic
        Decide nothing by the wall clock, so a batch gives the same plan on any machine
        under any load: bundling and the flow always run, GLOP has no time limit, and
        CP-SAT stops at its deterministic limit (half of `time_limit_s` in its own
        work units) alone. For offline replays; the service keeps its wall-clock
        budget, since it must answer within its batch interval.
    seed
        Seeds every randomised step, so a batch is reproducible.
    travel
        The travel-time model (default: haversine with a detour factor).
    """

    travel_weight: float = 1.0
    distance_weight: float = 0.0
    wait_weight: float = 0.5
    lateness_weight: float = 4.0
    delivery_weight: float = 0.0
    unassigned_penalty_s: float = 7200.0
    age_weight: float = 1.0
    pickup_service_s: float = 0.0
    dropoff_service_s: float = 0.0
    candidate_radius_m: float = 5000.0
    candidate_count: int = 24
    widen_after_s: float = 600.0
    widen_factor: float = 2.0
    bundling: bool = True
    max_bundle_size: int = 3
    same_merchant_only: bool = False
    bundle_pickup_radius_m: float = 400.0
    bundle_ready_gap_s: float = 600.0
    bundle_partners: int = 4
    bundle_route_partners: int = 2
    bundle_riders: int = 24
    exact_max_edges: int = 20_000
    time_limit_s: float = 2.0
    deterministic: bool = False
    seed: int = 0
    travel: TravelModel = field(default_factory=HaversineTravel)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be finite")
        negative = [name for name in _NON_NEGATIVE if getattr(self, name) < 0]
        if negative:
            raise ValueError(f"{negative[0]} must be >= 0")
        self._check_ranges()

    def _check_ranges(self) -> None:
        """Parameters whose valid range is not just 'finite and non-negative'."""
        if self.candidate_radius_m <= 0:
            raise ValueError("candidate_radius_m must be > 0")
        if self.candidate_count < 1:
            raise ValueError("candidate_count must be >= 1")
        if self.widen_factor < 1:
            raise ValueError("widen_factor must be >= 1")
        if not 1 <= self.max_bundle_size <= 4:
            raise ValueError("max_bundle_size must be between 1 and 4")
        if self.bundle_partners < 1 or self.bundle_riders < 1:
            raise ValueError("bundle_partners and bundle_riders must be >= 1")
        if self.bundle_route_partners < 0:
            raise ValueError("bundle_route_partners must be >= 0")
        if self.time_limit_s <= 0:
            raise ValueError("time_limit_s must be > 0")
        if not isinstance(self.travel, TravelModel):
            raise ValueError("travel must implement geo.travel.TravelModel")
