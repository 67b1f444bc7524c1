"""The service's own metrics, read from its Prometheus `/metrics` page, and the CPU
time the simulator and (when it runs on this machine) the service have used."""

from __future__ import annotations

import math
import re
import time

import psutil

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
KEEP_PREFIX = "dispatch_"
SKIP_SUFFIXES = ("_bucket", "_created")


def parse(text: str) -> dict[str, float]:
    """`name{labels}` -> value for the service's own samples (no histogram buckets)."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match is None or line.startswith("#"):
            continue
        name, labels, value = match.groups()
        if not name.startswith(KEEP_PREFIX) or name.endswith(SKIP_SUFFIXES):
            continue
        number = float(value)
        if math.isfinite(number):
            samples[name + (labels or "")] = number
    return samples


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    found = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            found += value
    return found


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    """Counters' growth over the run (samples ending in `_total` or `_count`/`_sum`)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()
            if key.partition("{")[0].endswith(("_total", "_count", "_sum"))}


def cpu_seconds(service_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far by this process, the service and the service's children
    (its embedded redis-server)."""
    used = {"simulator": time.process_time()}
    if service_pid is None:
        return used
    try:
        service = psutil.Process(service_pid)
        own = service.cpu_times()
        used["service"] = own.user + own.system
        used["service_children"] = sum(
            sum(child.cpu_times()[:2]) for child in service.children(recursive=True))
    except psutil.Error:
        pass
    return used
