"""Helpers shared by the benchmarks: CPU pinning, percentiles, a service subprocess, output."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dispatch.children import die_with_parent


def pin_to_core(core: int) -> None:
    """Run this process on one core (best effort; noted in the output)."""
    with contextlib.suppress(AttributeError, OSError):
        if os.cpu_count() and os.cpu_count() > core:  # type: ignore[operator]
            os.sched_setaffinity(0, {core})


def raise_fd_limit() -> int:
    """Raise the open-file limit to the hard limit; return it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of values, NaN when empty."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def service_process(env: dict[str, str], *, core: int | None = 0) -> Iterator[tuple[int, int]]:
    """Run `dispatch serve` in a subprocess (pinned to `core`); yield (port, pid)."""
    port = free_port()
    full_env = {**os.environ, "DISPATCH_LOG_LEVEL": "WARNING", **env}
    cmd = [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(port)]
    if core is not None:
        cmd = ["taskset", "-c", str(core), *cmd]
    proc = subprocess.Popen(cmd, env=full_env, preexec_fn=die_with_parent())  # noqa: PLW1509
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/readyz", timeout=1
            ) as response:
                if response.status == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(f"service exited with {proc.returncode}")
            time.sleep(0.1)
        else:
            raise RuntimeError("service did not become ready in 30 s")
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_kb(pid: int) -> int:
    """Resident set size of a process in KiB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue_wait_seconds(pid: int) -> float:
    """Seconds a process has spent runnable but waiting for a CPU (0.0 where not reported).

    On a shared machine this says how much of a phase's wall time the process lost to
    other work, which its CPU figure alone does not tell.
    """
    try:
        with open(f"/proc/{pid}/schedstat", encoding="ascii") as schedstat:
            return int(schedstat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def emit(figures: dict[str, Any]) -> None:
    """Print the figures as the last line: one JSON object."""
    print(json.dumps(figures, sort_keys=True), flush=True)
