"""The work queue's table and rows: schema, migrations, the job model, event folding.

A job says "look at this path again"; events are hints, so the queue keeps only their net
effect.  Whether the path existed before the first event and after the last one is all that
matters (``net_event``): create+modify → create, create+delete → nothing, delete+create →
modify, modify+delete → delete.  Events are folded one at a time (``fold``), so the queue
ends the same however the watcher batched them.

A job also says where its content is read from (``source``): the work tree (the watcher,
``queue add``, the catch-up after a checkout) or git's index (the commit hook, which records
what is staged), with the ``reason`` that queued it and, for the new side of a rename git
detected, the path it came from (``old_path``).

Paths are stored as UTF-8 bytes with ``surrogateescape``: a file name that is not valid
UTF-8 (git ``-z`` output decoded bytes-safely) must round-trip, and SQLite's TEXT cannot
hold lone surrogates.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

QUEUED = "queued"
RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"
DEAD_LETTER = "dead_letter"
STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED, DEAD_LETTER)
PENDING = (QUEUED, FAILED, DEAD_LETTER)
EVENTS = ("create", "modify", "delete")
WORKTREE = "worktree"
INDEX = "index"
SOURCES = (WORKTREE, INDEX)

MAX_ERROR_CHARS = 4000  # a traceback is enough to act on; a megabyte of output is not
CHUNK = 500  # ids or paths per IN (...) list, well below SQLite's variable limit

# Applied in order by ``statedb.migrate``, each recorded in the transaction that applies it.
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
    """
    ALTER TABLE work_queue ADD COLUMN source TEXT NOT NULL DEFAULT 'worktree'
        CHECK (source IN ('worktree', 'index'));
    ALTER TABLE work_queue ADD COLUMN reason TEXT;
    ALTER TABLE work_queue ADD COLUMN old_path BLOB
    """,
]

MUTABLE = (
    "event", "status", "attempts", "last_error", "rerun", "rerun_event", "worker",
    "lease_token", "lease_until", "created_at", "updated_at", "source", "reason", "old_path",
)
UPDATE_SQL = (
    "UPDATE work_queue SET " + ", ".join(f"{c} = :{c}" for c in MUTABLE) + " WHERE id = :id"
)

Row = dict[str, Any]
Rows = list[Row]


class Job(NamedTuple):
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
    source: str = WORKTREE  # where its content is read: the work tree or git's index
    reason: str | None = None  # what queued it: "watch", "pre-commit", "post-checkout", …
    old_path: str | None = None  # the path git says it was renamed from


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


def checked_path(path: str) -> bytes:
    p = os.fspath(path)
    if not isinstance(p, str) or not p:
        raise ValueError(f"a queued path must be a non-empty str, not {path!r}")
    return encode_path(p)


def check_event(event: str) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}; expected one of {', '.join(EVENTS)}")


def collapse(events: Iterable[tuple[str, str]]) -> dict[bytes, list[str]]:
    """Path → its events in this batch, in order, validating as it goes."""
    batch: dict[bytes, list[str]] = {}
    for path, event in events:
        check_event(event)
        batch.setdefault(checked_path(path), []).append(event)
    return batch


def fresh(event: str, now: float, *, source: str = WORKTREE, reason: str | None = None,
          old_path: bytes | None = None) -> Row:
    """The mutable columns of a job newly queued."""
    return {
        "event": event, "status": QUEUED, "attempts": 0, "last_error": None, "rerun": 0,
        "rerun_event": None, "worker": None, "lease_token": None, "lease_until": None,
        "created_at": now, "updated_at": now, "source": source, "reason": reason,
        "old_path": old_path,
    }


def to_job(row: sqlite3.Row | Row) -> Job:
    old = row["old_path"]
    return Job(
        id=row["id"], path=decode_path(row["path"]), event=row["event"], status=row["status"],
        attempts=row["attempts"], last_error=row["last_error"], rerun=bool(row["rerun"]),
        created_at=row["created_at"], updated_at=row["updated_at"], worker=row["worker"],
        lease_until=row["lease_until"], source=row["source"], reason=row["reason"],
        old_path=None if old is None else decode_path(old),
    )


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def marks(n: int) -> str:
    return ", ".join("?" * n)


def select(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Rows:
    """Rows as dicts.  Plain tuples zipped with the column names: twice as fast as
    dict(sqlite3.Row), which is most of the cost of re-enqueueing thousands of paths."""
    cur = conn.cursor()
    cur.row_factory = None
    cur.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur]


def rows_by_path(conn: sqlite3.Connection, keys: Sequence[bytes]) -> dict[bytes, Row]:
    found: dict[bytes, Row] = {}
    for chunk in chunks(keys):
        sql = f"SELECT * FROM work_queue WHERE path IN ({marks(len(chunk))})"
        for r in select(conn, sql, chunk):
            found[bytes(r["path"])] = r
    return found


def check_statuses(statuses: Iterable[str]) -> None:
    for s in statuses:
        if s not in STATUSES:
            raise ValueError(f"unknown job status {s!r}; expected one of {', '.join(STATUSES)}")
