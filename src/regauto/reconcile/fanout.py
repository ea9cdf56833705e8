"""A second core for the two long loops of a cold check.

A check with no caches (a fresh clone, CI) of a 100k-document repository parses and
re-encodes every registry line (~80 MB) and reads ~75k file heads for their header
claims: a second or more each, all of it pure and easy to split.  ``Helper`` hands half
of such a loop to one worker process while the caller does the other half, then takes
the worker's answer.

A helper is only an optimisation: a small loop, one core, a platform without a safe
``fork`` (a spawned worker would spend what it saves on imports), a process with threads,
a worker that cannot start or fails in any way — then the caller does those items itself,
with the same code the worker runs, so the answer is the same either way.  The worker's
function is a module-level function of picklable arguments, and its answer is ``bytes``
(``marshal``): pickling 50k small dicts back would cost more than the work it saves.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from regauto import worker_lifetime

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on every platform
        return os.cpu_count() or 1


class Helper(Generic[T]):
    """``with Helper(fn, make_args, items, worth_it=…) as h:`` — ``h.mine`` are the items
    the caller does (the first half, or with ``interleave`` every other one), ``h.theirs``
    the ones ``fn(*make_args(h.theirs))`` does in a worker; ``h.answer()`` waits for it
    (None: do them yourself).  ``worth_it``: the caller's judgement that the loop is long
    enough to pay for a worker (~30 ms to start).  ``share``: the worker's part of the
    items, more than half when the caller has other work besides.  Leaving the block ends
    the worker."""

    def __init__(self, fn: Callable[..., bytes],
                 make_args: Callable[[Sequence[T]], tuple[Any, ...]], items: Sequence[T],
                 *, worth_it: bool, interleave: bool = False, share: float = 0.5) -> None:
        self.mine: Sequence[T] = items
        self.theirs: Sequence[T] = ()
        self._pool: Any = None
        self._future: Future[bytes] | None = None
        if not worth_it or len(items) < 2 or cores() < 2 or sys.platform != "linux":
            return
        if threading.active_count() > 1:
            return  # forking a threaded process (the watcher) may deadlock the worker
        mine: Sequence[T]
        theirs: Sequence[T]
        keep = 1 - share  # the caller's part
        if interleave:  # spread evenly: neighbours tend to cost alike (same folder)
            # Item i is the caller's when the running count of its part steps up.
            ours = [int((i + 1) * keep + 0.5) > int(i * keep + 0.5) for i in range(len(items))]
            mine = [x for x, o in zip(items, ours, strict=True) if o]
            theirs = [x for x, o in zip(items, ours, strict=True) if not o]
        else:  # the caller needs its answers in order: the worker takes the rest
            cut = int(len(items) * keep)
            mine, theirs = items[:cut], items[cut:]
        try:
            # Imported here: ~12 ms that small checks (and the hooks) never pay.
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # Fork, whatever the default: the worker starts in ~15 ms with every module
            # it needs already imported.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("fork"),
                initializer=worker_lifetime.die_with_parent, initargs=(os.getpid(),))
            self._future = self._pool.submit(fn, *make_args(theirs))
        except (OSError, RuntimeError, ImportError):
            self._close()
            return
        self.mine, self.theirs = mine, theirs

    def answer(self) -> bytes | None:
        """The worker's answer (waited for), or None when there is none to use."""
        if self._future is None:
            return None
        try:
            return self._future.result()
        except Exception:  # a broken worker, an error in it: the caller does its items
            return None
        finally:
            self._future = None

    def _close(self) -> None:
        if self._future is not None:
            self._future.cancel()
            self._future = None
        if self._pool is not None:
            # Waits for a running worker (at most its half of the loop): leaving it behind
            # would leave the pool's thread running in a process that may fork again.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Helper[T]:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()
