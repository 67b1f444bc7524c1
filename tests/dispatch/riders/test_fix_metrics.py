"""The rider stream's fix metrics, counted in plain numbers, scrape like prometheus_client's own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from dispatch.metrics import ACK_BUCKETS, Metrics

LATENCIES = [0.0001, 0.0005, 0.001, 0.0031, 0.02, 0.7, 3.0]  # on, between and past bounds


def samples(text: bytes, prefix: str) -> list[str]:
    return [line for line in text.decode().splitlines()
            if line.startswith(prefix) and "_created" not in line]


def test_fix_counts_and_ack_latency_scrape_like_prometheus_client_metrics() -> None:
    ours = Metrics()
    reference = CollectorRegistry()
    fixes = Counter("dispatch_fixes", "", ["result"], registry=reference)
    ack = Histogram("dispatch_fix_ack_seconds", "", buckets=ACK_BUCKETS, registry=reference)
    for i, latency in enumerate(LATENCIES):
        ours.fixes.acked(i + 1, latency)
        fixes.labels("accepted").inc(i + 1)
        ack.observe(latency)
    ours.fixes.count("rejected_lat")
    fixes.labels("rejected_lat").inc()
    ours.fixes.count("store_unavailable", 5)
    fixes.labels("store_unavailable").inc(5)

    got, want = generate_latest(ours.registry), generate_latest(reference)
    for prefix in ("dispatch_fixes_total", "dispatch_fix_ack_seconds"):
        assert sorted(samples(got, prefix)) == sorted(samples(want, prefix))
