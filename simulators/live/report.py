"""The live run's report: delivery figures in simulated minutes, the load the service
took (fixes/s, assignment latency, protocol errors) and its own metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulators.live import scrape
from simulators.live.journal import Journal, StreamStats
from simulators.live.orders import Placed

SUMMARY_KEYS = (
    "orders", "delivered_share", "click_to_door_mean_min", "click_to_door_p90_min",
    "on_time_share", "orders_per_rider_hour", "km_per_order", "policy", "wall_s", "riders",
    "riders_connected_peak", "orders_per_min", "fixes_per_s", "protocol_errors",
    "assignment_latency_p50_s", "assignment_latency_p99_s", "lost", "counts_match",
)


@dataclass
class RunRecord:
    """Everything a finished run hands to the report."""

    speed: float
    riders: int
    rider_hours: float
    placement_wall_s: float
    wall_s: float
    placed: list[Placed]
    journal: Journal
    stats: StreamStats
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]
    reconciliation: dict[str, Any]
    timeline: list[dict[str, float]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def _share(hits: float, of: float) -> float:
    return hits / of if of else math.nan


def order_figures(run: RunRecord) -> dict[str, Any]:
    """Delivery figures: click-to-door, lateness, waits (simulated minutes), latencies (s)."""
    to_min = run.speed / 60.0
    events = run.journal.events
    created = [p for p in run.placed if p.order_id is not None]
    done = [(p, events[p.order_id]) for p in created
            if p.order_id is not None and "deliver" in events.get(p.order_id, {})]
    c2d = [(ev["deliver"] - p.placed_epoch) * to_min for p, ev in done]
    late = [(ev["deliver"] - p.promised_epoch) * to_min for p, ev in done]
    wait = [(ev["pickup"] - p.ready_epoch) * to_min for p, ev in done if "pickup" in ev]
    offered = [events[p.order_id]["offer"] - p.placed_epoch for p in created
               if p.order_id is not None and "offer" in events.get(p.order_id, {})]
    n = len(run.placed)
    return {
        "orders": n, "created": len(created), "delivered": len(done),
        "delivered_share": _share(len(done), n),
        "failed": sum(1 for p in created if p.state == "failed"),
        "cancelled": sum(1 for p in created if p.state == "cancelled"),
        "not_placed": n - len(created),
        "click_to_door_mean_min": _mean(c2d), "click_to_door_p50_min": _pct(c2d, 50),
        "click_to_door_p90_min": _pct(c2d, 90),
        "on_time_share": _share(sum(1 for x in late if x <= 0), len(done)),
        "lateness_mean_min": _mean([max(0.0, x) for x in late]),
        "ready_to_pickup_mean_min": _mean(wait),
        "orders_per_rider_hour": _share(len(done), run.rider_hours),
        "km_per_order": _share(run.stats.totals["odometer_m"] / 1000, len(done)),
        "rider_utilisation": _share(run.stats.totals["busy_s"], run.rider_hours * 3600),
        "assignment_latency_p50_s": _pct(offered, 50),
        "assignment_latency_p99_s": _pct(offered, 99),
        "orders_per_min": _share(n, run.placement_wall_s / 60),
        "_c2d": c2d, "_latency": offered,
    }


def load_figures(run: RunRecord) -> dict[str, Any]:
    """What the stream carried, from both ends."""
    grown = scrape.delta(run.metrics_after, run.metrics_before)
    accepted = scrape.total(grown, "dispatch_fixes_total", result="accepted")
    counts = run.stats.counts
    return {
        "fixes_per_s": accepted / run.wall_s if run.wall_s else math.nan,
        "fixes_acked_per_s_client": counts["fixes_acked"] / run.wall_s if run.wall_s else 0.0,
        "fixes_recorded": counts["fixes_recorded"], "fixes_acked": counts["fixes_acked"],
        "protocol_errors": run.stats.protocol_errors,
        "error_frames": dict(run.stats.errors), "unexpected_closes": dict(run.stats.closes),
        "riders_connected_peak": max((s["connected"] for s in run.timeline), default=0),
        "stream": dict(counts),
    }


def build(run: RunRecord) -> dict[str, Any]:
    """The whole report (JSON-ready except NaN, which `clean` turns into None)."""
    figures = order_figures(run)
    service = {"after": run.metrics_after, "grown": scrape.delta(run.metrics_after,
                                                                 run.metrics_before)}
    return {
        "policy": "service", "mode": "live", "speed": run.speed, "riders": run.riders,
        "rider_hours_sim": run.rider_hours, "wall_s": run.wall_s,
        "placement_wall_s": run.placement_wall_s,
        **{k: v for k, v in figures.items() if not k.startswith("_")},
        **load_figures(run),
        "lost": run.reconciliation.get("lost"),
        "counts_match": run.reconciliation.get("match"),
        "reconciliation": run.reconciliation,
        "timeline": run.timeline,
        "distributions": {"click_to_door_min": figures["_c2d"],
                          "assignment_latency_s": figures["_latency"]},
        "service_metrics": service,
        **run.extra,
    }


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, floats are rounded, containers recurse."""
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures: the command's last output line."""
    return {key: report.get(key) for key in SUMMARY_KEYS}
