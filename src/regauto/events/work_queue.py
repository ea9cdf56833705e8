"""The work queue (SPEC §10): one pending job per path, shared by every regauto process.

A job says "look at this path again"; events are hints, so the queue keeps only their net
effect.  Whether the path existed before the first event and after the last one is all that
matters (``net_event``): create+modify → create, create+delete → nothing, delete+create →
modify, modify+delete → delete.  Events are folded one at a time (``fold``), so the queue
ends the same however the watcher batched them.  An event for a path whose job is running
marks it for a rerun instead of being lost: ``complete()`` puts it back in the queue.

Jobs move queued → running → completed, or → failed (claimable again) and, after
``max_attempts`` claims, → dead_letter, where they stay until ``retry()``.  A claim is a
lease: a worker that dies (even by SIGKILL) leaves its jobs running until the lease
expires, then the next ``claim()`` takes them again.  Attempts are counted when a job is
claimed, not when it fails, so a job that kills its worker every time also ends in
dead_letter instead of crash-looping.  A dead-lettered job keeps absorbing events for its
path (so a retry sees the latest) but is not requeued by them.  ``release()`` hands a
claimed job back unprocessed (a file not settled yet) without spending an attempt.

Every claim carries a random token remembered by the ``WorkQueue`` that claimed it: a
worker whose lease expired and was taken over cannot complete or fail the new holder's
job.  Completed jobs are pruned to the newest ``keep_completed``.

Paths are stored as UTF-8 bytes with ``surrogateescape``: a file name that is not valid
UTF-8 (git ``-z`` output decoded bytes-safely) must round-trip, and SQLite's TEXT cannot
hold lone surrogates.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regauto import statedb

QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
DEAD_LETTER = "dead_letter"
STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED, DEAD_LETTER)
EVENTS = ("create", "modify", "delete")

MAX_ERROR_CHARS = 4000  # a traceback is enough to act on; a megabyte of output is not
_CHUNK = 500  # ids or paths per IN (...) list, well below SQLite's variable limit

MIGRATIONS = [
    """
    CREATE TABLE work_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: a pruned id is never reused
        path BLOB NOT NULL UNIQUE,
        event TEXT NOT NULL CHECK (event IN ('create', 'modify', 'delete')),
        status TEXT NOT NULL
            CHECK (status IN ('queued', 'running', 'completed', 'failed', 'dead_letter')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        rerun INTEGER NOT NULL DEFAULT 0,
        rerun_event TEXT,
        worker TEXT,
        lease_token INTEGER,
        lease_until REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX work_queue_status ON work_queue (status, id)
    """,
]

# Expired leases first (they waited longest), then new work, then retries of failures:
# putting failed jobs last gives a transient failure some time before its next attempt.
_CLAIM_SQL = """
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

_MUTABLE = (
    "event", "status", "attempts", "last_error", "rerun", "rerun_event", "worker",
    "lease_token", "lease_until", "created_at", "updated_at",
)
_UPDATE_SQL = (
    "UPDATE work_queue SET " + ", ".join(f"{c} = :{c}" for c in _MUTABLE) + " WHERE id = :id"
)

Row = dict[str, Any]


@dataclass(frozen=True)
class Job:
    id: int
    path: str
    event: str
    status: str
    attempts: int
    last_error: str | None
    rerun: bool
    created_at: float
    updated_at: float
    worker: str | None = None  # who holds it (running) or last held it
    lease_until: float | None = None


# Inside WorkQueue the method ``list`` shadows the builtin for the type checker.
Jobs = list[Job]
Rows = list[Row]


def _net(before: bool, after: bool) -> str | None:
    if before:
        return "modify" if after else "delete"
    return "create" if after else None


def net_event(first: str, last: str) -> str | None:
    """The one event equivalent to ``first`` … ``last``; ``None`` when nothing is left to do."""
    return _net(first != "create", last != "delete")


def fold(state: str | None, events: Iterable[str]) -> str | None:
    """Apply ``events`` one by one to a pending event (``None``: no pending job).

    Folding one event at a time, and starting afresh after "nothing to do", makes the
    queue's contents depend only on the sequence of events, never on how they were
    batched.
    """
    for event in events:
        state = event if state is None else net_event(state, event)
    return state


def encode_path(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def decode_path(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "surrogateescape")


def _collapse(events: Iterable[tuple[str, str]]) -> dict[bytes, list[str]]:
    """Path → its events in this batch, in order, validating as it goes."""
    batch: dict[bytes, list[str]] = {}
    for path, event in events:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")
        p = os.fspath(path)
        if not isinstance(p, str) or not p:
            raise ValueError(f"a queued path must be a non-empty str, not {path!r}")
        batch.setdefault(encode_path(p), []).append(event)
    return batch


def _fresh(event: str, now: float) -> Row:
    return {
        "event": event, "status": QUEUED, "attempts": 0, "last_error": None, "rerun": 0,
        "rerun_event": None, "worker": None, "lease_token": None, "lease_until": None,
        "created_at": now, "updated_at": now,
    }


def _job(row: sqlite3.Row | Row) -> Job:
    return Job(
        id=row["id"], path=decode_path(row["path"]), event=row["event"], status=row["status"],
        attempts=row["attempts"], last_error=row["last_error"], rerun=bool(row["rerun"]),
        created_at=row["created_at"], updated_at=row["updated_at"], worker=row["worker"],
        lease_until=row["lease_until"],
    )


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


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

    def enqueue_events(self, events: Iterable[tuple[str, str]]) -> int:
        """Merge ``(path, event)`` pairs into the queue in one transaction.

        Returns the number of jobs inserted, changed or removed (a create+delete that
        cancels a pending create removes it).  Events that change nothing — a modify for a
        path already queued — write nothing, so an editor's burst of saves costs reads only.
        """
        batch = _collapse(events)
        if not batch:
            return 0
        now = self._clock()
        inserts: list[tuple[bytes, str, float, float]] = []
        updates: Rows = []
        deletes: list[tuple[int]] = []
        with statedb.transaction(self._conn):
            existing = self._rows_by_path(list(batch))
            for key, path_events in batch.items():
                row = existing.get(key)
                if row is None:
                    event = fold(None, path_events)
                    if event is not None:
                        inserts.append((key, event, now, now))
                    continue
                change = self._merge(row, path_events, now)
                if change == "update":
                    updates.append(row)
                elif change == "delete":
                    deletes.append((row["id"],))
            self._conn.executemany(
                "INSERT INTO work_queue (path, event, status, created_at, updated_at)"
                " VALUES (?, ?, 'queued', ?, ?)",
                inserts,
            )
            self._conn.executemany(_UPDATE_SQL, updates)
            self._conn.executemany("DELETE FROM work_queue WHERE id = ?", deletes)
        return len(inserts) + len(updates) + len(deletes)

    @staticmethod
    def _merge(row: Row, events: list[str], now: float) -> str | None:
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
            row.update(_fresh(event, now))
            return "update"
        event = fold(row["event"], events)  # queued, failed, dead_letter
        if event is None:
            return "delete"
        if event == row["event"]:
            return None
        row.update(event=event, updated_at=now)
        return "update"

    # -- consuming -------------------------------------------------------------------

    def claim(self, worker: str, limit: int = 100) -> Jobs:
        """Atomically take up to ``limit`` jobs for ``worker`` under a lease."""
        if limit < 1:
            return []
        now = self._clock()
        token = secrets.randbits(62)
        params = {
            "worker": worker, "token": token, "now": now, "until": now + self.lease_s,
            "limit": limit,
        }
        with statedb.transaction(self._conn):
            self._expire_exhausted(now)
            rows = self._conn.execute(_CLAIM_SQL, params).fetchall()
        jobs = sorted((_job(r) for r in rows), key=lambda j: j.id)
        for job in jobs:
            self._tokens[job.id] = token
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
                    rerun = _net(row["event"] != "delete", row["rerun_event"] != "delete")
                if rerun is not None:
                    row.update(_fresh(rerun, now))
                else:
                    row.update(
                        status=COMPLETED, rerun=0, rerun_event=None, lease_token=None,
                        lease_until=None, updated_at=now,
                    )
            self._conn.executemany(_UPDATE_SQL, rows)
            self._prune()

    def fail(self, job_id: int, error: str, *, worker: str | None = None) -> None:
        """Record a failure: failed (claimable again) or, out of attempts, dead_letter."""
        now = self._clock()
        with statedb.transaction(self._conn):
            for row in self._our_running([job_id], forget=True, worker=worker):
                self._settle_failure(row, error, now)

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
                    row["event"] = event
                row.update(
                    status=QUEUED, attempts=max(0, row["attempts"] - 1), rerun=0,
                    rerun_event=None, lease_token=None, lease_until=None, updated_at=now,
                )
                self._conn.execute(_UPDATE_SQL, row)
        return len(rows)

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
        return None if row is None else _job(row)

    def list(self, status: str | None = None) -> Jobs:
        if status is None:
            rows = self._conn.execute("SELECT * FROM work_queue ORDER BY id").fetchall()
        else:
            _check_statuses([status])
            rows = self._conn.execute(
                "SELECT * FROM work_queue WHERE status = ? ORDER BY id", (status,)
            ).fetchall()
        return [_job(r) for r in rows]

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
        _check_statuses(wanted)
        if not wanted:
            return 0
        with statedb.transaction(self._conn):
            cur = self._conn.execute(
                f"DELETE FROM work_queue WHERE status IN ({_marks(len(wanted))})", wanted
            )
        return cur.rowcount

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        rows = self._conn.execute("SELECT status, count(*) FROM work_queue GROUP BY status")
        counts.update({status: n for status, n in rows})
        return counts


    # -- internals (called inside a transaction) --------------------------------------

    def _select(self, sql: str, params: Sequence[Any]) -> Rows:
        # Plain tuples zipped with the column names: twice as fast as dict(sqlite3.Row),
        # which is most of the cost of re-enqueueing thousands of pending paths.
        cur = self._conn.cursor()
        cur.row_factory = None
        cur.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur]

    def _rows_by_path(self, keys: Sequence[bytes]) -> dict[bytes, Row]:
        found: dict[bytes, Row] = {}
        for chunk in _chunks(keys):
            sql = f"SELECT * FROM work_queue WHERE path IN ({_marks(len(chunk))})"
            for r in self._select(sql, chunk):
                found[bytes(r["path"])] = r
        return found

    def _our_running(
        self, ids: Sequence[int], *, forget: bool, worker: str | None = None
    ) -> Rows:
        """The running rows among ``ids`` that we may finish.

        A job we claimed must still carry our token (else its lease expired and someone
        else took it); a job claimed through another instance is accepted as it stands,
        or only if ``worker`` holds it when that is given.
        """
        rows: Rows = []
        for chunk in _chunks(ids):
            sql = (
                "SELECT * FROM work_queue WHERE status = 'running'"
                f" AND id IN ({_marks(len(chunk))})"
            )
            rows.extend(self._select(sql, chunk))
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

    def _settle_failure(self, row: Row, error: str, now: float) -> None:
        if row["rerun"]:
            event = net_event(row["event"], row["rerun_event"])
            if event is None:  # created and deleted again meanwhile: nothing left to retry
                self._conn.execute("DELETE FROM work_queue WHERE id = ?", (row["id"],))
                return
            row["event"] = event
        exhausted = row["attempts"] >= self.max_attempts
        row.update(
            status=DEAD_LETTER if exhausted else FAILED, last_error=error[:MAX_ERROR_CHARS],
            rerun=0, rerun_event=None, lease_token=None, lease_until=None, updated_at=now,
        )
        self._conn.execute(_UPDATE_SQL, row)

    def _expire_exhausted(self, now: float) -> None:
        """Expired leases of jobs out of attempts go to dead_letter, not to a new worker."""
        rows = self._select(
            "SELECT * FROM work_queue WHERE status = 'running' AND lease_until <= ?"
            " AND attempts >= ?",
            (now, self.max_attempts),
        )
        for r in rows:
            error = (
                f"lease of worker {r['worker']} expired on attempt {r['attempts']} of"
                f" {self.max_attempts} (the worker died or hung)"
            )
            self._settle_failure(r, error, now)

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


def _check_statuses(statuses: Iterable[str]) -> None:
    for s in statuses:
        if s not in STATUSES:
            raise ValueError(f"unknown job status {s!r}; expected one of {', '.join(STATUSES)}")
