"""A check that follows a clean check: the shortcuts that skip the full plan (the verdict
cache, the verified-records fast path) must still see every change since — here, a
registered file that is gone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import git, initialise, make_tree
from pipeline_helpers import commit_all, regauto, sync

FILES: dict[str, str | bytes] = {
    "notes/plan.txt": "The plan.\n",
    "notes/other.txt": "Other.\n",
    "pkg/core.py": '"""Core."""\n',
}


def drifts(repo: Path) -> list[tuple[str, str]]:
    proc = regauto(repo, "check", "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    return [(d["kind"], d["path"]) for d in json.loads(proc.stdout)]


def checked_clean(repo: Path) -> None:
    make_tree(repo, FILES)
    sync(repo, "--all")
    if (repo / ".git").exists():
        commit_all(repo)
    assert drifts(repo) == []  # a full plan: the records are verified from now on
    assert drifts(repo) == []  # and the verdict is cached


@pytest.mark.parametrize("how", ["deleted", "git rm", "folder deleted"])
def test_a_file_deleted_after_a_clean_check_is_reported(git_repo: Path, how: str) -> None:
    checked_clean(git_repo)
    if how == "deleted":
        (git_repo / "notes/plan.txt").unlink()
    elif how == "git rm":
        git(git_repo, "rm", "-q", "notes/plan.txt")
    else:
        shutil.rmtree(git_repo / "notes")
    gone = ["notes/plan.txt"] if how != "folder deleted" else ["notes/other.txt",
                                                                "notes/plan.txt"]
    assert drifts(git_repo) == [("missing", p) for p in gone]
    assert regauto(git_repo, "fix").returncode == 0
    assert drifts(git_repo) == []


def test_outside_git_too(tmp_path: Path) -> None:
    initialise(tmp_path)
    checked_clean(tmp_path)
    (tmp_path / "pkg/core.py").unlink()
    assert drifts(tmp_path) == [("missing", "pkg/core.py")]
