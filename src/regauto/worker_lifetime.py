"""Worker processes die with the process that started them.

A pool's workers wait on a pipe for their next task.  When the regauto process that owns
the pool is killed (SIGKILL, or SIGTERM, whose default action skips every ``finally``),
nobody closes that pipe in a way they notice, and they wait forever — dozens piled up on
one machine.  So every worker, first thing, asks Linux to send it SIGKILL when its parent
dies (``prctl(PR_SET_PDEATHSIG)``), then checks that the parent has not died already (the
request does not cover a death before it).  Elsewhere this is a no-op.

``prctl`` needs ``ctypes``, imported in the worker only: a run that never forks (the
commit hook) does not pay for it.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def initializer(then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A pool ``initializer`` that ties each worker's life to this process, then runs
    ``then``.  Call it in the process that creates the pool."""
    import multiprocessing

    # Under "forkserver" a worker's parent is the server, not us (it exits when we do).
    direct = multiprocessing.get_start_method(allow_none=False) in ("fork", "spawn")
    return functools.partial(_init, os.getpid() if direct else None, then)


def _init(parent: int | None, then: Callable[[], None] | None) -> None:
    die_with_parent(parent)
    if then is not None:
        then()


def die_with_parent(parent: int | None) -> None:
    """Have the kernel SIGKILL this process when its parent dies; exit now if ``parent``
    (the pid that should be our parent) is already gone."""
    if sys.platform != "linux":
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)
