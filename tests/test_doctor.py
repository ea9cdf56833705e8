"""``regauto doctor`` on real clones: healthy, then each problem made for real, the fix the
doctor prints run as printed, and the doctor clean again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import git, make_tree, run_regauto, wait_for_file
from regauto import doctor
from regauto.events.lock_manager import LockManager
from regauto.registry import journal

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    make_tree(git_repo, {"a.md": "# A\n", "pkg/mod.py": "x = 1\n"})
    assert run_regauto("init", "--hooks", "git", cwd=git_repo).returncode == 0
    assert run_regauto("sync", "--all", "-q", cwd=git_repo).returncode == 0
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "regauto")
    return git_repo


def state_dir(repo: Path) -> Path:
    return Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / "regauto"


def checkup(repo: Path, env: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    r = run_regauto("doctor", "--format", "json", cwd=repo, env=env)
    assert r.returncode in (0, 1), r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] == (r.returncode == 0)
    return r.returncode, data["checks"]


def problems(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in checks if c["status"] != doctor.OK]


def the_problem(repo: Path, status: str, check: str,
                env: dict[str, str] | None = None) -> dict[str, Any]:
    rc, checks = checkup(repo, env)
    (found,) = problems(checks)
    assert (found["status"], found["check"]) == (status, check), found
    assert rc == (1 if status == doctor.FAIL else 0)
    assert found["fix"]
    return found


def run_fix(repo: Path, fix: str, env: dict[str, str] | None = None) -> None:
    r = subprocess.run(fix, shell=True, cwd=repo, capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, check=False)
    assert r.returncode == 0, f"{fix}: {r.stderr}"


def assert_clean(repo: Path) -> None:
    rc, checks = checkup(repo)
    assert rc == 0 and problems(checks) == [], problems(checks)


def test_a_healthy_clone_is_all_ok(repo: Path) -> None:
    rc, checks = checkup(repo)
    assert rc == 0 and problems(checks) == []
    assert {c["check"] for c in checks} >= {
        "git", "configuration", "registry", "hooks", "merge driver", "python",
        "interrupted write", "queue", "locks", "daemon"}
    text = run_regauto("doctor", cwd=repo).stdout
    assert ("ok    hooks: pre-commit, pre-merge-commit, post-checkout, post-merge, post-commit, "
            "post-rewrite: regauto's, run") in text


def test_a_removed_hook_fails_and_init_puts_it_back(repo: Path) -> None:
    (state_dir(repo).parent / "hooks" / "post-merge").unlink()
    found = the_problem(repo, doctor.FAIL, "hooks")
    assert "post-merge" in found["message"]
    assert found["fix"] == "regauto init --hooks git"
    run_fix(repo, found["fix"])
    assert_clean(repo)


def test_no_hooks_at_all_is_a_warning(git_repo: Path) -> None:
    assert run_regauto("init", cwd=git_repo).returncode == 0  # --hooks none
    found = the_problem(git_repo, doctor.WARN, "hooks")
    run_fix(git_repo, found["fix"])
    assert_clean(git_repo)


def test_a_driver_pointing_at_a_missing_interpreter_fails(repo: Path) -> None:
    git(repo, "config", "merge.regauto.driver",
        "/nonexistent/venv/bin/python -m regauto merge-driver %O %A %B %P")
    found = the_problem(repo, doctor.FAIL, "merge driver")
    assert "/nonexistent/venv/bin/python does not exist" in found["message"]
    run_fix(repo, found["fix"])
    assert_clean(repo)


def test_a_driver_whose_interpreter_lacks_regauto_fails(repo: Path, tmp_path: Path) -> None:
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.write_text("#!/bin/sh\nexit 1\n")  # runs, imports nothing
    python.chmod(0o755)
    git(repo, "config", "merge.regauto.driver", f"{python} -m regauto merge-driver %O %A %B %P")
    found = the_problem(repo, doctor.FAIL, "merge driver")
    assert "cannot import regauto" in found["message"]
    assert found["fix"].startswith("git config merge.regauto.driver ")
    run_fix(repo, found["fix"])
    assert_clean(repo)


def test_a_leftover_journal_is_reported_and_the_next_command_finishes_it(repo: Path) -> None:
    # What a writer killed between committing its journal and removing it leaves.
    state = state_dir(repo)
    base = run_regauto("hash", cwd=repo).stdout.strip()
    journal.commit_journal(state, journal.Journal(str(repo / ".regauto" / "registry"),
                                                  base, base, []))
    found = the_problem(repo, doctor.WARN, "interrupted write")
    assert "journal.json" in found["message"]
    run_fix(repo, found["fix"])
    assert not journal.journal_path(state).exists()
    assert_clean(repo)


@contextmanager
def holding_the_registry_lock(repo: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Another process holding the registry's flock, as a running writer does."""
    lock = LockManager(state_dir(repo)).lock_file("registry", "registry")
    lock.parent.mkdir(parents=True, exist_ok=True)
    ready = tmp_path / "locked"
    code = ("import fcntl, os, sys, time\n"
            f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            f"open({str(ready)!r}, 'w').close()\n"
            "time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_for_file(ready)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_held_lock_names_its_holder_and_kill_frees_it(repo: Path, tmp_path: Path) -> None:
    with holding_the_registry_lock(repo, tmp_path) as holder:
        found = the_problem(repo, doctor.WARN, "locks")
        assert f"pid {holder.pid}" in found["message"] and "registry lock" in found["message"]
        assert found["fix"].endswith(f"kill {holder.pid}")
        run_fix(repo, found["fix"].rpartition(": ")[2])
        holder.wait(10)
        assert_clean(repo)


def test_a_dead_letter_is_reported_and_retrying_it_clears_it(repo: Path, tmp_path: Path) -> None:
    (repo / "regauto.toml").write_text("lock_timeout_s = 0.2\n[queue]\nmax_attempts = 1\n")
    (repo / "a.md").write_text("# A, edited\n")
    with holding_the_registry_lock(repo, tmp_path):
        run_regauto("queue", "add", "a.md", cwd=repo)
        r = run_regauto("queue", "run", cwd=repo)
        assert r.returncode == 1 and "dead letter" in r.stderr
    found = the_problem(repo, doctor.WARN, "queue")
    assert "1 dead letter(s)" in found["message"]
    run_fix(repo, found["fix"])
    assert_clean(repo)


def test_an_old_git_is_a_warning(repo: Path, tmp_path: Path) -> None:
    fake = tmp_path / "oldgit"
    fake.mkdir()
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (fake / "git").write_text(
        '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "git version 2.20.1"; exit 0; fi\n'
        f'exec {real} "$@"\n')
    (fake / "git").chmod(0o755)
    env = {"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    found = the_problem(repo, doctor.WARN, "git", env=env)
    assert "git 2.20.1 is older than 2.24" in found["message"]
    assert found["fix"] == "upgrade git to 2.24 or newer"
    assert_clean(repo)  # the upgrade: the real git, first on PATH again


def test_another_python_is_a_warning_until_this_one_writes(repo: Path) -> None:
    stats = state_dir(repo) / "writer-stats.json"
    data = json.loads(stats.read_text())
    assert data["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    stats.write_text(json.dumps({**data, "python": "3.9"}))
    found = the_problem(repo, doctor.WARN, "python")
    assert "last written by Python 3.9" in found["message"]
    assert "python3.9 -m regauto init --hooks git" in found["fix"]
    # No Python 3.9 here: the other way out, a write by this Python, which records it.
    (repo / "pkg" / "mod.py").write_text("x = 2\n")
    assert run_regauto("sync", "pkg/mod.py", cwd=repo).returncode == 0
    assert_clean(repo)


def test_an_invalid_configuration_fails_with_its_position(repo: Path) -> None:
    good = (repo / "regauto.toml").read_text()
    (repo / "regauto.toml").write_text("no_such_key = 1\n" + good)
    found = the_problem(repo, doctor.FAIL, "configuration")
    assert "regauto.toml: key 'no_such_key': unknown key" in found["message"]
    (repo / "regauto.toml").write_text(good)  # the fix: correct what the message names
    assert_clean(repo)


def test_a_big_index_suggests_split_index_and_untracked_cache(repo: Path) -> None:
    report = doctor.run(repo, many_files=2)
    found = [line for line in report.lines if line.status != doctor.OK]
    assert [line.fix for line in found] == ["git config core.splitIndex true",
                                            "git config core.untrackedCache true"]
    for line in found:
        assert line.fix is not None
        run_fix(repo, line.fix)
    assert not [line for line in doctor.run(repo, many_files=2).lines
                if line.status != doctor.OK]


def test_text_output_names_each_fix(repo: Path) -> None:
    git(repo, "config", "--unset", "merge.regauto.driver")
    r = run_regauto("doctor", cwd=repo)
    assert r.returncode == 1
    assert "fail  merge driver: merge.regauto.driver is not configured" in r.stdout
    assert "      fix: regauto init" in r.stdout


def test_a_corrupt_state_database_is_reported_and_the_next_command_heals_it(repo: Path) -> None:
    db = state_dir(repo) / "state.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for extra in db.parent.glob("state.db-*"):
        extra.unlink()
    with open(db, "r+b") as f:  # every page but the header, as a bad sector would
        f.seek(4096)
        f.write(b"\xff" * max(4096, db.stat().st_size - 4096))
    found = the_problem(repo, doctor.WARN, "state database")
    assert str(db) in found["message"] and "corrupt" in found["message"]
    assert db.exists() and not list(db.parent.glob("state.db.corrupt-*"))  # doctor only looks
    run_fix(repo, found["fix"])
    assert list(db.parent.glob("state.db.corrupt-*"))
    assert_clean(repo)
