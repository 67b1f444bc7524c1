"""Prometheus metrics of one service process, in a registry of its own (one per app)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import (
    GC_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

ACK_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
SOLVE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
COUNT_BUCKETS = (0, 1, 5, 10, 50, 100, 500, 1000, 5000, 20_000, 100_000)


class Metrics:
    """The service's metrics: riders, fixes, ack latency, stream errors, and batches; and
    the process's own (`process_*`: CPU, memory, file descriptors; `python_gc_*`: garbage
    collections by generation, whose full passes stall the event loop)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # The standard collectors read process-wide state, so every app's registry may
        # share them.
        self.registry.register(PROCESS_COLLECTOR)
        self.registry.register(GC_COLLECTOR)
        self.riders_connected = Gauge(
            "dispatch_riders_connected", "Rider websocket connections open on this process",
            registry=self.registry,
        )
        self.fixes = FixStats()
        self.registry.register(self.fixes)
        self.stream_errors = Counter(
            "dispatch_stream_errors", "Error frames sent on the rider stream, by code",
            ["code"], registry=self.registry,
        )
        self.stream_closes = Counter(
            "dispatch_stream_closes", "Rider connections closed by the server, by close code",
            ["code"], registry=self.registry,
        )
        self.evicted = Counter(
            "dispatch_riders_evicted", "Riders removed from the index for not reporting",
            registry=self.registry,
        )
        self.batch = BatchMetrics(self.registry)


class FixStats(Collector):
    """`dispatch_fixes_total{result}` and `dispatch_fix_ack_seconds`, counted in plain numbers.

    Every fix frame updates these, and a prometheus_client call costs about as much as
    the rest of a fix's handling (locks, label lookup); so they are plain attributes,
    turned into metric families only when the registry is scraped.
    """

    def __init__(self) -> None:
        self.results: dict[str, int] = {}
        self.ack_buckets = [0] * (len(ACK_BUCKETS) + 1)  # the last one is +Inf
        self.ack_sum = 0.0

    def count(self, result: str, n: int = 1) -> None:
        """Count `n` fixes with `result` (accepted, store_unavailable, rejected_<field>)."""
        self.results[result] = self.results.get(result, 0) + n

    def acked(self, n: int, latency_s: float) -> None:
        """`n` fixes accepted by one frame, acknowledged `latency_s` after it arrived."""
        results = self.results
        results["accepted"] = results.get("accepted", 0) + n
        self.ack_buckets[bisect_left(ACK_BUCKETS, latency_s)] += 1
        self.ack_sum += latency_s

    def collect(self) -> Iterator[Metric]:
        """The two metric families, for the registry."""
        fixes = CounterMetricFamily(
            "dispatch_fixes", "Location fixes received, by result (accepted or the reject "
            "reason)", labels=["result"])
        for result, n in sorted(self.results.items()):
            fixes.add_metric([result], n)
        yield fixes
        cumulative, total = [], 0
        for bound, n in zip((*map(repr, ACK_BUCKETS), "+Inf"), self.ack_buckets, strict=True):
            total += n
            cumulative.append((bound, total))
        yield HistogramMetricFamily(
            "dispatch_fix_ack_seconds", "Time from receiving a fix frame to sending its ack",
            buckets=cumulative, sum_value=self.ack_sum)


class BatchMetrics:
    """Per-batch figures of the optimizer loops this process runs, labelled by region."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def sizes(name: str, what: str) -> Histogram:
            return Histogram(f"dispatch_batch_{name}", what, ["region"],
                             buckets=COUNT_BUCKETS, registry=registry)

        self.batches = Counter(
            "dispatch_batches", "Batches run, by region and result (committed, empty, "
            "stale_fence, failed, crashed)", ["region", "result"], registry=registry)
        self.orders = sizes("orders", "Pending orders read by a batch")
        self.riders = sizes("riders", "Candidate riders given to a batch's solve")
        self.candidates = sizes("candidates", "Order-rider candidate edges of a batch")
        self.solve_seconds = Histogram(
            "dispatch_batch_solve_seconds", "Wall time of a batch's solve", ["region"],
            buckets=SOLVE_BUCKETS, registry=registry)
        self.batch_seconds = Histogram(
            "dispatch_batch_seconds", "Wall time of a whole batch, commit and push included",
            ["region"], buckets=SOLVE_BUCKETS, registry=registry)
        self.plan_cost = Gauge(
            "dispatch_batch_plan_cost", "Objective value of the region's latest plan",
            ["region"], registry=registry)
        self.offers = Counter(
            "dispatch_offers", "Offers by outcome: made, accepted, rejected, expired, released "
            "(rider went away), withdrawn (order cancelled)", ["region", "outcome"],
            registry=registry)
        self.has_lease = Gauge(
            "dispatch_optimizer_lease", "1 while this process holds the region's lease",
            ["region"], registry=registry)
