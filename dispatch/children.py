"""Child processes that do not outlive their parent.

`die_with_parent()` gives a `preexec_fn` for `subprocess.Popen` (or
`asyncio.create_subprocess_exec`) that has the kernel send the child SIGTERM when
the thread that started it dies, SIGKILL included. Linux only (prctl
PR_SET_PDEATHSIG); elsewhere it is None and a killed parent leaves its child
running. Start such children from a thread that lives as long as they should
(the main thread, or an event loop's).
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library through the process's own symbols (no `ldconfig` run, opened once)."""
    return ctypes.CDLL(None, use_errno=True)


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
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return hook
