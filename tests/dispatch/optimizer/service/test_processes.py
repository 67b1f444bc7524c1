"""The crash tests' child processes never outlive a test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.dispatch.optimizer.service.processes import reap_children, spawn_command

pytestmark = pytest.mark.asyncio


async def test_a_child_left_running_is_reaped_and_one_that_ended_is_not(tmp_path: Path) -> None:
    env = dict(os.environ)
    ended = await spawn_command([sys.executable, "-c", "pass"], env, tmp_path / "ended.log")
    await ended.wait()
    running = await spawn_command([sys.executable, "-c", "import time; time.sleep(120)"], env,
                                  tmp_path / "running.log")
    assert await reap_children() == [running.pid]
    assert running.returncode is not None
    assert await reap_children() == []
