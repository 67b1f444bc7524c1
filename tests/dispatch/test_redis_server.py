"""The embedded redis-server: it comes up, answers, and never outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dispatch.redis_server import EmbeddedRedis, _answers_ping

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the parent-death signal is Linux only")

_PARENT = """
import sys, time
from dispatch.redis_server import EmbeddedRedis
server = EmbeddedRedis().start()
print(server.pid, server.socket_path, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still has a pid: read its state.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_parent_killed_with_sigkill_takes_its_redis_server_with_it() -> None:
    with subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parents[2]) as parent:
        assert parent.stdout is not None
        pid_text, socket_path = parent.stdout.readline().split()
        child = int(pid_text)
        try:
            assert _alive(child) and _answers_ping(socket_path)
            parent.send_signal(signal.SIGKILL)
            parent.wait()
            assert _gone_within(child, 10), f"redis-server {child} outlived its killed parent"
        finally:
            if _alive(child):
                os.kill(child, signal.SIGKILL)


def test_spawn_then_wait_serves_and_stop_ends_the_child() -> None:
    server = EmbeddedRedis().spawn()
    try:
        server.wait_until_ready()
        pid = server.pid
        assert _answers_ping(server.socket_path)
    finally:
        server.stop()
    assert _gone_within(pid, 5)
