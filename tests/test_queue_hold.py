"""``WorkQueue.hold``, the hooks' claim: queue these paths and claim exactly them — and the
content source each job carries (issue 11, "the design's shape for the hooks")."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from regauto import statedb
from regauto.events.queue_rows import MIGRATIONS
from regauto.events.work_queue import Want, WorkQueue


def test_hold_queues_and_claims_exactly_its_paths(tmp_path: Path) -> None:
    with WorkQueue(tmp_path) as q:
        q.enqueue(["other.md"])
        held, busy = q.hold("hook", [Want("a.md"), Want("new.md", "create", "old.md")],
                            source="index", reason="pre-commit")
        assert busy == []
        assert [(j.path, j.status, j.source, j.reason, j.old_path) for j in held] == [
            ("a.md", "running", "index", "pre-commit", None),
            ("new.md", "running", "index", "pre-commit", "old.md")]
        # The daemon's claim gets the other work only.
        assert [j.path for j in q.claim("daemon")] == ["other.md"]


def test_a_path_another_live_worker_holds_is_busy(tmp_path: Path) -> None:
    with WorkQueue(tmp_path) as q:
        q.enqueue(["a.md"])
        q.claim("daemon")
        held, busy = q.hold("hook", [Want("a.md")], source="index", reason="pre-commit")
        assert (held, busy) == ([], ["a.md"])


def test_a_pending_work_tree_job_comes_back_after_an_index_hold(tmp_path: Path) -> None:
    """The index is not the work tree: the watcher's pending job still has to run."""
    with WorkQueue(tmp_path) as q:
        q.enqueue_events([("a.md", "modify")], reason="watch")
        held, _ = q.hold("hook", [Want("a.md")], source="index", reason="pre-commit")
        q.complete(j.id for j in held)
        (job,) = q.list()
        assert (job.status, job.source, job.reason) == ("queued", "worktree", "rerun")


def test_a_work_tree_hold_absorbs_the_pending_job(tmp_path: Path) -> None:
    with WorkQueue(tmp_path) as q:
        q.enqueue_events([("a.md", "modify")], reason="watch")
        held, _ = q.hold("hook", [Want("a.md")], source="worktree", reason="post-checkout")
        q.complete(j.id for j in held)
        (job,) = q.list()
        assert (job.status, job.source, job.reason) == ("completed", "worktree", "post-checkout")


def test_a_queue_of_the_first_schema_gains_the_source_in_place(tmp_path: Path) -> None:
    conn = statedb.connect(tmp_path)
    statedb.migrate(conn, "work_queue", MIGRATIONS[:1])
    conn.execute("INSERT INTO work_queue (path, event, status, created_at, updated_at)"
                 " VALUES (?, 'modify', 'queued', 0, 0)", (b"a.md",))
    conn.close()
    with WorkQueue(tmp_path) as q:
        (job,) = q.list()
        assert (job.path, job.source, job.reason) == ("a.md", "worktree", None)
    conn = sqlite3.connect(tmp_path / statedb.DB_NAME)
    version = conn.execute(
        "SELECT version FROM schema_versions WHERE component = 'work_queue'").fetchone()
    conn.close()
    assert version == (len(MIGRATIONS),)
