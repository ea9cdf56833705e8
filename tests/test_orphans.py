"""A killed ``sync --all`` takes its worker processes with it (issue 10, ``r7``).

A real sync of a tree big enough for worker pools is killed (SIGKILL, SIGTERM) while its
workers run; every worker seen must be gone a few seconds later, not left waiting on a
pipe forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline_helpers import regauto

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for t in tasks:
        try:
            found.update(int(c) for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


def _sync_with_workers(repo: Path, first: int, n: int) -> tuple[subprocess.Popen[bytes], set[int]]:
    """Start ``sync --all`` on ``n`` new files and wait until it is past its first pool (the
    scan) with workers running; returns the process and every worker seen, or the process
    already ended when the machine was quicker than the wait."""
    body = "def f{i}(x):\n    return x + {i}\n" * 20
    for i in range(first, first + n):
        (repo / "src" / f"m{i}.py").write_text(f'"""m{i}."""\n' + body.format(i=i))
    proc = subprocess.Popen([sys.executable, "-m", "regauto", "sync", "--all"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: set[int] = set()
    start = time.monotonic()
    while time.monotonic() - start < 60 and proc.poll() is None:
        now = _children(proc.pid)
        seen |= now
        if now and time.monotonic() - start > 1.5:
            break
        time.sleep(0.02)
    return proc, seen


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_sync_all_leaves_no_worker_behind(git_repo: Path, sig: int) -> None:
    assert regauto(git_repo, "init", "--hooks", "none").returncode == 0
    (git_repo / "src").mkdir()
    seen: set[int] = set()
    proc = None
    try:
        # A quick machine may finish a sync before it is past its scan pool: then again,
        # on more files, until one is killed while its workers run.
        first, n = 0, 2500
        for _ in range(3):
            proc, seen = _sync_with_workers(git_repo, first, n)
            if proc.poll() is None:  # still running: past its scan pool, or never forked
                break
            first, n = first + n, n * 2
        assert proc.poll() is None and seen, "sync ended before it could be killed"
        proc.send_signal(sig)
        proc.wait(30)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = sorted(p for p in seen if _alive(p))
        assert left == [], f"workers left running after {sig!r}: {left}"
    finally:
        for p in seen:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
