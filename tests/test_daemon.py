"""``regauto daemon start|stop|status``: a real detached watcher, its pid file and log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import run_regauto
from regauto.project import Project
from regauto.watch import daemon
from watch_helpers import WatchProcess, records, stop_daemon, wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def repo(git_repo: Path) -> Iterator[Path]:
    (git_repo / "docs").mkdir()
    yield git_repo
    stop_daemon(git_repo)


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


def test_start_rotates_a_full_log(repo: Path) -> None:
    state = Project.open(repo).state_dir
    state.mkdir(parents=True, exist_ok=True)
    old = b"old line\n" * (daemon.LOG_MAX_BYTES // 9 + 1)
    (state / "daemon.log").write_bytes(old)
    r = run_regauto("daemon", "start", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert (state / "daemon.log.1").read_bytes() == old
    log = (state / "daemon.log").read_text()
    assert log.startswith("--- ") and "daemon start" in log and "old line" not in log
    r = run_regauto("daemon", "stop", cwd=repo)
    assert r.returncode == 0 and "stopped" in (state / "daemon.log").read_text()


def test_a_running_daemon_moves_its_output_to_a_new_log(tmp_path: Path) -> None:
    """While it runs, the daemon's stdout and stderr are the log: rotating renames the full
    file and the very process goes on writing to a new one (what the watcher does before
    each line it logs)."""
    log = tmp_path / "daemon.log"
    script = (
        "import sys; from pathlib import Path; from regauto.watch import daemon\n"
        "print('before'); sys.stdout.flush()\n"
        f"assert daemon.rotate_log(Path({str(log)!r}), 5, redirect=True)\n"
        "print('after'); print('to stderr', file=sys.stderr)\n"
        f"assert not daemon.rotate_log(Path({str(log)!r}), 1000, redirect=True)\n"
    )
    with log.open("ab") as out:
        p = subprocess.run([sys.executable, "-c", script], stdout=out, stderr=subprocess.STDOUT,
                           check=False)
    assert p.returncode == 0, log.read_text()
    assert (tmp_path / "daemon.log.1").read_text() == "before\n"
    assert log.read_text() == "after\nto stderr\n"
