"""A corrupt state database heals instead of blocking every commit (issue 10, ``r14``).

Real SQLite files damaged as a crash or a bad disk would: truncated, overwritten with
garbage.  The commit goes through, one warning says where the old file went, and sync,
fix, the queue and stats work after; new ids stay above every id in the registry.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import git
from pipeline_helpers import records, regauto

STATE = ".git/regauto"


def _damage(db: Path, how: str) -> None:
    for extra in db.parent.glob(db.name + "-*"):
        extra.unlink()  # -wal, -shm: the damage must be in the file itself
    if how == "truncated":
        os.truncate(db, db.stat().st_size // 2)
    else:
        db.write_bytes(b"this is not SQLite at all\n" * 200)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_corrupt_state_database_never_blocks_a_commit(git_repo: Path, how: str) -> None:
    repo = git_repo
    assert regauto(repo, "init", "--hooks", "git").returncode == 0
    (repo / "a.txt").write_text("a\n")
    assert regauto(repo, "sync", "a.txt").returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    before = {r["doc_id"] for r in records(repo)}
    db = repo / STATE / "state.db"
    _damage(db, how)

    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    commit = git_commit(repo, "b")
    assert commit.returncode == 0, commit.stderr
    warnings = [line for line in commit.stderr.splitlines() if "state database" in line]
    assert len(warnings) == 1 and "corrupt" in warnings[0], commit.stderr
    assert [p.name for p in db.parent.glob("state.db.corrupt-*")] != []
    new = {r["doc_id"] for r in records(repo)} - before
    assert len(new) == 1 and min(new) > max(before)  # the floor came from the registry

    for args in (["sync", "b.txt"], ["fix"], ["queue", "list"], ["stats"]):
        proc = regauto(repo, *args)
        assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
        assert "state database" not in proc.stderr  # healed once, not again and again


def test_a_corrupt_state_database_found_in_use_is_healed_for_the_next_run(
        tmp_path: Path) -> None:
    from regauto import statedb

    conn = statedb.connect(tmp_path)
    conn.execute("CREATE TABLE t (x TEXT)")
    with statedb.transaction(conn):
        conn.executemany("INSERT INTO t VALUES (?)", ((f"{i:0200d}",) for i in range(3000)))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    db = tmp_path / statedb.DB_NAME
    assert db.stat().st_size > 64 * 1024  # too big for a full check on every open
    with open(db, "r+b") as f:  # a page in the middle of the table overwritten
        f.seek(db.stat().st_size // 2)
        f.write(b"\xff" * 8192)
    conn = statedb.connect(tmp_path)
    assert list(tmp_path.glob("state.db.corrupt-*")) == []  # not seen on open
    with pytest.raises(sqlite3.DatabaseError, match="malformed") as failed:
        with statedb.transaction(conn):
            conn.execute("UPDATE t SET x = x || 'y'")
    assert list(tmp_path.glob("state.db.corrupt-*")) == []  # not moved under a live conn
    assert statedb.recover(failed.value)  # what the command's boundary does, then reruns
    assert list(tmp_path.glob("state.db.corrupt-*")) != []
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")  # closed before its file moved (its WAL stays its own)
    conn = statedb.connect(tmp_path)
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    conn.close()
    assert not statedb.recover(ValueError("not a database problem"))


def git_commit(repo: Path, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-qm", message], cwd=repo, capture_output=True,
                          text=True, check=False, timeout=120)
