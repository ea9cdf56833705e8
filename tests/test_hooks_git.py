"""The same commit flows through the plain git hooks of ``hooks/`` (``init --hooks git``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from regauto.automation.init import starter_config
from tests.conftest import git, make_tree, run_regauto
from tests.hook_helpers import assert_commit_consistent, committed_records


def commit(repo: Path, msg: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-q", "-m", msg, *extra], cwd=repo,
                          capture_output=True, text=True, check=False)


@pytest.fixture
def hooked(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    r = run_regauto("init", "--hooks", "git", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    # The starter configuration's rules (docs/ in prefix mode, Python headed): the flows
    # below are about renames and headers, which init's survey of an empty repo would not ask.
    (git_repo / "regauto.toml").write_text(starter_config())
    return git_repo


def set_auto_stage(repo: Path, mode: str) -> None:
    cfg = repo / "regauto.toml"
    cfg.write_text(cfg.read_text().replace('auto_stage = "managed"', f'auto_stage = "{mode}"'))


def test_auto_stage_all_passes_in_one_go(hooked: Path) -> None:
    set_auto_stage(hooked, "all")
    make_tree(hooked, {"docs/plan.md": "# Plan\n", "tool.py": '"""Tool."""\n'})
    git(hooked, "add", "-A")
    r = commit(hooked, "add")
    assert r.returncode == 0, r.stdout + r.stderr
    recs = assert_commit_consistent(hooked)
    plan = [p for p in recs if p.endswith("_plan.md")]
    assert len(plan) == 1 and plan[0].startswith(f"docs/{recs[plan[0]]['doc_id']}_")
    committed_tool = git(hooked, "show", "HEAD:tool.py")
    assert f"# doc_id: {recs['tool.py']['doc_id']}" in committed_tool
    assert git(hooked, "status", "--porcelain") == ""


def test_managed_mode_fails_once_then_passes(hooked: Path) -> None:
    make_tree(hooked, {"docs/plan.md": "# Plan\n"})
    git(hooked, "add", "-A")
    r = commit(hooked, "add")
    assert r.returncode != 0
    assert "renamed docs/plan.md" in r.stderr
    git(hooked, "add", "-A")
    r = commit(hooked, "add")
    assert r.returncode == 0, r.stderr
    assert_commit_consistent(hooked)


def test_edit_move_delete_and_commit_all(hooked: Path) -> None:
    make_tree(hooked, {"notes.txt": "n\n", "other.txt": "o\n"})
    git(hooked, "add", "-A")
    assert commit(hooked, "add").returncode == 0
    note_id = committed_records(hooked)["notes.txt"]["doc_id"]
    (hooked / "notes.txt").write_text("n2\n")
    assert commit(hooked, "edit", "-a").returncode == 0
    git(hooked, "mv", "notes.txt", "moved.txt")
    assert commit(hooked, "move").returncode == 0
    assert assert_commit_consistent(hooked)["moved.txt"]["doc_id"] == note_id
    git(hooked, "rm", "-q", "moved.txt")
    assert commit(hooked, "rm").returncode == 0
    assert all(r["doc_id"] != note_id for r in assert_commit_consistent(hooked).values())


def test_auto_stage_none_never_touches_the_index(hooked: Path) -> None:
    set_auto_stage(hooked, "none")
    git(hooked, "add", "-A")
    commit(hooked, "config")  # registers regauto.toml: fails once (not staged)
    git(hooked, "add", "-A")
    assert commit(hooked, "config").returncode == 0
    make_tree(hooked, {"a.txt": "a\n"})
    git(hooked, "add", "a.txt")
    before = git(hooked, "ls-files", "-s")
    r = commit(hooked, "a")
    assert r.returncode != 0 and "auto_stage = none" in r.stderr
    assert git(hooked, "ls-files", "-s") == before
    git(hooked, "add", "-A")
    assert commit(hooked, "a").returncode == 0
    assert_commit_consistent(hooked)
