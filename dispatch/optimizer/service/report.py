"""`BatchReport`: what one batch did, recorded as metrics and one structured log line."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass

from dispatch.metrics import BatchMetrics
from dispatch.optimizer.core import Plan
from dispatch.optimizer.service.inputs import BatchInput
from dispatch.optimizer.service.sweep import Swept

log = logging.getLogger(__name__)

OUTCOMES = ("accepted", "rejected", "expired", "released", "withdrawn")


@dataclass(frozen=True)
class BatchReport:
    """One batch's figures (outcomes: offers answered since the region's previous batch)."""

    region: str
    token: int
    orders: int
    riders: int
    candidates: int
    solve_s: float
    cost: float
    method: str
    offers_made: int
    unassigned: int
    accepted: int
    rejected: int
    expired: int
    released: int
    withdrawn: int
    swept_expired: int
    swept_released: int
    total_s: float

    @classmethod
    def of(cls, *, region: str, token: int, batch: BatchInput, plan: Plan | None, offers: int,
           outcomes: Counter[str], swept: Swept, total_s: float) -> BatchReport:
        """The report of a batch from its parts."""
        stats = plan.stats if plan is not None else {}
        return cls(
            region=region, token=token, orders=len(batch.orders), riders=len(batch.riders),
            candidates=int(stats.get("candidates", 0)),
            solve_s=float(plan.timings.get("solve_s", 0.0)) if plan is not None else 0.0,
            cost=float(plan.cost) if plan is not None else 0.0,
            method=str(stats.get("method", "")), offers_made=offers,
            unassigned=len(batch.orders) - offers,
            swept_expired=swept.expired, swept_released=swept.released, total_s=total_s,
            **{outcome: outcomes.get(outcome, 0) for outcome in OUTCOMES},
        )

    @property
    def busy(self) -> bool:
        """Whether anything happened worth an INFO line."""
        return bool(self.orders or self.offers_made or any(
            getattr(self, outcome) for outcome in OUTCOMES))


def record(metrics: BatchMetrics, report: BatchReport) -> None:
    """Count the batch in the metrics and log it as one structured line."""
    region = report.region
    metrics.batches.labels(region, "committed" if report.offers_made else "empty").inc()
    metrics.orders.labels(region).observe(report.orders)
    metrics.riders.labels(region).observe(report.riders)
    metrics.candidates.labels(region).observe(report.candidates)
    metrics.batch_seconds.labels(region).observe(report.total_s)
    if report.orders and report.riders:
        metrics.solve_seconds.labels(region).observe(report.solve_s)
        metrics.plan_cost.labels(region).set(report.cost)
    metrics.offers.labels(region, "made").inc(report.offers_made)
    for outcome in OUTCOMES:
        metrics.offers.labels(region, outcome).inc(getattr(report, outcome))
    log.log(logging.INFO if report.busy else logging.DEBUG, "batch", extra=asdict(report))
