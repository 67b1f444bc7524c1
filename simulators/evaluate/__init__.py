"""Judging a replay: the MDRP paper's metrics, the report's figures, and rule invariants."""

from __future__ import annotations

from simulators.evaluate.invariants import check_invariants
from simulators.evaluate.metrics import Metrics, evaluate
from simulators.evaluate.outcomes import CourierTotals, Outcome, courier_totals, outcomes

__all__ = [
    "CourierTotals",
    "Metrics",
    "Outcome",
    "check_invariants",
    "courier_totals",
    "evaluate",
    "outcomes",
]
