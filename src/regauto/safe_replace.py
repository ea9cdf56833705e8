"""Replacing a user's file without losing a write another process makes meanwhile.

regauto rewrites files it does not own (a header, a reference): read the file, build the
new content, put it in place with a rename.  Anything another process writes between the
read and the rename would go to the old, unlinked inode and be lost without a word.  So
:func:`replace_if_unchanged`, given the bytes the new content was built from:

1. writes the new content to a temp file and ``fdatasync``\\ s it (a crash right after the
   rename must not leave an empty file where the user's was); :meth:`Swaps.replace_many`
   writes a whole batch's temp files first and syncs them together, a few at a time on
   threads, so the file system commits them in one journal transaction instead of one
   each (every temp file is still synced before its own rename);
2. opens the file again and, on Linux, takes a *read lease* on it (``F_SETLEASE``): it is
   granted only while no process has the file open for writing (else regauto waits a few
   milliseconds, then gives up on the file: someone is writing it), and from then on any
   process that opens it for writing (or truncates it) blocks in ``open`` until the lease
   is released — readers (an editor's viewer, git, ``tail -f``) are not disturbed;
3. compares the file as it is now (size, then every byte) with what the new content was
   built from: a difference raises :class:`ChangedError` and nothing is replaced;
4. swaps the temp file in with ``renameat2(RENAME_EXCHANGE)`` where the file system has it
   (the old inode stays linked under the temp name), else with ``rename``;
5. checks the lease again, right away and once more when the batch settles (see
   :class:`Swaps`): if anyone opened the old file for writing since step 2, they will
   write to it once the lease is released, so the exchange is undone (the old file is back
   at its name, untouched by regauto) and the file is reported as changed.

Without a lease (another platform, a file system without leases, a file this user does not
own) the same checks run on ``fstat`` and the content, which narrows the window to the
moments around the rename instead of closing it.

The caller reports :data:`CHANGED` for the file and tries again later: the commit hook
fails once, ``sync`` exits 1, the watcher queues the file again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from regauto.durable import write_all

CHANGED = "changed while regauto was writing it; will retry"

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_LEASE_TRIES = 20  # a writer holding the file open usually closes it within a millisecond
_LEASE_WAIT_S = 0.0005
GRACE_S = 0.005  # an opener preempted inside open() breaks the lease well within this


class ChangedError(Exception):
    """The file changed between regauto's read and its replacement: nothing was replaced."""

    def __init__(self) -> None:
        super().__init__(CHANGED)


class NotRegularError(Exception):
    """The path is no longer a regular file (a symlink, a FIFO, a directory)."""


def replace_if_unchanged(
    full: Path, expected: bytes, new: bytes, mode: int, folder: Path,
    before_replace: Callable[[], None] = lambda: None,
) -> None:
    """Put ``new`` (with permission bits ``mode``) at ``full``, provided the file still
    holds exactly ``expected``; the temp file is made in ``folder`` (same file system).

    Raises :class:`ChangedError` (nothing replaced), :class:`NotRegularError`,
    ``FileNotFoundError`` or another ``OSError`` (``EXDEV``: ``folder`` is on another file
    system); the temp file never outlives the call."""
    swaps = Swaps()
    try:
        swaps.replace_if_unchanged(full, expected, new, mode, folder, before_replace)
    finally:
        undone = swaps.settle()
    if undone:
        raise ChangedError


@dataclass
class _Swap:
    """One replaced file whose old inode is kept open (and leased) until the batch settles."""

    full: Path
    old_fd: int  # the replaced file, still open (and leased)
    tmp: str  # its name now (after an exchange)
    before: os.stat_result  # the replaced file when it was checked
    ours: os.stat_result  # the new file
    leased: bool
    exchanged: bool
    at: float  # time.monotonic() of the swap


