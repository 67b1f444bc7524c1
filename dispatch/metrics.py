"""Prometheus metrics of one service process, in a registry of its own (one per app)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ACK_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """The service's metrics: connected riders, fixes by outcome, ack latency, stream errors."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.riders_connected = Gauge(
            "dispatch_riders_connected", "Rider websocket connections open on this process",
            registry=self.registry,
        )
        self.fixes = Counter(
            "dispatch_fixes", "Location fixes received, by result (accepted or the reject reason)",
            ["result"], registry=self.registry,
        )
        self.ack_latency = Histogram(
            "dispatch_fix_ack_seconds", "Time from receiving a fix frame to sending its ack",
            buckets=ACK_BUCKETS, registry=self.registry,
        )
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
