"""A replay's report: the JSON document, its one-line summary and the policy comparison table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from simulators.evaluate.invariants import check_invariants
from simulators.evaluate.metrics import evaluate
from simulators.replay import ReplayResult
from simulators.replay.policies import distance_weight

SUMMARY_KEYS = (
    "instance", "policy", "estimate_ready", "orders", "delivered_share", "undelivered_pct",
    "click_to_door_mean_min", "click_to_door_p90_min", "click_to_door_floor_mean_min",
    "ready_to_pickup_mean_min", "on_time_share", "cost_per_order", "orders_per_bundle",
    "orders_per_rider_hour", "km_per_order", "rule_breaches", "wall_s",
)

TABLE_COLUMNS = (
    ("policy", "policy"),
    ("delivered", "delivered_share"),
    ("c2d mean", "click_to_door_mean_min"),
    ("c2d p90", "click_to_door_p90_min"),
    ("c2d floor", "click_to_door_floor_mean_min"),
    ("r2p mean", "ready_to_pickup_mean_min"),
    ("on time", "on_time_share"),
    ("cost/order", "cost_per_order"),
    ("orders/bundle", "orders_per_bundle"),
    ("orders/rider-h", "orders_per_rider_hour"),
    ("km/order", "km_per_order"),
    ("wall s", "wall_s"),
)


def clean(value: Any) -> Any:
    """JSON-safe value: NaN and infinities become None, floats are rounded, containers recurse."""
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def build_report(result: ReplayResult) -> dict[str, Any]:
    """The full report of one replay (figures, set-up, timings, rule breaches)."""
    metrics = evaluate(result).as_dict()
    breaches = check_invariants(result)
    batches = np.array(result.batch_wall_s) * 1000
    report: dict[str, Any] = clean({
        "instance": result.instance.name,
        "source": result.instance.source,
        "policy": result.config.policy,
        "estimate_ready": result.config.estimate_ready,
        "batch_interval_s": result.config.batch_interval_s,
        "distance_weight": distance_weight(result.instance.rules, result.config.tuning),
        "couriers": len(result.instance.couriers),
        **metrics,
        "batches": len(batches),
        "batch_p50_ms": float(np.percentile(batches, 50)) if len(batches) else math.nan,
        "batch_p99_ms": float(np.percentile(batches, 99)) if len(batches) else math.nan,
        "rule_breaches": len(breaches),
        "rule_breach_examples": breaches[:5],
        "undelivered": list(result.undelivered),
        "wall_s": result.wall_s,
    })
    return report


def summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report's headline figures (the command's last output line)."""
    return {k: report.get(k) for k in SUMMARY_KEYS}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
    return "-" if value is None else str(value)


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Reports side by side as a markdown table, one row per report."""
    head = "| " + " | ".join(name for name, _ in TABLE_COLUMNS) + " |"
    rule = "|" + "---|" * len(TABLE_COLUMNS)
    body = ["| " + " | ".join(_cell(r.get(key)) for _, key in TABLE_COLUMNS) + " |" for r in rows]
    return "\n".join([head, rule, *body])
