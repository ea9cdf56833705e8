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
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from regauto import statedb_heal

DB_NAME = "state.db"
BUSY_TIMEOUT_MS = 30_000

_local = threading.local()


def connect(state_dir: Path, name: str = DB_NAME) -> sqlite3.Connection:
    """Open (creating if needed) the state database in WAL mode with a busy timeout
    (``name``: another database file of the state dir, a large cache kept apart).

    ``isolation_level=None`` hands transaction control to :func:`transaction`.  A corrupt
    database is moved aside and replaced by an empty one (see :mod:`regauto.statedb_heal`):
    everything in it is a cache or can start over, and a commit must never wait on it.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / name
    try:
        conn = _open(path)
        if not statedb_heal.suspect(path, conn):
            return conn
        conn.close()
    except sqlite3.DatabaseError as e:
        if not statedb_heal.is_corruption(e):
            raise
    statedb_heal.heal(path, _open)
    return _open(path)


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
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
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        # Corruption the checks on open could not see: this command fails, the next one
        # starts on a fresh database instead of failing the same way forever.
        if statedb_heal.is_corruption(e):
            _heal_file_of(conn)
        raise


def _heal_file_of(conn: sqlite3.Connection) -> None:
    try:
        files = [row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"]
    except sqlite3.Error:
        return
    if files and files[0]:
        statedb_heal.heal(Path(files[0]), _open)


def _depth_inc() -> int:
    _local.depth = getattr(_local, "depth", 0) + 1
    return int(_local.depth)


def _depth_dec() -> None:
    _local.depth = getattr(_local, "depth", 1) - 1


def migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[str]) -> None:
    """Bring ``component``'s tables up to ``len(migrations)``.

    Each entry is a SQL script applied once, in order; the version is recorded in the same
    transaction, so a crash never leaves a half-applied migration marked as done.
    """
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
