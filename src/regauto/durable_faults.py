"""A :class:`~regauto.durable.DurableFiles` whose one named step fails, for the fault and
kill -9 tests (the registry writer gets it from ``durable.for_process`` when
``REGAUTO_TEST_FAULT`` or ``REGAUTO_TEST_CRASH`` is set, so a test can reach a ``regauto``
subprocess too).

A step is ``<kind>:<which>``: ``kind`` one of ``write`` (the data of a new file: half of it
is written, then the error), ``fsync`` (a file's), ``replace``, ``unlink``, ``dir_fsync``;
``which`` the ordinal of that kind of step since the object was made (``replace:0`` is the
first rename) or a part of the file's name (``replace:journal``: the first rename of a file
so named).  The step fails once, the way the file system would: ``OSError`` with the errno
named after a second colon (``fsync:0:ENOSPC``; default ``EIO``), or, for the crash
variable, the process SIGKILLs itself just before the step.  Nothing in the code that uses
the object knows about this: it sees an ``OSError`` as from the disk, or dies.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

from regauto.durable import CRASH_ENV, FAULT_ENV, DurableFiles, write_all

KINDS = ("write", "fsync", "replace", "unlink", "dir_fsync")


class StepFaults(DurableFiles):
    """Plain steps, but the one named by ``fault`` raises (once) and the one named by
    ``crash`` kills the process; ``fired`` says which step it was."""

    def __init__(self, fault: str | None = None, crash: str | None = None) -> None:
        self._fault = _parse(fault)
        self._crash = _parse(crash)
        self._counts = dict.fromkeys(KINDS, 0)
        self._path: Path | None = None  # the file being written, for "write" and "fsync"
        self.fired: str | None = None  # the step that failed, once it has

    @classmethod
    def from_env(cls) -> StepFaults:
        return cls(os.environ.get(FAULT_ENV) or None, os.environ.get(CRASH_ENV) or None)

    def write(self, path: Path, data: bytes, mode: int = 0o644) -> None:
        self._path = path
        try:
            super().write(path, data, mode)
        finally:
            self._path = None

    def replace(self, src: Path, dst: Path) -> None:
        self._at("replace", src, dst)
        super().replace(src, dst)

    def unlink(self, path: Path) -> bool:
        self._at("unlink", path)
        return super().unlink(path)

    def fsync_dir(self, path: Path) -> None:
        self._at("dir_fsync", path)
        super().fsync_dir(path)

    def fill(self, fd: int, data: bytes) -> None:
        assert self._path is not None
        if self._hit("write", self._path) == "fault":
            write_all(fd, data[: len(data) // 2])  # a disk fills up part way through
        self._at("write", self._path)
        super().fill(fd, data)

    def sync_fd(self, fd: int) -> None:
        assert self._path is not None
        self._at("fsync", self._path)
        super().sync_fd(fd)

    def _hit(self, kind: str, path: Path) -> str | None:
        """Which armed variable (if any) names this step; does not count it."""
        for how, spec in (("crash", self._crash), ("fault", self._fault)):
            if spec is not None and spec[0] == kind and _selects(spec[1], self._counts[kind],
                                                                  path):
                return how
        return None

    def _at(self, kind: str, path: Path, dst: Path | None = None) -> None:
        how = self._hit(kind, path)
        n = self._counts[kind]
        self._counts[kind] = n + 1
        if how is None:
            return
        self.fired = f"{kind}:{n}"
        if how == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        assert self._fault is not None
        code = self._fault[2]
        self._fault = None  # once, as a transient error would
        if dst is None:
            raise OSError(code, os.strerror(code), str(path))
        raise OSError(code, os.strerror(code), str(path), None, str(dst))


def _parse(spec: str | None) -> tuple[str, str, int] | None:
    if not spec:
        return None
    kind, _, rest = spec.partition(":")
    which, _, name = rest.partition(":")
    if kind not in KINDS or not which:
        raise ValueError(f"fault step {spec!r}: expected <{'|'.join(KINDS)}>:<n or name>")
    code = getattr(errno, name) if name else errno.EIO
    return kind, which, code


def _selects(which: str, count: int, path: Path) -> bool:
    return count == int(which) if which.isdigit() else which in path.name
