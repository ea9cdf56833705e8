"""Lock manager: ``filelock`` locks at three granularities — path, doc_id, registry.

Global acquisition order (the one rule that makes deadlock impossible): **path locks, then
doc_id locks, then the registry lock**, and inside one granularity by key.  ``acquire()``
sorts what it is given into that order; code that already holds locks may only take locks
that come later in the order (e.g. the pipeline holds path locks and then asks the writer,
which takes the registry lock).  Taking an earlier one while holding a later one raises
:class:`LockOrderError` at once instead of deadlocking later.  Re-taking a lock the thread
already holds is always allowed (locks are re-entrant per thread).

Lock files live in ``<state dir>/locks/`` named by granularity and a hash of the key.  They
are never deleted: removing a lock file while another process waits on it lets two holders
exist at once (filelock issue #574).  ``preserve_lock_file=True`` makes filelock promise the
same, and refuses its soft-lock fallback (whose marker files are deleted on release and
outlive a SIGKILLed holder).  A holder killed with SIGKILL releases its flock with its file
descriptor, so the next process gets the lock at once.

Holds are tracked per thread and per process, not per ``LockManager``: two managers of one
state dir in one process (say the pipeline's and the writer's) share the lock objects, so a
thread that already holds the registry lock re-enters it instead of waiting on itself until
the timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import filelock

from regauto.errors import LockTimeout

PATH = "path"
DOC_ID = "doc_id"
REGISTRY = "registry"
ORDER = {PATH: 0, DOC_ID: 1, REGISTRY: 2}
DEFAULT_TIMEOUT_S = 30.0
# filelock polls a non-blocking flock; its 50 ms default adds that much latency to every
# hand-over of a contended lock (the registry lock is handed over once per write).
POLL_INTERVAL_S = 0.005

LockKey = tuple[str, str]


class LockOrderError(RuntimeError):
    """A lock was requested out of the global order while later locks are held."""


@dataclass
class _Hold:
    """One lock this thread holds: the filelock object and how many times it entered it."""

    key: LockKey
    directory: Path
    lock: filelock.BaseFileLock
    count: int = 0


_thread = threading.local()


def _holds() -> dict[str, _Hold]:
    """This thread's holds, keyed by lock file path."""
    holds: dict[str, _Hold] | None = getattr(_thread, "holds", None)
    if holds is None:
        holds = _thread.holds = {}
    return holds


def _rank(k: LockKey) -> tuple[int, str]:
    return (ORDER[k[0]], k[1])


class LockManager:
    """Hands out the locks of one state dir; any number of instances may coexist."""

    def __init__(self, state_dir: Path, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.dir = state_dir / "locks"
        self.timeout = timeout

    def lock_file(self, granularity: str, key: str) -> Path:
        if granularity not in ORDER:
            raise ValueError(f"unknown lock granularity {granularity!r}")
        digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        return self.dir / f"{granularity}-{digest}.lock"

    @contextlib.contextmanager
    def acquire(self, *keys: LockKey, timeout: float | None = None) -> Iterator[None]:
        """Take every lock in ``keys`` in the global order; release in reverse."""
        for k in keys:
            self.lock_file(*k)  # validates the granularity before anything is taken
        wanted = sorted(set(keys), key=_rank)
        self._check_order(wanted)
        taken: list[LockKey] = []
        try:
            for k in wanted:
                self._take(k, self.timeout if timeout is None else timeout)
                taken.append(k)
            yield
        finally:
            for k in reversed(taken):
                self._release(k)

    def registry(self, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        return self.acquire((REGISTRY, "registry"), timeout=timeout)

    def paths(
        self, *paths: str, timeout: float | None = None
    ) -> contextlib.AbstractContextManager[None]:
        return self.acquire(*((PATH, p) for p in paths), timeout=timeout)

    def doc_ids(
        self, *ids: str, timeout: float | None = None
    ) -> contextlib.AbstractContextManager[None]:
        return self.acquire(*((DOC_ID, i) for i in ids), timeout=timeout)

    def held(self) -> list[LockKey]:
        """The locks of this state dir that the calling thread holds, in acquisition order."""
        return sorted(
            (h.key for h in _holds().values() if h.directory == self.dir and h.count > 0),
            key=_rank,
        )

    def _check_order(self, wanted: list[LockKey]) -> None:
        held = self.held()
        if not held:
            return
        top = held[-1]
        for k in wanted:
            if k in held:
                continue  # re-entrant
            if _rank(k) < _rank(top):
                raise LockOrderError(
                    f"lock {k[0]}:{k[1]} requested while holding {top[0]}:{top[1]};"
                    " locks must be taken path → doc_id → registry, each by key"
                )

    def _take(self, k: LockKey, timeout: float) -> None:
        path = self.lock_file(*k)
        holds = _holds()
        hold = holds.get(str(path))
        if hold is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            # is_singleton: one object per file in this process, so another thread or
            # another manager gets the same flock owner; thread_local (the default) keeps
            # each thread's holds apart, so threads still exclude each other.
            lock = filelock.FileLock(
                str(path), is_singleton=True, preserve_lock_file=True,
                poll_interval=POLL_INTERVAL_S,
            )
            hold = _Hold(key=k, directory=self.dir, lock=lock)
        try:
            hold.lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockTimeout(
                f"timed out after {timeout:g}s waiting for the {k[0]} lock {k[1]!r}"
                f" ({path}); another regauto process or thread holds it"
            ) from None
        hold.count += 1
        holds[str(path)] = hold

    def _release(self, k: LockKey) -> None:
        path = str(self.lock_file(*k))
        holds = _holds()
        hold = holds[path]
        hold.count -= 1
        if hold.count == 0:
            # Drop our reference so the process does not keep one lock object per path
            # it ever touched (a long-running watcher sees many paths).
            del holds[path]
        hold.lock.release()
