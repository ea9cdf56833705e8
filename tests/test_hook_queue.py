"""The hooks process their paths through the work queue (issue 11, "the design's shape for
the hooks"), observed with real git commits, real hook processes, SIGKILL and a real
``regauto watch``.

A hook is stopped at a known point by holding, in the test process, the path locks its
pipeline batch needs: by then it has queued and claimed its jobs, and it waits on the
lock with them running under its lease.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import git, make_tree, run_regauto
from hook_helpers import assert_commit_consistent
from regauto.automation.pipeline import bucket
from regauto.events.lock_manager import LockManager
from regauto.events.work_queue import Job, WorkQueue
from regauto.project import Project
from watch_helpers import WatchProcess, records, wait_for

pytestmark = pytest.mark.timeout(120)

A, B, C, D = "notes/a.txt", "notes/b.txt", "notes/c.txt", "notes/d.txt"


@pytest.fixture
def repo(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Plain git hooks, two documents registered and committed; both edited and staged."""
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    r = run_regauto("init", "--hooks", "git", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    make_tree(git_repo, {A: "a\n", B: "b\n"})
    git(git_repo, "add", "-A")
    assert commit(git_repo).returncode == 0
    make_tree(git_repo, {A: "a2\n", B: "b2\n"})
    git(git_repo, "add", A, B)
    return git_repo


def commit(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-q", "-m", "edit"], cwd=repo,
                          capture_output=True, text=True, check=False)


def jobs(repo: Path) -> dict[str, Job]:
    with WorkQueue(Project.open(repo).state_dir) as q:
        return {j.path: j for j in q.list()}


def pid_of(job: Job) -> int:
    assert job.worker is not None
    return int(job.worker.split(":")[1])


@contextmanager
def path_locks(repo: Path, *paths: str) -> Iterator[None]:
    """Hold the path locks of ``paths``: a pipeline batch with any of them waits."""
    locks = LockManager(Project.open(repo).state_dir, timeout=10)
    with locks.paths(*sorted({bucket(p) for p in paths})):
        yield


def hook_holding(repo: Path, *paths: str) -> int:
    """Wait until one hook process holds the jobs of ``paths``; its pid."""
    def held() -> int:
        rows = jobs(repo)
        mine = [rows.get(p) for p in paths]
        if not all(j is not None and j.status == "running" for j in mine):
            return 0
        pids = {pid_of(j) for j in mine if j is not None}
        return pids.pop() if len(pids) == 1 else 0
    return wait_for(f"a hook to hold {paths}", held, timeout=30)


LEASE_S = 3.0


def short_lease(repo: Path) -> None:
    """``[queue] lease_s = LEASE_S``, committed with the edits (a killed hook's lease then
    ends within the test)."""
    toml = repo / "regauto.toml"
    toml.write_text(toml.read_text().replace("lease_s = 60", f"lease_s = {LEASE_S}"))
    git(repo, "add", "regauto.toml")


def lease_ended(repo: Path, *paths: str) -> None:
    until = max(jobs(repo)[p].lease_until or 0.0 for p in paths)
    time.sleep(max(0.0, until - time.time()) + 0.2)


def killed_commit(repo: Path, sig: signal.Signals = signal.SIGKILL) -> int:
    """A commit whose hook gets ``sig`` after queueing and claiming A and B; its pid."""
    with path_locks(repo, A, B):
        proc = subprocess.Popen(["git", "commit", "-q", "-m", "edit"], cwd=repo,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            pid = hook_holding(repo, A, B)
            os.kill(pid, sig)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert proc.returncode != 0  # git saw its hook die
    if sig == signal.SIGKILL:
        rows = jobs(repo)
        # Left for the next run: still running under the lease of a process that is gone.
        assert [(rows[p].status, pid_of(rows[p])) for p in (A, B)] == [("running", pid)] * 2
    return pid


def staged_blob(repo: Path, path: str) -> str:
    return git(repo, "rev-parse", f":{path}").strip()


def test_a_commit_leaves_its_jobs_in_queue_list(repo: Path) -> None:
    assert commit(repo).returncode == 0
    r = run_regauto("queue", "list", "--format", "json", cwd=repo)
    assert r.returncode == 0, r.stderr
    rows = {row["path"]: row for row in json.loads(r.stdout)}
    for p in (A, B):
        assert (rows[p]["status"], rows[p]["source"], rows[p]["reason"], rows[p]["attempts"]) \
            == ("completed", "index", "pre-commit", 1)
    text = run_regauto("queue", "list", cwd=repo).stdout
    assert "index (pre-commit)" in text and A in text


def test_a_killed_hooks_jobs_are_finished_by_queue_run(repo: Path) -> None:
    short_lease(repo)
    dead = killed_commit(repo)
    # SPEC §10: reclaimed once the lease expires, not before (the holder's death alone is
    # no proof: a pid is reused, a state dir may be shared).
    assert "processed" not in run_regauto("queue", "run", cwd=repo).stderr
    assert {jobs(repo)[p].status for p in (A, B)} == {"running"}
    lease_ended(repo, A, B)
    r = run_regauto("queue", "run", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "processed 3" in r.stderr  # A, B and the regauto.toml short_lease edited
    rows = jobs(repo)
    for p in (A, B):
        assert rows[p].status == "completed" and rows[p].source == "index"
        assert pid_of(rows[p]) != dead
        # Read from the index, as the hook would have.
        assert records(repo)[p]["blob"] == staged_blob(repo, p)


def test_a_killed_hooks_jobs_are_finished_by_the_next_commit(repo: Path) -> None:
    short_lease(repo)
    dead = killed_commit(repo)
    lease_ended(repo, A, B)
    r = commit(repo)
    assert r.returncode == 0, r.stderr
    rows = jobs(repo)
    for p in (A, B):
        job = rows[p]
        assert (job.status, job.source, job.reason) == ("completed", "index", "pre-commit")
        assert pid_of(job) != dead and job.attempts == 2  # taken over, not queued anew
    assert_commit_consistent(repo)
    assert "held by another" not in r.stderr


def test_an_interrupted_hook_hands_its_jobs_back_at_once(repo: Path) -> None:
    """Ctrl-C is a stop, not a death: the next commit need not wait for the lease."""
    killed_commit(repo, signal.SIGINT)
    rows = jobs(repo)
    assert [(rows[p].status, rows[p].attempts) for p in (A, B)] == [("queued", 0)] * 2
    r = commit(repo)
    assert r.returncode == 0 and "held by another" not in r.stderr, r.stderr
    rows = jobs(repo)
    assert {(rows[p].status, rows[p].attempts) for p in (A, B)} == {("completed", 1)}
    assert_commit_consistent(repo)


def test_with_the_daemon_running_the_hooks_paths_are_processed_once_by_the_hook(
        repo: Path, tmp_path: Path) -> None:
    assert {bucket(C), bucket(D)}.isdisjoint({bucket(A), bucket(B)})
    # The edits registered and staged: the daemon starts with nothing to do.
    assert run_regauto("sync", "--all", cwd=repo).returncode == 0
    git(repo, "add", "-A")
    watcher = WatchProcess(repo, tmp_path / "watch.log")
    try:
        with path_locks(repo, A, B):
            hook = subprocess.Popen([sys.executable, "-m", "regauto", "hook", "pre-commit"],
                                    cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            pid = hook_holding(repo, A, B)
            # The daemon claims and processes other work meanwhile, never the hook's.
            make_tree(repo, {C: "c\n"})
            wait_for("the daemon to process c", lambda: C in records(repo), timeout=30)
            rows = jobs(repo)
            assert [(rows[p].status, pid_of(rows[p])) for p in (A, B)] == [("running", pid)] * 2
        out, err = hook.communicate(timeout=30)
        assert hook.returncode == 0, out + err
        make_tree(repo, {D: "d\n"})
        wait_for("the daemon to process d", lambda: D in records(repo), timeout=30)
        rows = jobs(repo)
        assert pid_of(rows[C]) == pid_of(rows[D]) != pid  # the daemon
        for p in (A, B):
            job = rows[p]
            assert (job.status, job.reason, job.attempts, pid_of(job)) == (
                "completed", "pre-commit", 1, pid)
    finally:
        watcher.terminate()


def test_an_unusable_queue_never_blocks_the_commit(repo: Path) -> None:
    state_dir = Project.open(repo).state_dir
    WorkQueue(state_dir).close()
    # The queue's table replaced by one it cannot use (the rest of the database still
    # serves the registry's id index): every queue statement fails.
    conn = sqlite3.connect(state_dir / "state.db")
    conn.executescript("DROP TABLE work_queue; CREATE TABLE work_queue (x INTEGER);")
    conn.close()
    r = commit(repo)
    assert r.returncode == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if "work queue is unusable" in ln]
    assert len(warnings) == 1, r.stderr
    recs = assert_commit_consistent(repo)
    assert recs[A]["blob"] == git(repo, "rev-parse", f"HEAD:{A}").strip()


def test_the_catch_up_after_a_checkout_goes_through_the_queue(repo: Path) -> None:
    assert commit(repo).returncode == 0
    git(repo, "checkout", "-q", "-b", "topic")
    make_tree(repo, {A: "a3\n"})
    git(repo, "add", A)
    assert commit(repo).returncode == 0
    git(repo, "checkout", "-q", "main")  # the post-checkout hook registers A as on main
    job = jobs(repo)[A]
    assert (job.status, job.source, job.reason) == ("completed", "worktree", "post-checkout")
    assert records(repo)[A]["blob"] == staged_blob(repo, A)


def test_a_killed_hooks_rename_travels_with_its_jobs(repo: Path) -> None:
    """An edited rename keeps its id only through git's rename map: the jobs carry it."""
    E = "notes/e.txt"
    make_tree(repo, {B: "".join(f"line {i}\n" for i in range(40))})
    git(repo, "add", "-A")
    assert commit(repo).returncode == 0
    doc = records(repo)[B]["doc_id"]
    git(repo, "mv", B, E)
    with (repo / E).open("a") as f:
        f.write("one more line\n")
    git(repo, "add", E)
    short_lease(repo)
    with path_locks(repo, B, E):
        proc = subprocess.Popen(["git", "commit", "-q", "-m", "move"], cwd=repo,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            os.kill(hook_holding(repo, B, E), signal.SIGKILL)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert jobs(repo)[E].old_path == B
    lease_ended(repo, E)
    r = run_regauto("queue", "run", cwd=repo)
    assert r.returncode == 0, r.stderr
    recs = records(repo)
    assert B not in recs and recs[E]["doc_id"] == doc
