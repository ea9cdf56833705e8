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


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killing_sync_all_leaves_no_worker_behind(git_repo: Path, sig: int) -> None:
    assert regauto(git_repo, "init", "--hooks", "none").returncode == 0
    (git_repo / "src").mkdir()
    body = "def f{i}(x):\n    return x + {i}\n" * 20
    for i in range(2500):
        (git_repo / "src" / f"m{i}.py").write_text(f'"""m{i}."""\n' + body.format(i=i))
    proc = subprocess.Popen([sys.executable, "-m", "regauto", "sync", "--all"], cwd=git_repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: set[int] = set()
    try:
        # Past the first pool (the scan) into the later ones, and killed while workers run.
        start = time.monotonic()
        while time.monotonic() - start < 60:
            now = _children(proc.pid)
            seen |= now
            if now and time.monotonic() - start > 1.5:
                break
            time.sleep(0.02)
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
        if proc.poll() is None:
            proc.kill()
            proc.wait()
