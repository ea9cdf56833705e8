"""``regauto queue …`` through the real CLI, and the runner's poison-path isolation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import make_tree, run_regauto
from regauto.automation.queue_runner import QueueRunner
from regauto.events.work_queue import WorkQueue
from regauto.project import Project
from watch_helpers import records, writes

pytestmark = pytest.mark.timeout(60)

# A path no file system can hold (a 300-byte name): the pipeline fails on it for real.
POISON = "docs/" + "x" * 300 + ".md"


def jobs(repo: Path, *args: str) -> list[dict[str, Any]]:
    r = run_regauto("queue", "list", "--format", "json", *args, cwd=repo)
    assert r.returncode == 0, r.stderr
    data: list[dict[str, Any]] = json.loads(r.stdout)
    return data


@pytest.fixture
def repo(git_repo: Path) -> Path:
    make_tree(git_repo, {"docs/a.md": "# A\n", "docs/b.md": "# B\n", "src/tool.py": "x = 1\n"})
    return git_repo


def test_add_queues_without_processing_and_run_processes(repo: Path) -> None:
    r = run_regauto("queue", "add", "docs", "src/tool.py", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "queued 3 path(s)" in r.stderr
    listed = jobs(repo)
    assert [(j["path"], j["status"], j["event"]) for j in listed] == [
        ("docs/a.md", "queued", "modify"), ("docs/b.md", "queued", "modify"),
        ("src/tool.py", "queued", "modify"),
    ]
    assert set(listed[0]) >= {"id", "path", "event", "status", "attempts", "last_error"}
    assert records(repo) == {}  # add only queues

    r = run_regauto("queue", "run", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "processed 3" in r.stderr
    # [watch] mutate = false by default: registered under their current names.
    assert set(records(repo)) == {"docs/a.md", "docs/b.md", "src/tool.py"}
    assert (repo / "src" / "tool.py").read_text() == "x = 1\n"
    assert writes(repo) == 1  # one batch, one registry write
    assert {j["status"] for j in jobs(repo)} == {"completed"}
    assert jobs(repo, "--status", "queued") == []

    r = run_regauto("queue", "run", cwd=repo)
    assert r.returncode == 0 and "nothing to do" in r.stderr

    r = run_regauto("queue", "purge", cwd=repo)
    assert r.returncode == 0 and "purged 3 job(s)" in r.stderr
    assert jobs(repo) == []


def test_run_mutate_renames_like_sync(repo: Path) -> None:
    run_regauto("queue", "add", "docs/a.md", cwd=repo)
    r = run_regauto("queue", "run", "--mutate", cwd=repo)
    assert r.returncode == 0, r.stderr
    (path,) = records(repo)
    assert path.startswith("docs/") and path.endswith("_a.md")
    assert not (repo / "docs" / "a.md").exists()


def test_a_deleted_path_removes_its_record(repo: Path) -> None:
    run_regauto("queue", "add", "docs/a.md", cwd=repo)
    run_regauto("queue", "run", cwd=repo)
    (repo / "docs" / "a.md").unlink()
    run_regauto("queue", "add", "docs/a.md", cwd=repo)
    assert jobs(repo, "--status", "queued")[0]["event"] == "delete"
    assert run_regauto("queue", "run", cwd=repo).returncode == 0
    assert records(repo) == {}


def test_poison_job_is_isolated_then_dead_lettered_then_retried(repo: Path) -> None:
    r = run_regauto("queue", "add", "docs/a.md", POISON, "docs/b.md", cwd=repo)
    assert r.returncode == 0, r.stderr
    for attempt in (1, 2, 3):
        r = run_regauto("queue", "run", cwd=repo)
        assert r.returncode == 1, r.stderr  # a job failed
        (bad,) = [j for j in jobs(repo) if j["path"] == POISON]
        assert bad["attempts"] == attempt
        assert "File name too long" in bad["last_error"]
        # The good paths went through on the first run despite sharing its batch.
        assert set(records(repo)) == {"docs/a.md", "docs/b.md"}
    assert bad["status"] == "dead_letter"
    assert "dead letter" in r.stderr

    dead = json.loads(run_regauto("queue", "dead", "--format", "json", cwd=repo).stdout)
    assert [d["path"] for d in dead] == [POISON]
    assert run_regauto("queue", "run", cwd=repo).returncode == 0  # dead letters stay put

    r = run_regauto("queue", "retry", str(bad["id"]), cwd=repo)
    assert r.returncode == 0, r.stderr
    (again,) = jobs(repo, "--status", "queued")
    assert again["path"] == POISON and again["attempts"] == 0

    # A job that is not failed cannot be retried; neither can one that does not exist.
    done = next(j for j in jobs(repo) if j["status"] == "completed")
    assert run_regauto("queue", "retry", str(done["id"]), cwd=repo).returncode == 2
    assert run_regauto("queue", "retry", "999999", cwd=repo).returncode == 2
    assert run_regauto("queue", "retry", cwd=repo).returncode == 2


def test_retry_all_dead(repo: Path) -> None:
    (repo / "regauto.toml").write_text("[queue]\nmax_attempts = 1\n")
    run_regauto("queue", "add", POISON, POISON.replace("x", "y"), cwd=repo)
    assert run_regauto("queue", "run", cwd=repo).returncode == 1
    assert len(jobs(repo, "--status", "dead_letter")) == 2
    r = run_regauto("queue", "retry", "--all-dead", cwd=repo)
    assert r.returncode == 0 and "requeued 2 job(s)" in r.stderr
    assert len(jobs(repo, "--status", "queued")) == 2


def test_runner_batches_and_isolates_in_process(repo: Path) -> None:
    project = Project.open(repo)
    with WorkQueue(project.state_dir) as q:
        q.enqueue(["docs/a.md", POISON, "docs/b.md", "src/tool.py"])
        report = QueueRunner(project, q, mutate=False, batch_size=2).drain()
        assert report.processed == ["docs/a.md", "docs/b.md", "src/tool.py"]
        assert list(report.failed) == [POISON]
        assert q.counts()["failed"] == 1
    # Each job was claimed once in this drain: the failure waits for the next one.
    assert records(repo).keys() == {"docs/a.md", "docs/b.md", "src/tool.py"}


def test_list_text_and_bad_status(repo: Path) -> None:
    run_regauto("queue", "add", "docs/a.md", cwd=repo)
    r = run_regauto("queue", "list", cwd=repo)
    assert r.returncode == 0 and "docs/a.md" in r.stdout and "queued" in r.stdout
    assert run_regauto("queue", "list", "--status", "bogus", cwd=repo).returncode == 2
