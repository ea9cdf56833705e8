"""The file-system steps of a durable write, in one place.

Every file regauto must not lose after a crash (registry shards, the writer's journal,
generated outputs, a merged registry file) is written the same way: all the bytes to a
fresh file, ``fsync``, ``os.replace`` over the target, ``fsync`` of the folder.  The steps
are the methods of :class:`DurableFiles`; code that writes hands its steps to one such
object, so a test can replace it with one whose step N fails with a real ``OSError`` (see
``regauto.durable_faults``) and see exactly what a full disk or an I/O error does.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FAULT_ENV = "REGAUTO_TEST_FAULT"  # "<step>[:<errno name>]": that step raises OSError
CRASH_ENV = "REGAUTO_TEST_CRASH"  # "<step>": the process SIGKILLs itself at that step


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write fewer)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class DurableFiles:
    """The steps themselves; the production object does each one plainly."""

    def write(self, path: Path, data: bytes, mode: int = 0o644) -> None:
        """Create (or truncate) ``path``, write all of ``data`` and fsync it."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            self.fill(fd, data)
            self.sync_fd(fd)
        finally:
            os.close(fd)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def unlink(self, path: Path) -> bool:
        """Remove ``path``; False when it was not there."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # The two halves of ``write``, apart so that a fault can land between them
    # (``durable_faults`` overrides them).
    def fill(self, fd: int, data: bytes) -> None:
        write_all(fd, data)

    def sync_fd(self, fd: int) -> None:
        os.fsync(fd)


PLAIN = DurableFiles()


def for_process() -> DurableFiles:
    """The registry writer's steps: plain, unless a fault-injection test variable is set
    (then the faulting object, whose named step fails as a real file system would)."""
    if os.environ.get(FAULT_ENV) or os.environ.get(CRASH_ENV):
        from regauto.durable_faults import StepFaults

        return StepFaults.from_env()
    return PLAIN


def replace_durably(target: Path, data: bytes, *, keep_mode: bool = False,
                    files: DurableFiles = PLAIN) -> None:
    """Put ``data`` at ``target`` atomically: a synced temp file beside it, renamed over it
    (the folder is not synced: a crash may leave the old file, never an empty one).
    ``keep_mode``: an existing target keeps its mode.  A failure removes the temp file and
    leaves ``target`` as it was."""
    tmp = target.with_name(f".{target.name}.regauto-tmp.{os.getpid()}")
    mode = 0o644
    if keep_mode:
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(target.stat().st_mode)
    try:
        files.write(tmp, data, mode)
        if keep_mode:
            with contextlib.suppress(OSError):
                os.chmod(tmp, mode)  # the umask may have narrowed it
        files.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
