"""`LoopParams`: the batch loop's knobs, taken from the settings and validated once."""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatch.config import Settings
from dispatch.optimizer.core import BatchParams


@dataclass(frozen=True)
class LoopParams:
    """How often a region is batched, how long a solve may take, and what offers look like."""

    interval_s: float = 2.0
    lease_ttl_s: float = 6.0
    max_orders: int = 2000
    offer_timeout_s: int = 30
    rider_capacity: int = 3
    stale_after_s: float = 60.0
    exclusion_s: float = 900.0  # a rider who declined an order is not offered it again so soon
    batch: BatchParams = field(default_factory=BatchParams)

    def __post_init__(self) -> None:
        if self.interval_s <= 0 or self.lease_ttl_s <= 0:
            raise ValueError("interval_s and lease_ttl_s must be > 0")
        if self.lease_ttl_s <= self.interval_s:
            raise ValueError("lease_ttl_s must exceed interval_s, or the lease lapses between "
                             "two batches")
        if min(self.max_orders, self.offer_timeout_s, self.rider_capacity) < 1:
            raise ValueError("max_orders, offer_timeout_s and rider_capacity must be >= 1")
        if self.exclusion_s < 0:
            raise ValueError("exclusion_s must be >= 0")

    @property
    def candidate_radius_m(self) -> float:
        """How far from a pickup riders are fetched (the solver's own candidate radius)."""
        return self.batch.candidate_radius_m

    @property
    def candidate_riders(self) -> int:
        """How many riders are fetched per pickup (the solver's own candidate count)."""
        return self.batch.candidate_count

    @property
    def solve_timeout_s(self) -> float:
        """How long to wait for the solver thread before giving the batch up."""
        return 2 * self.batch.time_limit_s + 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LoopParams:
        """The loop parameters a service configured by `settings` uses."""
        return cls(
            interval_s=settings.batch_interval_s, lease_ttl_s=settings.lease_ttl_s,
            max_orders=settings.batch_max_orders, offer_timeout_s=settings.offer_timeout_s,
            rider_capacity=settings.rider_capacity, stale_after_s=settings.stale_after_s,
            exclusion_s=settings.offer_exclusion_s,
            batch=BatchParams(time_limit_s=settings.batch_time_limit_s,
                              candidate_radius_m=settings.candidate_radius_m,
                              candidate_count=settings.candidate_riders,
                              max_bundle_size=min(settings.rider_capacity, 4)),
        )


def regions_to_run(settings: Settings, service_regions: list[str]) -> list[str]:
    """The regions this process batches: the configured list, else every service area's."""
    configured = [r.strip() for r in settings.optimizer_regions.split(",") if r.strip()]
    return configured or service_regions
