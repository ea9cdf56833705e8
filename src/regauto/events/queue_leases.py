"""Claims and leases of the work queue (SPEC §10); every function runs inside the caller's
transaction.

A claim is a lease: a worker that dies leaves its jobs running until the lease expires,
then the next claim takes them again (SPEC §10) — also when the holder is known to be gone:
a pid can be reused, a state dir shared by another machine, and only the lease is a promise
every worker keeps.  A worker that stops rather than dies (Ctrl-C in a commit, SIGTERM to
the daemon) hands its unfinished jobs back when it closes the queue, so only a real death
(SIGKILL, a crash of the machine) waits for the lease.  Attempts are counted when a job is
claimed, not when it fails, so a job that kills its worker every time also ends in
dead_letter instead of crash-looping.

``hold`` is the claim of a synchronous caller (the git hooks): it queues its own paths and
claims exactly those, in one transaction, so that no other worker (the daemon) can take
them in between.  A path held under a lease that has not expired is reported busy, left
alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from regauto.events import queue_rows as qr

# Expired leases first (they waited longest), then new work, then retries of failures:
# putting failed jobs last gives a transient failure some time before its next attempt.
CLAIM_SQL = """
UPDATE work_queue SET
    status = 'running',
    attempts = attempts + 1,
    last_error = CASE WHEN status = 'running'
        THEN 'lease of worker ' || coalesce(worker, '?') || ' expired' ELSE last_error END,
    worker = :worker, lease_token = :token, lease_until = :until, updated_at = :now
WHERE id IN (
    SELECT id FROM (SELECT id FROM work_queue
                    WHERE status = 'running' AND lease_until <= :now ORDER BY id LIMIT :limit)
    UNION ALL
    SELECT id FROM (SELECT id FROM work_queue WHERE status = 'queued' ORDER BY id LIMIT :limit)
    UNION ALL
    SELECT id FROM (SELECT id FROM work_queue WHERE status = 'failed' ORDER BY id LIMIT :limit)
    LIMIT :limit
)
RETURNING *
"""

# Plain classes, not dataclasses or NamedTuples: this module loads on every commit hook,
# and generating those classes' methods at import costs more than the hook's queue work.
class Lease:
    __slots__ = ("now", "token", "until", "worker")

    def __init__(self, worker: str, token: int, now: float, until: float) -> None:
        self.worker, self.token, self.now, self.until = worker, token, now, until


class Want:
    """A path a synchronous caller processes now: its event and, for the new side of a
    rename, the path it came from."""

    __slots__ = ("event", "old_path", "path")

    def __init__(self, path: str, event: str = "modify", old_path: str | None = None) -> None:
        self.path, self.event, self.old_path = path, event, old_path

    def __repr__(self) -> str:
        return f"Want({self.path!r}, {self.event!r}, {self.old_path!r})"


def settle_failure(conn: sqlite3.Connection, row: qr.Row, error: str, now: float,
                   max_attempts: int) -> None:
    """A running job failed: failed (claimable again) or, out of attempts, dead_letter."""
    if row["rerun"]:
        # An event came meanwhile: the job now stands for the work tree's latest state.
        event = qr.net_event(row["event"], row["rerun_event"])
        if event is None:  # created and deleted again meanwhile: nothing left to retry
            conn.execute("DELETE FROM work_queue WHERE id = ?", (row["id"],))
            return
        row.update(event=event, source=qr.WORKTREE, old_path=None)
    exhausted = row["attempts"] >= max_attempts
    row.update(
        status=qr.DEAD_LETTER if exhausted else qr.FAILED,
        last_error=error[:qr.MAX_ERROR_CHARS], rerun=0, rerun_event=None, lease_token=None,
        lease_until=None, updated_at=now,
    )
    conn.execute(qr.UPDATE_SQL, row)


def expire_exhausted(conn: sqlite3.Connection, now: float, max_attempts: int) -> None:
    """Expired leases of jobs out of attempts go to dead_letter, not to a new worker."""
    rows = qr.select(
        conn,
        "SELECT * FROM work_queue WHERE status = 'running' AND lease_until <= ?"
        " AND attempts >= ?",
        (now, max_attempts),
    )
    for r in rows:
        error = (
            f"lease of worker {r['worker']} expired on attempt {r['attempts']} of"
            f" {max_attempts} (the worker died or hung)"
        )
        settle_failure(conn, r, error, now, max_attempts)


def claim(conn: sqlite3.Connection, lease: Lease, limit: int, max_attempts: int) -> qr.Rows:
    expire_exhausted(conn, lease.now, max_attempts)
    params = {"worker": lease.worker, "token": lease.token, "now": lease.now,
              "until": lease.until, "limit": limit}
    return [dict(r) for r in conn.execute(CLAIM_SQL, params).fetchall()]


def hold(conn: sqlite3.Connection, lease: Lease, wants: Sequence[Want], *, source: str,
         reason: str) -> tuple[qr.Rows, list[str]]:
    """Queue ``wants`` and claim them for ``lease.worker``; returns (held rows, busy paths).

    A pending job for a path (queued, failed, dead_letter) is absorbed: this run reads the
    path now.  When this run reads the index and the pending job the work tree, the
    work-tree job is kept as a rerun, back in the queue once this run completes.  A job
    whose lease expired is taken over.
    """
    by_key = {qr.checked_path(w.path): w for w in wants}
    for w in wants:
        qr.check_event(w.event)
    existing = qr.rows_by_path(conn, list(by_key))
    held: qr.Rows = []
    busy: list[str] = []
    for key, want in by_key.items():
        row = existing.get(key)
        old = None if want.old_path is None else qr.encode_path(want.old_path)
        if row is None:
            new = qr.fresh(want.event, lease.now, source=source, reason=reason, old_path=old)
            new.update(path=key, **_running(lease, attempts=1))
            cols = ", ".join(new)
            sql = f"INSERT INTO work_queue ({cols}) VALUES ({qr.marks(len(new))}) RETURNING *"
            held.append(dict(conn.execute(sql, list(new.values())).fetchone()))
            continue
        taken_over = row["status"] == qr.RUNNING
        if taken_over and row["lease_until"] > lease.now:
            busy.append(want.path)
            continue
        _take(row, want.event, lease, source=source, reason=reason, old_path=old)
        conn.execute(qr.UPDATE_SQL, row)
        held.append(row)
    return held, busy


def _running(lease: Lease, attempts: int) -> dict[str, Any]:
    return {"status": qr.RUNNING, "attempts": attempts, "worker": lease.worker,
            "lease_token": lease.token, "lease_until": lease.until, "updated_at": lease.now}


def _take(row: qr.Row, event: str, lease: Lease, *, source: str, reason: str,
          old_path: bytes | None) -> None:
    status, was_worktree = row["status"], row["source"] == qr.WORKTREE
    if status == qr.RUNNING:  # an expired lease's
        row["last_error"] = f"lease of worker {row['worker']} expired"
        if was_worktree and source == qr.INDEX and not row["rerun"]:
            row.update(rerun=1, rerun_event=row["event"])
        attempts = row["attempts"] + 1
    elif status in qr.PENDING:
        if was_worktree and source == qr.INDEX:
            row.update(rerun=1, rerun_event=row["event"])
        attempts = row["attempts"] + 1 if status == qr.FAILED else 1
    else:  # completed: a new job
        row.update(rerun=0, rerun_event=None, last_error=None, created_at=lease.now)
        attempts = 1
    row.update(event=event, source=source, reason=reason, old_path=old_path,
               **_running(lease, attempts))
