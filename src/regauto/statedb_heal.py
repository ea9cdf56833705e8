"""A corrupt state database is moved aside and started afresh, never a blocked commit.

Nothing in the state database is the only copy of anything: the id index is rebuilt from
the registry's shards, the allocator's floor is the registry's highest id, the queue and the
suppressions are short-lived.  So a database SQLite calls corrupt (``SQLITE_CORRUPT``,
``SQLITE_NOTADB``) is renamed ``state.db.corrupt-<UTC time>`` (its ``-wal``/``-shm`` with
it), one warning line says so, and the caller opens a new, empty one.

Detection happens on open: SQLite's own errors while reading the header and the schema,
and, for a small file, where it costs at most a millisecond, a full ``PRAGMA quick_check``
once per process (a large file gets only the cheap checks: a full check of a 100k-document
index would slow every commit hook).  Damage in a large file shows later, in whichever
query first reads the bad page; the command's error boundary then closes every connection
of its process (``statedb.recover``: closing one after the move would delete the new
file's WAL) and runs the command again.  A suspicion is confirmed by ``quick_check`` under
a lock before anything moves, so a database that another process is checkpointing (its
header briefly ahead of its size) or has healed meanwhile stays where it is.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

SMALL_BYTES = 64 * 1024
_checked: set[tuple[int, int]] = set()  # (device, inode) this process has quick_checked
_CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_CORRUPT_WORDS = ("malformed", "not a database", "corrupt")


class Corrupt(Exception):
    """The database at ``path`` is corrupt, found while opening it.  Not an
    ``sqlite3.Error``: a caller that falls back when the queue is unusable must not take
    it for one — the command heals the file and runs again (``statedb.recover``)."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(f"the state database {path or ''} is corrupt (database disk image "
                         "is malformed)")
        self.path = path


def is_corruption(e: sqlite3.DatabaseError) -> bool:
    """Whether SQLite refused the file itself (not a lock, a full disk, a missing table)."""
    code = getattr(e, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    return any(w in str(e) for w in _CORRUPT_WORDS)


def suspect(path: Path, conn: sqlite3.Connection) -> bool:
    """Whether the open database at ``path`` looks corrupt (cheap checks; see above)."""
    # The file is never opened here beside SQLite's own descriptors: closing any descriptor
    # of a file drops every POSIX lock this process holds on it, and the next connection
    # to close elsewhere would then take itself for the last one and delete the WAL that
    # this process's connections are still writing to.  A truncation SQLite has not seen
    # yet shows as SQLITE_CORRUPT on first use, and is healed there.
    try:
        st = path.stat()
        size = st.st_size
    except FileNotFoundError:
        return False
    if size < SMALL_BYTES and (st.st_dev, st.st_ino) not in _checked:
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            return True
        _checked.add((st.st_dev, st.st_ino))  # once per process: a hook opens it often
    return False


def heal(path: Path, opener: Callable[[Path], sqlite3.Connection]) -> bool:
    """Move the database at ``path`` aside if ``quick_check`` confirms it is corrupt;
    whether it did.  This process must have no connection open on it (see
    ``statedb.recover``)."""
    import fcntl

    fd = os.open(path.with_name(path.name + ".heal"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one healer; the next one finds a healthy file
        if _healthy(path, opener):
            return False
        aside = _move_aside(path)
        sys.stderr.write(
            f"regauto: warning: the state database {path} was corrupt; moved aside as "
            f"{aside.name} and started afresh (its index is rebuilt from the registry)\n")
        return True
    finally:
        os.close(fd)  # releases the flock


def _healthy(path: Path, opener: Callable[[Path], sqlite3.Connection]) -> bool:
    try:
        conn = opener(path)
        try:
            return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        if is_corruption(e):
            return False
        raise


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    if aside.exists():
        aside = aside.with_name(f"{aside.name}-{os.getpid()}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):  # a WAL replayed into the new file would corrupt it
        try:
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        except FileNotFoundError:
            pass
    return aside
