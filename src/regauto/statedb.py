"""The state database: one SQLite file in the state dir shared by every regauto process.

It holds the work queue, the suppression entries, the id reservations and the registry's
id index.  This module is the one transaction primitive (STYLE habit 9): ``BEGIN IMMEDIATE``
at the top level so writers queue on SQLite's lock instead of failing late with
"database is locked", savepoints when nested, and per-component schema migrations recorded
in the same transaction as the change they make.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from regauto import statedb_heal

DB_NAME = "state.db"
BUSY_TIMEOUT_MS = 30_000

_local = threading.local()


class _Connection(sqlite3.Connection):
    """A connection to a state database, known to :func:`recover` (which must close them
    all before it moves a corrupt file aside)."""

    path: Path


_live: weakref.WeakSet[_Connection] = weakref.WeakSet()  # this process's open connections
_opened: set[Path] = set()  # every state database this process has opened


def connect(state_dir: Path, name: str = DB_NAME) -> sqlite3.Connection:
    """Open (creating if needed) the state database in WAL mode with a busy timeout
    (``name``: another database file of the state dir, a large cache kept apart).

    ``isolation_level=None`` hands transaction control to :func:`transaction`.  A corrupt
    database is moved aside and replaced by an empty one (see :mod:`regauto.statedb_heal`):
    everything in it is a cache or can start over, and a commit must never wait on it.
    While this process still has other connections on the file it is not moved (their
    closing would delete the new file's WAL): the error goes up to :func:`recover`.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / name
    _opened.add(path)
    try:
        conn = _open(path)
        if not statedb_heal.suspect(path, conn):
            _live.add(conn)
            return conn
        conn.close()
        cause: sqlite3.DatabaseError | None = None
    except sqlite3.DatabaseError as e:
        if not statedb_heal.is_corruption(e):
            raise
        cause = e
    if any(c.path == path for c in _live):
        raise statedb_heal.Corrupt(path) from cause
    statedb_heal.heal(path, _open)
    conn = _open(path)
    _live.add(conn)
    return conn


def recover(error: BaseException) -> bool:
    """After ``error`` ended an operation: if SQLite found a state database corrupt (the
    error or one it was raised from), close every state-database connection of this
    process and move the corrupt databases aside.  True when one was, so the operation
    can run again on a fresh database; the objects that held the closed connections are
    done with (a caller starts over with new ones)."""
    if corruption_in(error) is None:
        return False
    for conn in list(_live):
        with contextlib.suppress(sqlite3.Error):  # another thread's: it closes its own
            conn.close()
    _live.clear()
    return any([statedb_heal.heal(path, _open) for path in sorted(_opened) if path.exists()])


def corruption_in(error: BaseException) -> str | None:
    """One line for the user when SQLite refused a state database as corrupt in ``error``
    (or an error it was raised from), else None."""
    for e in _chain(error):
        if isinstance(e, statedb_heal.Corrupt) or (
                isinstance(e, sqlite3.DatabaseError) and statedb_heal.is_corruption(e)):
            where = " or ".join(str(p) for p in sorted(_opened)) or DB_NAME
            return (f"the state database {where} is corrupt ({e.__cause__ or e}) and could not "
                    "be replaced; move it aside and run the command again")
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _open(path: Path) -> _Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           factory=_Connection)
    conn.path = path
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # WAL lets readers run beside the one writer; switching mode needs a write lock once.
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the schema
    except BaseException:
        conn.close()
        raise
    conn.row_factory = sqlite3.Row
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in a write transaction; nest as a savepoint inside an open one.

    Rollback is attempted only while the transaction is still open: SQLite may already
    have rolled back by itself (e.g. after SQLITE_FULL), and a second ROLLBACK would raise.
    """
    if conn.in_transaction:
        name = f"sp_{id(threading.current_thread())}_{_depth_inc()}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        else:
            conn.execute(f"RELEASE {name}")
        finally:
            _depth_dec()
        return
    # Corruption the checks on open could not see surfaces here or in any read: the error
    # goes up to the command, whose boundary heals and runs it again (see recover()).
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def _depth_inc() -> int:
    _local.depth = getattr(_local, "depth", 0) + 1
    return int(_local.depth)


def _depth_dec() -> None:
    _local.depth = getattr(_local, "depth", 1) - 1


def migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[str]) -> None:
    """Bring ``component``'s tables up to ``len(migrations)``.

    Each entry is a SQL script applied once, in order; the version is recorded in the same
    transaction, so a crash never leaves a half-applied migration marked as done.  A
    corrupt database found here raises ``statedb_heal.Corrupt``.
    """
    try:
        _migrate(conn, component, migrations)
    except sqlite3.DatabaseError as e:
        if statedb_heal.is_corruption(e):
            raise statedb_heal.Corrupt(getattr(conn, "path", None)) from e
        raise


def _migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[str]) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions"
        " (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    row = conn.execute(
        "SELECT version FROM schema_versions WHERE component = ?", (component,)
    ).fetchone()
    if row is not None and row[0] >= len(migrations):
        return
    with transaction(conn):
        row = conn.execute(
            "SELECT version FROM schema_versions WHERE component = ?", (component,)
        ).fetchone()
        current = 0 if row is None else int(row[0])
        for script in migrations[current:]:
            for statement in _split(script):
                conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?, ?)"
            " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            (component, len(migrations)),
        )


def _split(script: str) -> list[str]:
    # executescript() would COMMIT the open transaction; run statements one by one instead.
    return [s.strip() for s in script.split(";") if s.strip()]


_C = TypeVar("_C", bound="Client")


class Client:
    """A component that owns one connection to the state database (the work queue, the
    suppression manager, the id allocator): closing it, and using it in a ``with`` block."""

    _conn: sqlite3.Connection

    def close(self) -> None:
        self._conn.close()

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
