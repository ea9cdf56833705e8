"""A cold check of a large repository splits its two long loops (registry lines, header
claims) with a worker process (``regauto.reconcile.fanout``).  It must report exactly what
the check does alone — also when the worker's half holds the drift, and when the worker
fails.  The thresholds are lowered so that a small repository takes the worker's path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import make_tree
from pipeline_helpers import REGISTRY, commit_all, sync
from regauto.project import Project
from regauto.reconcile import claims, fanout, registry_view
from regauto.reconcile.reconciler import Reconciler

FILES: dict[str, str | bytes] = {
    **{f"pkg/m{i:02d}.py": f'"""Module {i}."""\n\nX = {i}\n' for i in range(30)},
    **{f"notes/n{i:02d}.md": f"# Note {i}\n" for i in range(30)},
    **{f"docs/d{i:02d}.md": f"# Doc {i}\n" for i in range(10)},
}


def drifted(repo: Path) -> None:
    """Registered, committed, then drift of several kinds, spread over the shards."""
    make_tree(repo, FILES)
    sync(repo, "--all")
    commit_all(repo)
    shards = sorted((repo / REGISTRY).glob("*.jsonl"))
    first, last = shards[0], shards[-1]  # one in each half of the shards
    lines = last.read_text().splitlines()
    last.write_text("".join(json.dumps(dict(sorted(json.loads(ln).items())),
                                       ensure_ascii=False) + "\n" for ln in lines))
    rec = json.loads(first.read_text().splitlines()[0])
    first.write_text(first.read_text().replace(f'"role": "{rec["role"]}"', '"role": "bogus"', 1))
    for p in ("pkg/m03.py", "pkg/m28.py"):  # a header claiming another file's id
        other = (repo / "pkg/m10.py").read_text().splitlines()[0]
        text = (repo / p).read_text().splitlines()
        (repo / p).write_text("\n".join([other, *text[1:]]) + "\n")
    for p, new_id in (("pkg/m20.py", "2020010100000001"), ("pkg/m21.py", "2020010100000002")):
        # The record's id hand-edited: the file (same blob) claims its old id in its header.
        shard = next(f for f in shards if f'"path": "{p}"' in f.read_text())
        old_id = next(json.loads(ln)["doc_id"] for ln in shard.read_text().splitlines()
                      if json.loads(ln)["path"] == p)
        shard.write_text(shard.read_text().replace(old_id, new_id))
    (repo / "notes/n29.md").write_text("# Note 29, edited\n")
    (repo / "notes/new.md").write_text("# New\n")


def cold_check(repo: Path) -> list[tuple[Any, ...]]:
    project = Project.open(repo, None)
    shutil.rmtree(project.state_dir / "reconcile", ignore_errors=True)
    report = Reconciler(project).check()
    return [(d.kind, d.doc_id, d.path, d.detail) for d in report.drifts]


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Force the workers; record whether each one answered."""
    monkeypatch.setattr(registry_view, "FANOUT_BYTES", 0)
    monkeypatch.setattr(claims, "FANOUT_CLAIMS", 0)
    seen: list[bool] = []
    answer = fanout.Helper.answer

    def spy(self: fanout.Helper[Any]) -> bytes | None:
        out = answer(self)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(fanout.Helper, "answer", spy)
    return seen


needs_worker = pytest.mark.skipif(fanout.cores() < 2 or not hasattr(fanout.os, "fork"),
                                  reason="a worker needs fork and a second core")


def drifted_report_alone(repo: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Drift in both halves of the repository, and the cold check's report without a worker."""
    drifted(repo)
    with monkeypatch.context() as m:
        m.setattr(fanout.Helper, "__init__", _no_worker)
        return cold_check(repo)


@needs_worker
def test_a_worker_changes_nothing_that_check_reports(
        git_repo: Path, monkeypatch: pytest.MonkeyPatch, answers: list[bool]) -> None:
    alone = drifted_report_alone(git_repo, monkeypatch)
    kinds = {d[0] for d in alone}
    assert {"noncanonical", "invalid_record", "header_mismatch", "modified",
            "untracked"} <= kinds, alone
    assert {p for d in alone for p in d[2:3]} >= {"pkg/m20.py", "pkg/m21.py"}, alone
    assert answers == []
    assert cold_check(git_repo) == alone
    assert answers and all(answers), "no worker answered: the test proves nothing"


@needs_worker
def test_a_failing_worker_changes_nothing_either(
        git_repo: Path, monkeypatch: pytest.MonkeyPatch, answers: list[bool]) -> None:
    alone = drifted_report_alone(git_repo, monkeypatch)
    monkeypatch.setattr(registry_view, "_healthy_shards", _fail)
    monkeypatch.setattr(claims, "_claims_job", _fail)
    assert cold_check(git_repo) == alone
    assert answers and not any(answers)


def _no_worker(self: fanout.Helper[Any], fn: Any, make_args: Any, items: Any,
               **_: Any) -> None:
    self.mine, self.theirs = items, ()
    self._pool = self._future = None


def _fail(*_: Any) -> bytes:
    raise OSError("a worker that fails")
