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
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook making the child receive SIGTERM when its parent thread dies.

    libc is loaded here, in the parent, so the hook the forked child runs only makes
    two system calls and takes no lock another thread could hold.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    parent = os.getpid()

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return hook
