"""Every command that writes the registry keeps the generated outputs current (SPEC §9).

The writer runs the post-write steps its opener hands it (the registry sits below the
generators and never imports them), so each entry point must hand them in: the commit hook,
post-checkout, ``sync``, ``queue run`` and the watcher (``patch`` and ``fix``: in
``test_generators.py`` and ``test_reconciler.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_tree, run_regauto
from pipeline_helpers import regauto
from watch_helpers import WatchProcess, wait_for

INDEX = "docs/INDEX.md"
GENERATOR = (
    '[[generators]]\nname = "index"\noutput = "docs/INDEX.md"\nbuiltin = "markdown-index"\n')


def index(repo: Path) -> str:
    return (repo / INDEX).read_text(encoding="utf-8")


@pytest.fixture
def generating(git_repo: Path) -> Path:
    (git_repo / "regauto.toml").write_text(GENERATOR)
    make_tree(git_repo, {"notes/first.txt": "First.\n"})
    assert regauto(git_repo, "sync", "--all").returncode == 0
    assert regauto(git_repo, "generate").returncode == 0
    assert "notes/first.txt" in index(git_repo)
    return git_repo


def test_sync(generating: Path) -> None:
    make_tree(generating, {"notes/new.txt": "New.\n"})
    assert regauto(generating, "sync", "notes/new.txt").returncode == 0
    assert "notes/new.txt" in index(generating)


def test_queue_run(generating: Path) -> None:
    make_tree(generating, {"notes/new.txt": "New.\n"})
    assert regauto(generating, "queue", "add", "notes/new.txt").returncode == 0
    p = regauto(generating, "queue", "run")
    assert p.returncode == 0, p.stderr
    assert "notes/new.txt" in index(generating)


def test_the_commit_hook_and_post_checkout(generating: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    assert run_regauto("init", "--hooks", "git", cwd=generating).returncode == 0
    git(generating, "add", "-A")
    git(generating, "commit", "-q", "-m", "registered")
    make_tree(generating, {"notes/new.txt": "New.\n"})
    git(generating, "add", "-A")
    git(generating, "commit", "-q", "-m", "new")
    assert "notes/new.txt" in git(generating, "show", f"HEAD:{INDEX}")  # staged by the hook
    # A branch committed without regauto: post-checkout registers its document.
    git(generating, "checkout", "-q", "-b", "topic")
    make_tree(generating, {"notes/topic.txt": "Topic.\n"})
    git(generating, "add", "-A")
    git(generating, "commit", "-q", "--no-verify", "-m", "topic")
    git(generating, "checkout", "-q", "main")
    p = subprocess.run(["git", "checkout", "-q", "topic"], cwd=generating,
                       capture_output=True, text=True, check=False)
    assert "registry updated" in p.stderr, p.stderr
    assert "notes/topic.txt" in index(generating)


def test_the_watcher(generating: Path, tmp_path: Path) -> None:
    watch = WatchProcess(generating, tmp_path / "watch.log")
    try:
        make_tree(generating, {"notes/new.txt": "New.\n"})
        wait_for("the index to list the new file", lambda: "notes/new.txt" in index(generating),
                 timeout=30)
        assert watch.terminate() == 0
    finally:
        watch.close()
