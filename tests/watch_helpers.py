"""Helpers for the watcher, daemon and queue tests: read the registry and wait for it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from regauto.project import Project
from regauto.registry import writer_stats
from regauto.registry.reader import open_reader

T = TypeVar("T")


def records(repo: Path) -> dict[str, dict[str, Any]]:
    """The registry's records by path, read as any regauto process would."""
    return {r["path"]: r for r in open_reader(Project.open(repo)).all_records()}


def writes(repo: Path) -> int:
    return int(writer_stats.load(Project.open(repo).state_dir)["writes"])


def wait_for(what: str, fn: Callable[[], T], timeout: float = 10.0, every: float = 0.05) -> T:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


class WatchProcess:
    """A real ``regauto watch`` in a subprocess, its stderr in a log file."""

    def __init__(self, repo: Path, log: Path) -> None:
        self.repo = repo
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "regauto", "watch"], cwd=repo,
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ},
        )
        wait_for("the watcher to start", lambda: "watching" in self.log() or self._dead())

    def _dead(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"regauto watch exited {self.proc.returncode}:\n{self.log()}")
        return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self._log.closed:
            self._log.close()
            print(f"--- regauto watch log ({self.log_path}):\n{self.log()}")  # shown on failure


def stop_daemon(root: Path) -> None:
    """Never leave a daemon behind: stop it, and SIGKILL the pid it ran under if it is
    still watching (a test's teardown)."""
    from regauto.watch import daemon
    from tests.conftest import run_regauto

    state = Project.open(root).state_dir
    pid = daemon.read_pid(daemon.pid_file(state))
    run_regauto("daemon", "stop", "--timeout", "10", cwd=root)
    if pid is not None and daemon.watcher_running(state):
        os.kill(pid, signal.SIGKILL)
