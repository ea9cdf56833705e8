"""The watcher's two guards, through a real ``regauto watch`` (watchfiles) on a real git
repository: regauto's own renames are not new work (the suppression manager), and a file
still being written is not processed until it is done (the stability checker's samples)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import git, run_regauto
from regauto.git import blob_id
from watch_helpers import WatchProcess, records, wait_for

pytestmark = pytest.mark.timeout(90)


def jobs(repo: Path) -> set[str]:
    """The paths the work queue has held (completed jobs stay listed)."""
    p = run_regauto("queue", "list", "--format", "json", cwd=repo)
    assert p.returncode == 0, p.stderr
    return {j["path"] for j in json.loads(p.stdout)}


def after_the_watcher_caught_up(repo: Path, name: str) -> None:
    """Write a file and wait for its record: events arrive in order, so every event before
    it has been seen (and queued, or dropped) by then."""
    (repo / "docs" / name).write_text(f"{name}\n")
    wait_for(f"the record of docs/{name}", lambda: any(  # under its name, or renamed
        p == f"docs/{name}" or p.endswith(f"_{name}") for p in records(repo)), timeout=30)


def test_a_rename_by_the_commit_hook_does_not_come_back_as_work(
        git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    assert run_regauto("init", "--hooks", "git", cwd=git_repo).returncode == 0
    # A long suppression window: a loaded machine may deliver the events late.
    (git_repo / "regauto.toml").write_text("[watch]\nsuppress_ms = 60000\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "regauto")
    (git_repo / "docs").mkdir()
    watch = WatchProcess(git_repo, tmp_path / "watch.log")
    try:
        (git_repo / "docs" / "plan.md").write_text("# Plan\n")
        wait_for("the watcher to register plan.md", lambda: "docs/plan.md" in records(git_repo),
                 timeout=30)
        git(git_repo, "add", "-A")
        p = subprocess.run(["git", "commit", "-q", "-m", "plan"], cwd=git_repo,
                           capture_output=True, text=True, check=False)
        assert p.returncode == 1 and "renamed docs/plan.md" in p.stderr, p.stderr
        renamed = next(f"docs/{n.name}" for n in (git_repo / "docs").iterdir()
                       if n.name.endswith("_plan.md"))
        after_the_watcher_caught_up(git_repo, "sentinel.txt")
        queued = jobs(git_repo)
        assert renamed not in queued, "the hook's rename came back through the watcher"
        assert {q for q in queued if q.startswith("docs/")} == {"docs/plan.md",
                                                              "docs/sentinel.txt"}
        assert watch.terminate() == 0
    finally:
        watch.close()


def test_the_watchers_own_rename_is_not_queued(git_repo: Path, tmp_path: Path) -> None:
    (git_repo / "regauto.toml").write_text("[watch]\nmutate = true\nsuppress_ms = 60000\n")
    (git_repo / "docs").mkdir()
    watch = WatchProcess(git_repo, tmp_path / "watch.log")
    try:
        (git_repo / "docs" / "plan.md").write_text("# Plan\n")
        renamed = wait_for("the rename", lambda: next(
            (f"docs/{n.name}" for n in (git_repo / "docs").iterdir()
             if n.name.endswith("_plan.md")), None), timeout=30)
        wait_for("the record under the new name", lambda: renamed in records(git_repo))
        after_the_watcher_caught_up(git_repo, "sentinel.txt")
        queued = {q for q in jobs(git_repo) if q.startswith("docs/")}
        assert queued == {"docs/plan.md", "docs/sentinel.txt"}, queued
        assert watch.terminate() == 0
    finally:
        watch.close()


def test_a_slow_writer_is_processed_once_with_its_final_content(git_repo: Path,
                                                                 tmp_path: Path) -> None:
    # No minimum age: the samples alone must see that the file is still growing.  The
    # sampling window (600 ms) is twelve times the gap between writes.
    (git_repo / "regauto.toml").write_text(
        "[watch]\nmin_age_ms = 0\nsamples = 3\nsample_interval_ms = 300\n")
    (git_repo / "docs").mkdir()
    path = git_repo / "docs" / "growing.md"
    seen: list[str] = []  # the blob of every record observed, in order
    errors: list[BaseException] = []
    done = threading.Event()

    def observe() -> None:
        try:
            while not done.is_set():
                rec = records(git_repo).get("docs/growing.md")
                if rec is not None and (not seen or seen[-1] != rec["blob"]):
                    seen.append(rec["blob"])
                time.sleep(0.02)
        except BaseException as e:  # reported by the test, not lost with the thread
            errors.append(e)

    watch = WatchProcess(git_repo, tmp_path / "watch.log")
    observer = threading.Thread(target=observe)
    observer.start()
    content = b"# Growing\n"
    try:
        with path.open("wb") as f:
            f.write(content)
            f.flush()
            for i in range(30):  # a write every 50 ms for 1.5 s
                time.sleep(0.05)
                line = f"line {i}\n".encode()
                f.write(line)
                f.flush()
                content += line
        wait_for("the finished file's record",
                 lambda: errors or (seen and seen[-1] == blob_id(content)), timeout=30)
        time.sleep(1.0)  # a late second processing would show as another blob
    finally:
        done.set()
        observer.join()
        watch.close()
    assert not errors, errors
    assert seen == [blob_id(content)], "a version still being written was registered"
