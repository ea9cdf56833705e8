"""A large state database damaged in its middle heals wherever the damage is first read.

A file too big for a full check on every open passes the checks on open; the damage shows
later, in whatever query first reads the bad page — inside a transaction or not.  Every
command still ends as it would on a healthy database, with one warning line naming the
old file, and a commit is never blocked (issue 10, Deliver 8).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_tree
from pipeline_helpers import records, regauto

PAGE = 4096
STATE = Path(".git/regauto")


def built(repo: Path) -> Path:
    """A repository with 800 registered documents, committed through the hook, and its
    work queue used; returns the state database (checkpointed, > 64 KiB)."""
    assert regauto(repo, "init", "--hooks", "git").returncode == 0
    make_tree(repo, {f"d/f{i}.txt": f"file {i}\n" for i in range(800)})
    assert regauto(repo, "sync", "--all").returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    assert regauto(repo, "queue", "add", "d/f1.txt").returncode == 0
    db = repo / STATE / "state.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert db.stat().st_size > 64 * 1024
    return db


def damage(db: Path, pages: range) -> None:
    """Overwrite whole pages with 0xff, as a bad sector or a torn write would (no SQLite
    connection is open on the file while this runs)."""
    for extra in db.parent.glob("state.db-*"):
        extra.unlink()
    with open(db, "r+b") as f:
        for n in pages:
            f.seek((n - 1) * PAGE)
            f.write(b"\xff" * PAGE)


def _patch_of_a_new_record(repo: Path, known: set[str]) -> str:
    """A patch adding new.txt's record under an id above every one the registry holds."""
    base = regauto(repo, "hash").stdout.strip()
    doc_id = str(int(max(known)) + 1).zfill(16)
    rec = dict(records(repo)[0], doc_id=doc_id, path="new.txt")  # a valid record's shape
    return json.dumps({"base_hash": base, "source": "test", "reason": "healed run",
                       "changes": {doc_id: rec}})


COMMANDS: list[tuple[str, ...]] = [
    ("sync", "new.txt"), ("fix",), ("queue", "list"), ("queue", "run"), ("stats",),
    ("check",), ("commit",), ("patch", "-"),
]


@pytest.mark.parametrize("where", ["one page in the middle", "the second page",
                                   "every page but the header"])
def test_every_command_heals_a_database_damaged_in_its_middle(
        git_repo: Path, tmp_path: Path, where: str) -> None:
    template = tmp_path / "template"
    shutil.move(str(git_repo), template)
    db = built(template)
    count = db.stat().st_size // PAGE
    pages = {"one page in the middle": range(count // 2, count // 2 + 1),
             "the second page": range(2, 3),  # the schema versions every client reads first
             "every page but the header": range(2, count + 1)}[where]
    damage(db, pages)
    before = {r["doc_id"] for r in records(template)}

    for args in COMMANDS:
        repo = tmp_path / "-".join(args)
        shutil.copytree(template, repo, symlinks=True)
        make_tree(repo, {"new.txt": "new\n"})
        if args == ("commit",):
            git(repo, "add", "new.txt")
            proc = subprocess.run(["git", "commit", "-qm", "new"], cwd=repo,
                                  capture_output=True, text=True, check=False, timeout=120)
        elif args == ("patch", "-"):  # the patch is read once: the run after healing keeps it
            proc = subprocess.run([sys.executable, "-m", "regauto", "patch", "-"], cwd=repo,
                                  input=_patch_of_a_new_record(repo, before), text=True,
                                  capture_output=True, check=False, timeout=120)
        else:
            proc = regauto(repo, *args)
        said = f"{args}: rc={proc.returncode}\n{proc.stdout}{proc.stderr}"
        assert proc.returncode in (0, 1) and "internal error" not in proc.stderr, said
        if args in {("fix",), ("check",)}:  # new.txt is untracked: check says so, fix fixes
            assert proc.returncode == (1 if args == ("check",) else 0), said
        else:
            assert proc.returncode == 0, said
        again = regauto(repo, "queue", "list")  # a command that did not read the damage
        assert again.returncode == 0, again.stderr  # leaves it to the next one
        warnings = [line for line in (proc.stderr + again.stderr).splitlines()
                    if "state database" in line]
        assert len(warnings) <= 1, said + again.stderr  # one warning, once
        if args in {("sync", "new.txt"), ("fix",), ("commit",), ("patch", "-")}:
            new = {r["doc_id"] for r in records(repo)} - before
            assert len(new) == 1 and min(new) > max(before), said  # floor from the registry
        if args == ("commit",):
            assert git(repo, "status", "--porcelain", "--", "new.txt") == "", said


def test_queue_run_heals_instead_of_failing_its_jobs(git_repo: Path) -> None:
    """Damage a job cannot cause (the id index, read while allocating) is not charged to
    the jobs as a failure: the run heals the database and runs again."""
    db = built(git_repo)
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'id_index'"
                        ).fetchone()[0]
    conn.close()
    make_tree(git_repo, {"new.txt": "new\n"})
    assert regauto(git_repo, "queue", "add", "new.txt").returncode == 0
    damage(db, range(root, root + 1))
    proc = regauto(git_repo, "queue", "run")
    assert proc.returncode == 0 and "failed" not in proc.stderr, proc.stderr
    assert "state database" in proc.stderr