class Swaps:
    """Replacements whose old file is kept — open, leased, linked under the temp name —
    until :meth:`settle`.  Another process may have looked the file up just before the
    swap and reach the lease a moment later (preempted inside ``open``): a batch settles
    after its other work, long after any such opener has shown itself on the lease, and
    the swap is then undone for it."""

    def __init__(self) -> None:
        self._open: list[_Swap] = []

    def replace_if_unchanged(
        self, full: Path, expected: bytes, new: bytes, mode: int, folder: Path,
        before_replace: Callable[[], None] = lambda: None,
    ) -> None:
        """As the module's function; a late change shows in :meth:`settle` instead."""
        import tempfile  # here: ~4 ms to import (random, shutil), most runs replace nothing

        tmp_fd, tmp = tempfile.mkstemp(prefix=".regauto-", dir=folder)
        swap = None
        try:
            _write_durably(tmp_fd, new, mode)
            before_replace()
            swap = _swap_checked(full, expected, tmp, tmp_fd)
        finally:
            os.close(tmp_fd)
            if swap is None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        self._open.append(swap)

    def replace_many(self, batch: list[Replacement]) -> dict[Path, Exception]:
        """:meth:`replace_if_unchanged` for each of ``batch``, the temp files written first
        and synced together; returns the files not replaced, each with the exception the
        one-file call would have raised (``EXDEV``: retry that file in another folder)."""
        import tempfile

        failed: dict[Path, Exception] = {}
        temps: list[tuple[Replacement, int, str]] = []
        swapped: set[str] = set()
        try:
            for r in batch:
                try:
                    fd, tmp = tempfile.mkstemp(prefix=".regauto-", dir=r.folder)
                except OSError as e:
                    failed[r.full] = e
                    continue
                temps.append((r, fd, tmp))
                try:
                    _write(fd, r.new, r.mode)
                except OSError as e:
                    failed[r.full] = e
            synced = [(r, fd, tmp) for r, fd, tmp in temps if r.full not in failed]
            errors = _fdatasync_all([fd for _, fd, _ in synced])
            for r, fd, tmp in synced:
                try:
                    if fd in errors:
                        raise errors[fd]
                    self._open.append(_swap_checked(r.full, r.expected, tmp, fd))
                    swapped.add(tmp)
                except (ChangedError, NotRegularError, OSError) as e:
                    failed[r.full] = e
        finally:
            for _, fd, tmp in temps:
                os.close(fd)
                if tmp not in swapped:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
        return failed

    def settle(self) -> list[Path]:
        """Check every swap again and release it; returns the files whose replacement had
        to be undone (left as the other writer made them: report :data:`CHANGED`)."""
        undone = []
        if self._open:  # give the newest swap's late opener, if any, time to show
            time.sleep(max(0.0, self._open[-1].at + GRACE_S - time.monotonic()))
        for swap in self._open:
            try:
                if not _untouched(swap.old_fd, swap.before, swap.leased):
                    if swap.exchanged and _same(os.lstat(swap.full), swap.ours):
                        _exchange(swap.tmp, swap.full)
                    undone.append(swap.full)
            finally:
                os.close(swap.old_fd)  # releases the lease: a blocked opener goes on
                with contextlib.suppress(OSError):
                    os.unlink(swap.tmp)  # the old file, or ours if undone
        self._open.clear()
        return undone


class Replacement:
    """One file of :meth:`Swaps.replace_many` (the arguments of ``replace_if_unchanged``).
    A plain class: a dataclass costs every commit hook its creation at import."""

    __slots__ = ("expected", "folder", "full", "mode", "new")

    def __init__(self, full: Path, expected: bytes, new: bytes, mode: int,
                 folder: Path) -> None:
        self.full, self.expected, self.new, self.mode, self.folder = (
            full, expected, new, mode, folder)

    def elsewhere(self, folder: Path) -> Replacement:
        """The same replacement with its temp file made in ``folder``."""
        return Replacement(self.full, self.expected, self.new, self.mode, folder)


def _write(fd: int, data: bytes, mode: int) -> None:
    write_all(fd, data)
    os.fchmod(fd, stat.S_IMODE(mode))


def _write_durably(fd: int, data: bytes, mode: int) -> None:
    _write(fd, data, mode)
    os.fdatasync(fd)


_SYNC_THREADS = 8  # enough syncs in flight for the journal to commit them together


