"""Lock manager: ``filelock`` locks at three granularities — path, doc_id, registry.

Global acquisition order (the one rule that makes deadlock impossible): **path locks, then
doc_id locks, then the registry lock**, and inside one granularity by key.  ``acquire()``
sorts what it is given into that order; code that already holds locks may only take locks
that come later in the order (e.g. the pipeline holds path locks and then asks the writer,
which takes the registry lock).  Taking an earlier one while holding a later one raises.

Lock files live in ``<state dir>/locks/`` named by granularity and a hash of the key.  They
are never deleted: removing a lock file while another process waits on it lets two holders
exist at once (filelock issue #574).  A holder killed with SIGKILL releases its flock with
its file descriptor, so the next process gets the lock at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

import filelock

from regauto.errors import LockTimeout

PATH = "path"
DOC_ID = "doc_id"
REGISTRY = "registry"
ORDER = {PATH: 0, DOC_ID: 1, REGISTRY: 2}
DEFAULT_TIMEOUT_S = 30.0

LockKey = tuple[str, str]


class LockOrderError(RuntimeError):
    """A lock was requested out of the global order while later locks are held."""


class LockManager:
    """Hands out the locks of one state dir.  One instance per process is enough."""

    def __init__(self, state_dir: Path, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.dir = state_dir / "locks"
        self.timeout = timeout
        # One FileLock object per key: flock is per open file, so two objects for one file
        # in one process would block each other; one object is re-entrant.
        self._locks: dict[LockKey, filelock.BaseFileLock] = {}
        self._held: dict[LockKey, int] = {}
        self._guard = threading.Lock()

    def lock_file(self, granularity: str, key: str) -> Path:
        if granularity not in ORDER:
            raise ValueError(f"unknown lock granularity {granularity!r}")
        digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        return self.dir / f"{granularity}-{digest}.lock"

    def _lock(self, k: LockKey) -> filelock.BaseFileLock:
        with self._guard:
            lock = self._locks.get(k)
            if lock is None:
                self.dir.mkdir(parents=True, exist_ok=True)
                lock = filelock.FileLock(str(self.lock_file(*k)))
                self._locks[k] = lock
            return lock

    @contextlib.contextmanager
    def acquire(self, *keys: LockKey, timeout: float | None = None) -> Iterator[None]:
        """Take every lock in ``keys`` in the global order; release in reverse."""
        wanted = sorted(set(keys), key=lambda k: (ORDER[k[0]], k[1]))
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

    def paths(self, *paths: str, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        return self.acquire(*((PATH, p) for p in paths), timeout=timeout)

    def doc_ids(self, *ids: str, timeout: float | None = None) -> contextlib.AbstractContextManager[None]:
        return self.acquire(*((DOC_ID, i) for i in ids), timeout=timeout)

    def _check_order(self, wanted: list[LockKey]) -> None:
        held = [k for k, n in self._held.items() if n > 0]
        if not held or not wanted:
            return
        top = max(held, key=lambda k: (ORDER[k[0]], k[1]))
        for k in wanted:
            if k in self._held and self._held[k] > 0:
                continue  # re-entrant
            if (ORDER[k[0]], k[1]) < (ORDER[top[0]], top[1]) and ORDER[k[0]] <= ORDER[top[0]]:
                if ORDER[k[0]] < ORDER[top[0]] or k[1] < top[1]:
                    raise LockOrderError(
                        f"lock {k[0]}:{k[1]} requested while holding {top[0]}:{top[1]}"
                    )

    def _take(self, k: LockKey, timeout: float) -> None:
        lock = self._lock(k)
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise LockTimeout(
                f"timed out after {timeout:g}s waiting for the {k[0]} lock {k[1]!r}"
                f" ({self.lock_file(*k)}); another regauto process holds it"
            ) from None
        self._held[k] = self._held.get(k, 0) + 1

    def _release(self, k: LockKey) -> None:
        self._held[k] -= 1
        self._lock(k).release()
