"""Lock manager: file locks at three granularities — path, doc_id, registry.

Global acquisition order (the one rule that makes deadlock impossible): **path locks, then
doc_id locks, then the registry lock**, and inside one granularity by key.  ``acquire()``
sorts what it is given into that order; code that already holds locks may only take locks
that come later in the order (e.g. the pipeline holds path locks and then asks the writer,
which takes the registry lock).  Taking an earlier one while holding a later one raises
:class:`LockOrderError` at once instead of deadlocking later.  Re-taking a lock the thread
already holds is always allowed (locks are re-entrant per thread).

Lock files live in ``<state dir>/locks/`` named by granularity and a hash of the key.  They
are never deleted by regauto: removing a lock file while another process waits on it would let
two holders exist at once (filelock issue #574).  Someone else may delete them (a cleanup of
the state dir), so after ``flock`` succeeds the holder checks that the file it locked is still
the one the path names (``fstat`` against ``stat``) and starts again on the new file if not.
A holder killed with SIGKILL releases its flock with its file descriptor, so the next process
gets the lock at once.

The lock itself is ``flock(2)`` on that file, taken directly on POSIX: it is exactly what
``filelock.UnixFileLock`` does (so the two interoperate), but importing filelock 4.x costs
12–25 ms, a tenth of the commit hook's whole budget, and the hook takes a dozen locks.  Other
platforms use ``filelock.FileLock`` (``preserve_lock_file=True``: no soft-lock fallback, whose
marker files are deleted on release and outlive a SIGKILLed holder).  Each thread opens its
own descriptor, so threads of one process exclude each other as processes do; a forked child
closes its inherited copies (see ``_after_fork``) — they would otherwise share the parent's
lock, and unlocking one would release it.

Holds are tracked per thread and per process, not per ``LockManager``: two managers of one
state dir in one process (say the pipeline's and the writer's) share the lock objects, so a
thread that already holds the registry lock re-enters it instead of waiting on itself until
the timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from regauto.errors import LockTimeout

PATH = "path"
DOC_ID = "doc_id"
REGISTRY = "registry"
ORDER = {PATH: 0, DOC_ID: 1, REGISTRY: 2}
DEFAULT_TIMEOUT_S = 30.0
# A contended lock is polled with a non-blocking flock (a blocking one cannot time out);
# filelock's 50 ms default would add that much latency to every hand-over of the registry
# lock, which changes hands once per write.
POLL_INTERVAL_S = 0.005

LockKey = tuple[str, str]


class LockOrderError(RuntimeError):
    """A lock was requested out of the global order while later locks are held."""


class _FileLock(Protocol):
    def acquire(self, timeout: float) -> bool: ...
    def release(self) -> None: ...


class _Flock:
    """An exclusive ``flock`` on one file, held through this object's own descriptor."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        import fcntl

        deadline = time.monotonic() + timeout
        fd = self._open()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(POLL_INTERVAL_S)
                continue
            except BaseException:
                os.close(fd)
                raise
            if self._still_at_path(fd):
                self.fd = fd
                return True
            # The file was deleted (or replaced) while we waited: our lock is on an inode
            # nobody else will ever open.  Start again on the file the path names now.
            os.close(fd)
            fd = self._open()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:  # the whole locks/ folder was deleted
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _still_at_path(self, fd: int) -> bool:
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)

    def release(self) -> None:
        import fcntl

        fd, self.fd = self.fd, None
        if fd is not None:
            # Unlocked explicitly: a child that still has a copy of the descriptor (forked
            # while the lock was held) would otherwise keep the lock alive.
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def forget(self) -> None:
        """In a forked child: close the inherited copy *without* unlocking, which would
        release the parent's lock (the two descriptors share one open file)."""
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)


class _PortableLock:
    """Where there is no ``fcntl``: filelock's platform lock."""

    def __init__(self, path: str) -> None:
        import filelock

        self._timeout = filelock.Timeout
        # is_singleton: one object per file in this process, so another manager gets the
        # same owner; thread_local (the default) keeps each thread's holds apart.
        self._lock = filelock.FileLock(
            path, is_singleton=True, preserve_lock_file=True, poll_interval=POLL_INTERVAL_S
        )

    def acquire(self, timeout: float) -> bool:
        try:
            self._lock.acquire(timeout=timeout)
        except self._timeout:
            return False
        return True

    def release(self) -> None:
        self._lock.release()


def _new_lock(path: str) -> _FileLock:
    return _PortableLock(path) if sys.platform == "win32" else _Flock(path)


@dataclass
class _Hold:
    """One lock this thread holds: the lock object and how many times it entered it."""

    key: LockKey
    directory: Path
    lock: _FileLock
    count: int = 0


_thread = threading.local()
# Every live thread's holds, by thread ident (a dead thread's ident is reused, which bounds
# this), so that a forked child can close the descriptors it inherited: see _after_fork.
_all_holds: dict[int, dict[str, _Hold]] = {}


def _holds() -> dict[str, _Hold]:
    """This thread's holds, keyed by lock file path."""
    holds: dict[str, _Hold] | None = getattr(_thread, "holds", None)
    if holds is None:
        holds = _thread.holds = {}
        _all_holds[threading.get_ident()] = holds
    return holds


def _after_fork() -> None:
    """A forked child holds none of its parent's locks (a worker of the pipeline's pool must
    never release, or think it re-enters, a lock its parent holds)."""
    for holds in list(_all_holds.values()):
        for hold in holds.values():
            if isinstance(hold.lock, _Flock):
                hold.lock.forget()
        holds.clear()
    _all_holds.clear()
    _thread.__dict__.pop("holds", None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


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
            hold = _Hold(key=k, directory=self.dir, lock=_new_lock(str(path)))
        if hold.count == 0 and not hold.lock.acquire(timeout):
            raise LockTimeout(
                f"timed out after {timeout:g}s waiting for the {k[0]} lock {k[1]!r}"
                f" ({path}); another regauto process or thread holds it"
            )
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
