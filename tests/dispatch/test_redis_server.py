"""The embedded redis-server: it comes up, answers, and never outlives its parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.redis_server import EmbeddedRedis, _answers_ping
from tests.support.processes import alive, gone_within

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the parent-death signal is Linux only")

_PARENT = """
import sys, time
from dispatch.redis_server import EmbeddedRedis
server = EmbeddedRedis().start()
print(server.pid, server.socket_path, flush=True)
time.sleep(120)
"""


def test_a_parent_killed_with_sigkill_takes_its_redis_server_with_it() -> None:
    with subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parents[2]) as parent:
        assert parent.stdout is not None
        pid_text, socket_path = parent.stdout.readline().split()
        child = int(pid_text)
        try:
            assert alive(child) and _answers_ping(socket_path)
            parent.send_signal(signal.SIGKILL)
            parent.wait()
            assert gone_within(child, 10), f"redis-server {child} outlived its killed parent"
        finally:
            if alive(child):
                os.kill(child, signal.SIGKILL)


def test_spawn_then_wait_serves_and_stop_ends_the_child() -> None:
    server = EmbeddedRedis().spawn()
    try:
        server.wait_until_ready()
        pid = server.pid
        assert _answers_ping(server.socket_path)
    finally:
        server.stop()
    assert gone_within(pid, 5)
