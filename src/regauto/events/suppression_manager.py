"""Suppression manager (SPEC §10): drop the file events that regauto's own writes cause.

Before regauto renames or rewrites a file it records ``(path, event, until)``; the watcher
asks :meth:`SuppressionManager.is_suppressed` for each event and drops the ones that match,
so a rename done by the commit hook does not come back through the daemon as a new file
(and the other way round).  The entries live in the shared state database, so every
process sees them.  They are time-based, not one-shot: one rename produces several events
(a delete of the old name, a create of the new one, sometimes a modify).

Times are wall-clock (the entries outlive a reboot, when a monotonic clock restarts).  An
entry written "in the future" of the reader's clock — the clock stepped back — is ignored
rather than trusted, so it can never suppress for longer than it was meant to.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from regauto import statedb

ANY = "*"
MIGRATIONS = [
    """
    CREATE TABLE suppression (
        path BLOB NOT NULL,
        event TEXT NOT NULL,
        created REAL NOT NULL,
        until REAL NOT NULL,
        PRIMARY KEY (path, event)
    )
    """,
]
# Expired rows are harmless but take room; sweep them now and then, not on every write.
_PRUNE_EVERY = 256


def _key(path: str | os.PathLike[str]) -> bytes:
    # Bytes-safe like the work queue: a non-UTF-8 file name must match itself.
    return os.fspath(path).encode("utf-8", "surrogateescape")


class SuppressionManager(statedb.Client):
    """Suppression entries of one state dir; one instance per thread (one connection)."""

    def __init__(self, state_dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._conn = statedb.connect(state_dir)
        statedb.migrate(self._conn, "suppression", MIGRATIONS)
        self._writes = 0

    def suppress(self, path: str, event: str = ANY, ttl_ms: int = 2000) -> None:
        """Ignore ``event`` (``"*"``: every event) on ``path`` for the next ``ttl_ms``."""
        self.suppress_many([path], event, ttl_ms)

    def suppress_many(self, paths: Iterable[str], event: str = ANY, ttl_ms: int = 2000) -> None:
        if ttl_ms <= 0:
            raise ValueError("ttl_ms must be positive")
        now = self._clock()
        until = now + ttl_ms / 1000
        rows = [(_key(p), event, now, until) for p in paths]
        with statedb.transaction(self._conn):
            # A second suppression of the same (path, event) extends, never shortens.
            self._conn.executemany(
                "INSERT INTO suppression (path, event, created, until) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (path, event) DO UPDATE SET created = excluded.created,"
                " until = max(until, excluded.until)",
                rows,
            )
            self._writes += 1
            if self._writes % _PRUNE_EVERY == 0:
                self._delete_expired(now)

    def is_suppressed(self, path: str, event: str) -> bool:
        """True while an entry for ``path`` matches ``event`` exactly or is ``"*"``."""
        now = self._clock()
        row = self._conn.execute(
            "SELECT 1 FROM suppression WHERE path = ? AND event IN (?, ?)"
            " AND created <= ? AND until > ? LIMIT 1",
            (_key(path), event, ANY, now, now),
        ).fetchone()
        return row is not None

    def prune(self) -> int:
        """Delete expired entries; returns how many."""
        with statedb.transaction(self._conn):
            return self._delete_expired(self._clock())

    def _delete_expired(self, now: float) -> int:
        cur = self._conn.execute(
            "DELETE FROM suppression WHERE until <= ? OR created > ?", (now, now)
        )
        return cur.rowcount