def _fdatasync_all(fds: list[int]) -> dict[int, OSError]:
    """``fdatasync`` every descriptor, several at once (the syscall releases the GIL, and
    concurrent syncs share a journal commit); returns the ones that failed."""
    errors: dict[int, OSError] = {}
    todo = list(reversed(fds))

    def work() -> None:
        while todo:
            try:
                fd = todo.pop()
            except IndexError:  # another thread took the last one
                return
            try:
                os.fdatasync(fd)
            except OSError as e:
                errors[fd] = e

    threads = [threading.Thread(target=work, daemon=True)
               for _ in range(min(_SYNC_THREADS, len(fds)) - 1)]
    for t in threads:
        t.start()
    work()  # this thread works too: a batch of one starts no thread
    for t in threads:
        t.join()
    return errors


def _swap_checked(full: Path, expected: bytes, tmp: str, tmp_fd: int) -> _Swap:
    fd = _open_current(full)
    try:
        leased = _take_lease(fd)
        if not _holds(fd, expected):
            raise ChangedError
        st, ours = os.fstat(fd), os.fstat(tmp_fd)
        exchanged = _exchange(tmp, full)
        if not exchanged:
            os.replace(tmp, full)
        if not _untouched(fd, st, leased):
            if exchanged and _same(os.lstat(full), ours):
                _exchange(tmp, full)  # the old file back where the other writer expects it
            raise ChangedError
    except BaseException:
        os.close(fd)
        raise
    return _Swap(full, fd, tmp, st, ours, leased, exchanged, time.monotonic())


def _open_current(full: Path) -> int:
    try:
        fd = os.open(full, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(full) from None
    except OSError as e:  # ELOOP: a symlink now; ENXIO: a FIFO
        raise NotRegularError(f"not a regular file ({e.strerror or e})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularError("not a regular file")
    return fd


def _holds(fd: int, expected: bytes) -> bool:
    """Whether the open file's content is exactly ``expected`` (size first: cheap)."""
    if os.fstat(fd).st_size != len(expected):
        return False
    got = bytearray()
    while len(got) <= len(expected):  # one byte more than expected: a longer file differs
        chunk = os.pread(fd, len(expected) - len(got) + 1, len(got))
        if not chunk:
            break
        got += chunk
    return got == expected


def _untouched(fd: int, before: os.stat_result, leased: bool) -> bool:
    """Whether nobody opened (leased) or wrote (fstat) the old file since the check."""
    if leased:
        import fcntl

        return bool(fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_RDLCK)
    return _same(os.fstat(fd), before)


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    # Not ctime: a rename (ours) changes it.
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (
        b.st_dev, b.st_ino, b.st_size, b.st_mtime_ns)


_lease_lock = threading.Lock()


def _take_lease(fd: int) -> bool:
    """A read lease on ``fd`` when this platform, file system and process allow one
    (False: they do not); :class:`ChangedError` while another process keeps the file open
    for writing."""
    if not _leases_usable():
        return False
    import fcntl

    for _ in range(_LEASE_TRIES):
        try:
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
            return True
        except BlockingIOError:  # open for writing elsewhere right now: wait a moment
            time.sleep(_LEASE_WAIT_S)
        except OSError:  # EINVAL (no lease support), EACCES (not the owner), ENOLCK
            return False
    raise ChangedError


def _leases_usable() -> bool:
    """Leases need Linux, and a process that survives the ``SIGIO`` a lease break sends
    (its default action ends the process): handled once, from the main thread, by a
    handler that does nothing (not ``SIG_IGN``, which every child process would inherit)."""
    if sys.platform != "linux":
        return False
    with _lease_lock:
        if signal.getsignal(signal.SIGIO) is not signal.SIG_DFL:
            return True
        if threading.current_thread() is not threading.main_thread():
            return False
        signal.signal(signal.SIGIO, _lease_broken)
        return True


def _lease_broken(signum: int, frame: object) -> None:
    """Nothing to do at once: ``_untouched`` asks the lease itself."""


def _exchange(a: str, b: Path) -> bool:
    """Swap the two names atomically; False where ``renameat2`` is not available."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    import ctypes

    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot
        return False
    raise OSError(err, os.strerror(err), str(b))


_libc_renameat2: list[Callable[..., int] | None] = []


def _renameat2() -> Callable[..., int] | None:
    if not _libc_renameat2:
        fn = None
        if sys.platform == "linux":
            import ctypes  # here: only a run that replaces a file pays for it

            with contextlib.suppress(OSError, AttributeError):
                fn = ctypes.CDLL(None, use_errno=True).renameat2
        _libc_renameat2.append(fn)
    return _libc_renameat2[0]
