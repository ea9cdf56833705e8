"""The work queue (SPEC §10): one pending job per path, shared by every regauto process.

Events are hints, so the queue keeps only their net effect (``queue_rows``: the table, the
job model and the folding of events).  An event for a path whose job is running marks it
for a rerun instead of being lost: ``complete()`` puts it back in the queue.

Jobs move queued → running → completed, or → failed (claimable again) and, after
``max_attempts`` claims, → dead_letter, where they stay until ``retry()``.  A claim is a
lease (``queue_leases``): a worker that dies (even by SIGKILL) leaves its jobs running
until the lease expires, then the next ``claim()`` takes them again; one that stops
(``close()`` after Ctrl-C or SIGTERM) hands them back at once.  A dead-lettered job
keeps absorbing events for its path (so a retry sees the latest) but is not requeued by
them.  ``release()`` hands a claimed job back unprocessed (a file not settled yet) without
spending an attempt.  ``hold()`` is the git hooks' claim: queue these paths and claim
exactly them, in one transaction.

Every claim carries a random token remembered by the ``WorkQueue`` that claimed it: a
worker whose lease expired and was taken over cannot complete or fail the new holder's
job.  Completed jobs are pruned to the newest ``keep_completed``.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from regauto import statedb
from regauto.events import queue_leases as leases
from regauto.events.queue_leases import Want
from regauto.events.queue_rows import (
    COMPLETED,
    DEAD_LETTER,
    EVENTS,
    FAILED,
    INDEX,
    MAX_ERROR_CHARS,
    MIGRATIONS,
    QUEUED,
    RUNNING,
    SOURCES,
    STATUSES,
    UPDATE_SQL,
    WORKTREE,
    Job,
    Row,
    Rows,
    check_statuses,
    chunks,
    collapse,
    decode_path,
    encode_path,
    fold,
    fresh,
    marks,
    net_event,
    rows_by_path,
    select,
    to_job,
)

__all__ = [
    "COMPLETED", "DEAD_LETTER", "EVENTS", "FAILED", "INDEX", "MAX_ERROR_CHARS", "MIGRATIONS",
    "QUEUED", "RUNNING", "SOURCES", "STATUSES", "WORKTREE", "Job", "Want", "WorkQueue",
    "decode_path", "encode_path", "fold", "net_event",
]

# Inside WorkQueue the method ``list`` shadows the builtin for the type checker.
Jobs = list[Job]


class WorkQueue(statedb.Client):
    """The queue in ``<state_dir>/state.db``; one instance per thread (one connection)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        max_attempts: int = 3,
        lease_s: float = 60.0,
        keep_completed: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if lease_s <= 0:
            raise ValueError("lease_s must be positive")
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.keep_completed = max(0, keep_completed)
        # Wall-clock time: leases are compared across processes, and outlive a reboot.
        self._clock = clock
        self._conn = statedb.connect(state_dir)
        statedb.migrate(self._conn, "work_queue", MIGRATIONS)
        self._tokens: dict[int, int] = {}  # job id → token of our claim on it

    # -- producing -------------------------------------------------------------------

    def enqueue(self, paths: Iterable[str], event: str = "modify") -> int:
        """Queue one event for each path; see :meth:`enqueue_events`."""
        return self.enqueue_events((p, event) for p in paths)

    def enqueue_events(self, events: Iterable[tuple[str, str]], *,
                       reason: str | None = None) -> int:
        """Merge ``(path, event)`` pairs, read from the work tree, into the queue in one
        transaction; ``reason`` says who queued them (``queue list`` shows it).

        Returns the number of jobs inserted, changed or removed (a create+delete that
        cancels a pending create removes it).  Events that change nothing — a modify for a
        path already queued — write nothing, so an editor's burst of saves costs reads only.
        """
        batch = collapse(events)
        if not batch:
            return 0
        now = self._clock()
        inserts: list[tuple[bytes, str, str | None, float, float]] = []
        updates: Rows = []
        deletes: list[tuple[int]] = []
        with statedb.transaction(self._conn):
            existing = rows_by_path(self._conn, list(batch))
            for key, path_events in batch.items():
                row = existing.get(key)
                if row is None:
                    event = fold(None, path_events)
                    if event is not None:
                        inserts.append((key, event, reason, now, now))
                    continue
                change = self._merge(row, path_events, now, reason)
                if change == "update":
                    updates.append(row)
                elif change == "delete":
                    deletes.append((row["id"],))
            self._conn.executemany(
                "INSERT INTO work_queue (path, event, status, reason, created_at, updated_at)"
                " VALUES (?, ?, 'queued', ?, ?, ?)",
                inserts,
            )
            self._conn.executemany(UPDATE_SQL, updates)
            self._conn.executemany("DELETE FROM work_queue WHERE id = ?", deletes)
        return len(inserts) + len(updates) + len(deletes)

    @staticmethod
    def _merge(row: Row, events: list[str], now: float, reason: str | None) -> str | None:
        """Fold a batch's events into an existing row: "update", "delete" or None (no-op)."""
        status = row["status"]
        if status == RUNNING:
            # The worker may already have read the file: only the state after the run
            # and the latest event decide what the rerun does (see complete()).
            if row["rerun"] and row["rerun_event"] == events[-1]:
                return None
            row.update(rerun=1, rerun_event=events[-1], updated_at=now)
            return "update"
        if status == COMPLETED:  # done with: the events start a new job
            event = fold(None, events)
            if event is None:
                return None
            row.update(fresh(event, now, reason=reason))
            return "update"
        event = fold(row["event"], events)  # queued, failed, dead_letter
        if event is None:
            return "delete"
        if event == row["event"] and row["source"] == WORKTREE:
            return None
        # A pending index job (a hook's, unfinished) now stands for the work tree's state.
        row.update(event=event, source=WORKTREE, old_path=None, updated_at=now,
                   reason=reason or row["reason"])
        return "update"

    # -- consuming -------------------------------------------------------------------

    def claim(self, worker: str, limit: int = 100) -> Jobs:
        """Atomically take up to ``limit`` jobs for ``worker`` under a lease."""
        if limit < 1:
            return []
        lease = self._lease(worker)
        with statedb.transaction(self._conn):
            rows = leases.claim(self._conn, lease, limit, self.max_attempts)
        return self._claimed(rows, lease)

    def hold(self, worker: str, wants: Sequence[Want], *, source: str, reason: str
             ) -> tuple[Jobs, list[str]]:
        """Queue ``wants`` (read from ``source``) and claim exactly them for ``worker``, in
        one transaction; returns (our jobs, the paths another live worker holds).  See
        ``queue_leases.hold``."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
        if not wants:
            return [], []
        lease = self._lease(worker)
        with statedb.transaction(self._conn):
            rows, busy = leases.hold(self._conn, lease, wants, source=source, reason=reason)
        return self._claimed(rows, lease), busy

    def _lease(self, worker: str) -> leases.Lease:
        now = self._clock()
        return leases.Lease(worker, secrets.randbits(62), now, now + self.lease_s)

    def _claimed(self, rows: Rows, lease: leases.Lease) -> Jobs:
        jobs = sorted((to_job(r) for r in rows), key=lambda j: j.id)
        for job in jobs:
            self._tokens[job.id] = lease.token
        return jobs

    def complete(self, job_ids: Iterable[int], *, worker: str | None = None) -> None:
        """Mark our running jobs done; one marked for a rerun goes back to the queue.

        ``worker`` (here and in ``fail``, ``heartbeat``, ``release``) restricts the call to
        jobs that worker holds — needed only when the jobs were claimed through another
        ``WorkQueue`` instance, which cannot check the claim's token.
        """
        ids = sorted(set(job_ids))
        if not ids:
            return
        now = self._clock()
        with statedb.transaction(self._conn):
            rows = self._our_running(ids, forget=True, worker=worker)
            for row in rows:
                rerun = None
                if row["rerun"]:
                    # An event came while we ran: the work tree is to be looked at again.
                    rerun = net_event("create" if row["event"] == "delete" else "modify",
                                      row["rerun_event"])
                if rerun is not None:
                    row.update(fresh(rerun, now, reason="rerun"))
                else:
                    row.update(
                        status=COMPLETED, rerun=0, rerun_event=None, lease_token=None,
                        lease_until=None, updated_at=now,
                    )
            self._conn.executemany(UPDATE_SQL, rows)
            self._prune()

    def fail(self, job_id: int, error: str, *, worker: str | None = None) -> None:
        """Record a failure: failed (claimable again) or, out of attempts, dead_letter."""
        now = self._clock()
        with statedb.transaction(self._conn):
            for row in self._our_running([job_id], forget=True, worker=worker):
                leases.settle_failure(self._conn, row, error, now, self.max_attempts)

    def release(self, job_ids: Iterable[int], *, worker: str | None = None) -> int:
        """Hand claimed jobs back unprocessed (e.g. the file has not settled yet): queued
        again, with the claim's attempt not counted.  Returns how many went back."""
        ids = sorted(set(job_ids))
        now = self._clock()
        with statedb.transaction(self._conn):
            rows = self._our_running(ids, forget=True, worker=worker)
            for row in rows:
                if row["rerun"]:  # nothing ran: the job stands for all its events
                    event = net_event(row["event"], row["rerun_event"])
                    if event is None:
                        self._conn.execute("DELETE FROM work_queue WHERE id = ?", (row["id"],))
                        continue
                    row.update(event=event, source=WORKTREE, old_path=None)
                row.update(
                    status=QUEUED, attempts=max(0, row["attempts"] - 1), rerun=0,
                    rerun_event=None, lease_token=None, lease_until=None, updated_at=now,
                )
                self._conn.execute(UPDATE_SQL, row)
        return len(rows)

    def close(self) -> None:
        """Hand back the jobs claimed here and not finished — the worker stops (Ctrl-C in
        a commit hook, SIGTERM to the daemon) rather than dies, so nobody need wait for
        their lease — then close the connection."""
        if self._tokens:
            with contextlib.suppress(sqlite3.Error):  # an unusable queue: the lease ends it
                self.release(list(self._tokens))
        super().close()

    def heartbeat(self, job_ids: Iterable[int], *, worker: str | None = None) -> int:
        """Extend the lease of our running jobs (for work longer than ``lease_s``)."""
        ids = sorted(set(job_ids))
        now = self._clock()
        with statedb.transaction(self._conn):
            rows = self._our_running(ids, forget=False, worker=worker)
            self._conn.executemany(
                "UPDATE work_queue SET lease_until = ?, updated_at = ? WHERE id = ?",
                [(now + self.lease_s, now, r["id"]) for r in rows],
            )
        return len(rows)

    # -- inspecting and repairing -------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        row = self._conn.execute("SELECT * FROM work_queue WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else to_job(row)

    def list(self, status: str | None = None) -> Jobs:
        if status is None:
            rows = self._conn.execute("SELECT * FROM work_queue ORDER BY id").fetchall()
        else:
            check_statuses([status])
            rows = self._conn.execute(
                "SELECT * FROM work_queue WHERE status = ? ORDER BY id", (status,)
            ).fetchall()
        return [to_job(r) for r in rows]

    def dead(self) -> Jobs:
        return self.list(DEAD_LETTER)

    def retry(self, job_id: int) -> bool:
        """Requeue a dead-lettered (or failed) job with fresh attempts."""
        with statedb.transaction(self._conn):
            cur = self._conn.execute(
                "UPDATE work_queue SET status = 'queued', attempts = 0, updated_at = ?"
                " WHERE id = ? AND status IN ('dead_letter', 'failed')",
                (self._clock(), job_id),
            )
        return cur.rowcount > 0

    def retry_all_dead(self) -> int:
        with statedb.transaction(self._conn):
            cur = self._conn.execute(
                "UPDATE work_queue SET status = 'queued', attempts = 0, updated_at = ?"
                " WHERE status = 'dead_letter'",
                (self._clock(),),
            )
        return cur.rowcount

    def purge(self, statuses: Iterable[str] = (COMPLETED,)) -> int:
        """Delete every job in ``statuses``; returns how many went."""
        wanted = sorted(set(statuses))
        check_statuses(wanted)
        if not wanted:
            return 0
        with statedb.transaction(self._conn):
            cur = self._conn.execute(
                f"DELETE FROM work_queue WHERE status IN ({marks(len(wanted))})", wanted
            )
        return cur.rowcount

    def orphaned(self) -> int:
        """Running jobs the next claim takes over: their lease expired."""
        (n,) = self._conn.execute(
            "SELECT count(*) FROM work_queue WHERE status = 'running' AND lease_until <= ?",
            (self._clock(),)).fetchone()
        return int(n)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        rows = self._conn.execute("SELECT status, count(*) FROM work_queue GROUP BY status")
        counts.update({status: n for status, n in rows})
        return counts


    # -- internals (called inside a transaction) --------------------------------------

    def _our_running(
        self, ids: Sequence[int], *, forget: bool, worker: str | None = None
    ) -> Rows:
        """The running rows among ``ids`` that we may finish.

        A job we claimed must still carry our token (else its lease expired and someone
        else took it); a job claimed through another instance is accepted as it stands,
        or only if ``worker`` holds it when that is given.
        """
        rows: Rows = []
        for chunk in chunks(ids):
            sql = (
                "SELECT * FROM work_queue WHERE status = 'running'"
                f" AND id IN ({marks(len(chunk))})"
            )
            rows.extend(select(self._conn, sql, chunk))
        ours = [
            r for r in rows
            if self._tokens.get(r["id"]) in (None, r["lease_token"])
            and worker in (None, r["worker"])
        ]
        if forget:
            # A lost claim keeps its stale token: it must keep failing the check.
            for r in ours:
                self._tokens.pop(r["id"], None)
        return ours

    def _prune(self) -> None:
        # Pruning sorts the completed rows; do it in steps of 10% so it stays rare.
        (n,) = self._conn.execute(
            "SELECT count(*) FROM work_queue WHERE status = 'completed'"
        ).fetchone()
        if n <= self.keep_completed + self.keep_completed // 10:
            return
        self._conn.execute(
            "DELETE FROM work_queue WHERE id IN (SELECT id FROM work_queue"
            " WHERE status = 'completed' ORDER BY updated_at DESC, id DESC LIMIT -1 OFFSET ?)",
            (self.keep_completed,),
        )
