"""``regauto daemon start|stop|status``: a real detached watcher, its pid file and log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_regauto
from regauto.project import Project
from regauto.watch import daemon
from watch_helpers import WatchProcess, records, wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def repo(git_repo: Path) -> Iterator[Path]:
    (git_repo / "docs").mkdir()
    yield git_repo
    # Never leave a daemon behind: stop it, and kill the one pid we started if need be.
    state = Project.open(git_repo).state_dir
    pid = daemon.read_pid(daemon.pid_file(state))
    run_regauto("daemon", "stop", "--timeout", "10", cwd=git_repo)
    if pid is not None and daemon.watcher_running(state):
        os.kill(pid, signal.SIGKILL)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_start_status_register_stop(repo: Path) -> None:
    state = Project.open(repo).state_dir
    r = run_regauto("daemon", "status", cwd=repo)
    assert r.returncode == 1 and "not running" in r.stdout

    r = run_regauto("daemon", "start", cwd=repo)
    assert r.returncode == 0, r.stderr
    pid = daemon.read_pid(state / "daemon.pid")
    assert pid is not None and f"pid {pid}" in r.stderr

    r = run_regauto("daemon", "status", cwd=repo)
    assert r.returncode == 0, r.stdout
    assert f"running (pid {pid})" in r.stdout and str(state / "daemon.log") in r.stdout

    (repo / "docs" / "background.md").write_text("# Background\n")
    wait_for("the daemon to register the file", lambda: "docs/background.md" in records(repo))
    assert "registered docs/background.md" in (state / "daemon.log").read_text()

    r = run_regauto("daemon", "start", cwd=repo)  # one daemon per repository
    assert r.returncode == 2 and "already running" in r.stderr

    r = run_regauto("daemon", "stop", cwd=repo)
    assert r.returncode == 0 and f"stopped (pid {pid})" in r.stderr
    assert not (state / "daemon.pid").exists()
    assert not daemon.watcher_running(state)
    assert "stopped" in (state / "daemon.log").read_text()

    r = run_regauto("daemon", "status", cwd=repo)
    assert r.returncode == 1 and "not running" in r.stdout
    r = run_regauto("daemon", "stop", cwd=repo)  # stopping a stopped daemon is fine
    assert r.returncode == 0 and "not running" in r.stderr


def test_stale_pid_file_is_handled(repo: Path) -> None:
    state = Project.open(repo).state_dir
    state.mkdir(parents=True, exist_ok=True)
    gone = dead_pid()
    (state / "daemon.pid").write_text(f"{gone}\n")
    r = run_regauto("daemon", "status", cwd=repo)
    assert r.returncode == 1
    assert f"stale pid file of pid {gone}" in r.stdout
    assert not (state / "daemon.pid").exists()

    # A pid that is alive but is not a watcher (our own) is stale too: no lock held.
    (state / "daemon.pid").write_text(f"{os.getpid()}\n")
    r = run_regauto("daemon", "start", cwd=repo)
    assert r.returncode == 0, r.stderr
    pid = daemon.read_pid(state / "daemon.pid")
    assert pid not in (None, os.getpid())
    assert run_regauto("daemon", "status", cwd=repo).returncode == 0


def test_a_foreground_watch_blocks_start(repo: Path, tmp_path: Path) -> None:
    w = WatchProcess(repo, tmp_path / "watch.log")
    try:
        r = run_regauto("daemon", "start", cwd=repo)
        assert r.returncode == 2 and "already running" in r.stderr
        r = run_regauto("daemon", "status", cwd=repo)
        assert r.returncode == 1 and "foreground" in r.stdout
    finally:
        assert w.terminate() == 0
