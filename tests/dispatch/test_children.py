"""`exit_with_parent`: the calling process is signalled at its parent's death, and exits at
once when the parent it was started by is gone already."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the parent-death signal is Linux only")

ROOT = Path(__file__).resolve().parents[2]

# Arms the signal for the parent given on the command line, then prints the signal the
# kernel holds for this process (prctl PR_GET_PDEATHSIG). Run as a child of the test, never
# in the test process: the signal would stay armed on pytest itself.
_ARM = """
import ctypes, sys
from dispatch.children import exit_with_parent
from dispatch.logs import configure_logging
configure_logging("INFO", "text")
exit_with_parent(int(sys.argv[1]))
armed = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(armed))
print(armed.value, flush=True)
"""


def _arm_in_child(expected_parent: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _ARM, str(expected_parent)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_with_its_parent_alive_the_process_goes_on_with_sigterm_armed() -> None:
    result = _arm_in_child(os.getpid())

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(int(signal.SIGTERM))]


def test_a_parent_gone_before_the_signal_was_armed_makes_the_process_exit_at_once() -> None:
    # A pid that was a process and is none now: the parent seen at start-up, since died.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    result = _arm_in_child(gone.pid)

    assert result.returncode == 1
    assert result.stdout == ""  # it never got past the call
    assert "the parent process is gone already" in result.stderr
