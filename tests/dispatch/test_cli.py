"""The `dispatch` command line: `--exit-with-parent` decides before the verb starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._support import free_port

ROOT = Path(__file__).resolve().parents[2]

# `dispatch serve --exit-with-parent` as if its parent had died before the imports ended:
# the parent it saw at start-up is replaced by the pid of a process that has exited.
_ORPHANED_SERVE = """
import sys
from dispatch import cli
cli._PARENT_AT_START = int(sys.argv[1])
sys.exit(cli.main(["serve", "--exit-with-parent", "--port", sys.argv[2]]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="the parent-death signal is Linux only")
def test_serve_whose_parent_is_gone_already_exits_without_serving(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    port = free_port()

    result = subprocess.run(
        [sys.executable, "-c", _ORPHANED_SERVE, str(gone.pid), str(port)], cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")},
             "DISPATCH_DATA_DIR": str(tmp_path), "DISPATCH_LOG_FORMAT": "text"})

    assert result.returncode == 1, result.stderr
    assert "the parent process is gone already" in result.stderr
    # Nothing was started: no database file, no server log line.
    assert list(tmp_path.iterdir()) == []
    assert "Uvicorn running" not in result.stderr
