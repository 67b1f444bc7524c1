"""Processes that do not outlive their parent.

`die_with_parent()` gives a `preexec_fn` for `subprocess.Popen` (or
`asyncio.create_subprocess_exec`) that has the kernel send the child SIGTERM when
the thread that started it dies, SIGKILL included. `exit_with_parent()` asks the same
for the calling process itself, for a process whose parent cannot pass such a hook
(`dispatch serve --exit-with-parent`). Linux only (prctl PR_SET_PDEATHSIG); elsewhere a
killed parent leaves its child running. Start such children from a thread that lives as
long as they should (the main thread, or an event loop's).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library through the process's own symbols (no `ldconfig` run, opened once)."""
    return ctypes.CDLL(None, use_errno=True)


def _arm(prctl: Callable[[int, int], int], parent: int) -> bool:
    """Have the kernel send SIGTERM at the parent thread's death; whether `parent` is still
    the parent. (A parent that died before the call is never signalled for: the process
    was re-parented, and only the pid comparison tells.)"""
    prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    return os.getppid() == parent


def die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook making the child receive SIGTERM when its parent thread dies.

    libc is opened here, in the parent, so the hook the forked child runs only makes
    two system calls and takes no lock another thread could hold.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = _libc().prctl
    parent = os.getpid()

    def hook() -> None:
        if not _arm(prctl, parent):
            os._exit(1)

    return hook


def exit_with_parent(expected_parent_pid: int) -> None:
    """Have this process sent SIGTERM when its parent thread dies; exit now (SystemExit 1)
    if the parent, `expected_parent_pid` as read at start-up, is already gone.

    Call it before starting anything that must be cleaned up, with the parent's pid read
    as early as possible: a parent that dies before that read is not noticed.
    """
    if not sys.platform.startswith("linux"):
        logger.warning("exit-with-parent is Linux only: this process will outlive a killed "
                       "parent", extra={"platform": sys.platform})
        return
    if not _arm(_libc().prctl, expected_parent_pid):
        logger.error("the parent process is gone already: exiting",
                     extra={"expected_parent_pid": expected_parent_pid,
                            "parent_pid": os.getppid()})
        raise SystemExit(1)
    logger.info("will exit with the parent process", extra={"parent_pid": expected_parent_pid})
