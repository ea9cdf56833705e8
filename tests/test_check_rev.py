"""``check --rev REV`` and ``check --staged`` (issue 12): a commit's tree, or the index,
checked without touching the work tree — and the answer is exactly what ``regauto check``
prints in a fresh clone of that tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import git, make_tree
from pipeline_helpers import REGISTRY, commit_all, regauto, sync

FILES: dict[str, str | bytes] = {
    "notes/plan.txt": "The plan.\n",
    "notes/keep.txt": "kept\n",
    "notes/old.txt": "moves\n",
    "docs/guide.md": "# Guide\n",
    "pkg/core.py": '"""Core."""\n',
}


def registered(repo: Path) -> None:
    make_tree(repo, FILES)
    sync(repo, "--all")
    commit_all(repo, "registered")


def several_drifts(repo: Path) -> None:
    """modified, untracked, missing, moved and a noncanonical shard, all in the work tree."""
    (repo / "notes/plan.txt").write_text("changed\n")
    make_tree(repo, {"a.txt": "a\n"})
    (repo / "notes/keep.txt").unlink()
    (repo / "notes/old.txt").rename(repo / "notes/new.txt")
    shard = sorted((repo / REGISTRY).glob("*.jsonl"))[0]
    shard.write_bytes(shard.read_bytes().rstrip(b"\n"))


def fresh_clone(repo: Path, commit: str) -> Path:
    clone = repo.parent / f"clone-{commit[:8]}"
    git(repo.parent, "clone", "-q", "--no-checkout", str(repo), str(clone))
    git(clone, "checkout", "-q", commit)
    return clone


def same_as_clone(repo: Path, commit: str, *args: str,
                  formats: tuple[str, ...] = ("json", "text", "github")) -> None:
    clone = fresh_clone(repo, commit)
    for fmt in formats:
        here = regauto(repo, "check", *args, "--format", fmt)
        there = regauto(clone, "check", "--format", fmt)
        assert (here.returncode, here.stdout) == (there.returncode, there.stdout), fmt
        assert here.stderr == there.stderr == "", fmt


def worktrees(repo: Path) -> str:
    return git(repo, "worktree", "list", "--porcelain")


def test_rev_says_what_a_fresh_clone_says(git_repo: Path) -> None:
    registered(git_repo)
    several_drifts(git_repo)
    commit_all(git_repo, "drift")
    drifted = git(git_repo, "rev-parse", "HEAD").strip()
    kinds = {d["kind"] for d in json.loads(regauto(git_repo, "check", "--rev", drifted,
                                                   "--format", "json").stdout)}
    assert kinds >= {"modified", "untracked", "missing", "moved", "noncanonical"}
    # The work tree moves on (clean now, then dirty): --rev does not look at it.
    assert regauto(git_repo, "fix").returncode == 0
    make_tree(git_repo, {"b.txt": "b\n"})
    before = worktrees(git_repo)
    same_as_clone(git_repo, drifted, "--rev", drifted)
    same_as_clone(git_repo, "HEAD~1", "--rev", "HEAD~1", formats=("json",))  # clean
    assert worktrees(git_repo) == before  # the temporary work tree is gone


def test_staged_says_what_a_clone_of_the_commit_says(git_repo: Path) -> None:
    registered(git_repo)
    several_drifts(git_repo)
    git(git_repo, "add", "notes/plan.txt", "a.txt")  # the rest stays unstaged
    staged = regauto(git_repo, "check", "--staged", "--format", "json")
    assert {d["kind"] for d in json.loads(staged.stdout)} == {"modified", "untracked"}
    git(git_repo, "commit", "-q", "-m", "partial")
    clone = fresh_clone(git_repo, git(git_repo, "rev-parse", "HEAD").strip())
    assert staged.stdout == regauto(clone, "check", "--format", "json").stdout


def test_a_rev_that_names_no_commit_is_exit_2(git_repo: Path) -> None:
    registered(git_repo)
    before = worktrees(git_repo)
    r = regauto(git_repo, "check", "--rev", "no-such-branch")
    assert r.returncode == 2 and "no-such-branch" in r.stderr and r.stdout == ""
    r = regauto(git_repo, "check", "--rev", "HEAD", "--staged")
    assert r.returncode == 2
    assert worktrees(git_repo) == before


def test_uncommitted_edits_are_named_as_such(git_repo: Path) -> None:
    registered(git_repo)
    (git_repo / "notes/plan.txt").write_text("changed\n")
    r = regauto(git_repo, "check")
    assert r.returncode == 1
    assert "uncommitted edits: the commit hook records them" in r.stdout
    assert "run `regauto fix`" not in r.stdout
    # Staged without its record: the index itself is stale, so that is no uncommitted edit.
    git(git_repo, "add", "notes/plan.txt")
    (git_repo / "notes/plan.txt").write_text("changed again\n")
    r = regauto(git_repo, "check")
    assert r.returncode == 1 and "run `regauto fix`" in r.stdout


def test_staged_reads_the_index_a_hook_is_given(git_repo: Path) -> None:
    """``git commit -a`` hands its hooks a temporary index (``GIT_INDEX_FILE``): that is the
    index ``--staged`` checks, and none of it leaks into the temporary work tree."""
    registered(git_repo)
    make_tree(git_repo, {"a.txt": "a\n"})
    index = git_repo.parent / "commit-a-index"
    shutil.copy(git_repo / ".git" / "index", index)
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    subprocess.run(["git", "add", "a.txt"], cwd=git_repo, env=env, check=True)
    r = subprocess.run([sys.executable, "-m", "regauto", "check", "--staged", "--format",
                        "json"], cwd=git_repo, env=env, capture_output=True, text=True,
                       check=False)
    assert r.returncode == 1, r.stderr
    assert [(d["kind"], d["path"]) for d in json.loads(r.stdout)] == [("untracked", "a.txt")]
    assert regauto(git_repo, "check", "--staged").returncode == 0  # the real index: clean
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=git_repo, env=env,
                            capture_output=True, text=True, check=True).stdout
    assert staged == "a.txt\n"  # the hook's index is as it was
    r = subprocess.run([sys.executable, "-m", "regauto", "check", "--rev", "HEAD"], cwd=git_repo,
                       env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr  # HEAD is clean, whatever the hook stages


def test_verbose_rev_prints_the_stage_timings_that_verbose_check_prints(
        git_repo: Path) -> None:
    registered(git_repo)

    def stages(*args: str) -> list[str]:
        r = regauto(git_repo, *args)
        assert r.returncode == 0, r.stdout + r.stderr
        return [line.split(":")[1].strip() for line in r.stderr.splitlines()
                if line.endswith(" ms")]

    plain = stages("-v", "check")
    assert plain
    rev = stages("-v", "check", "--rev", "HEAD")
    assert set(plain) <= set(rev), (plain, rev)  # the child's check printed its stages
    assert "check out the commit" in rev  # the checkout is where --rev spends its time
    assert stages("check", "--rev", "HEAD") == []
