"""The pre-commit hook driven by the real pre-commit framework and real ``git commit``s.

The framework installs regauto from a snapshot repository of this project's current
sources (its ``repo:`` is that local repository at a commit), exactly as a user's
``.pre-commit-config.yaml`` would, so these tests prove the published hook definitions.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from regauto.registry.records import shard_of
from tests.conftest import REPO_ROOT, git, make_tree, run_regauto
from tests.hook_helpers import assert_commit_consistent, committed_records
from tests.registry_helpers import same_shard_paths

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="session")
def regauto_hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A git repository holding this project's current sources, and its commit."""
    snap = tmp_path_factory.mktemp("regauto-src")
    for name in ("src", "pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, snap / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, snap / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "commit", "-q", "-m", "snapshot"]):
        subprocess.run(cmd, cwd=snap, check=True, env=env, capture_output=True)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=snap, check=True, env=env,
                         capture_output=True, text=True).stdout.strip()
    return snap, rev


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def fw_repo(
    git_repo: Path,
    regauto_hook_repo: tuple[Path, str],
    pre_commit_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A user's repository using regauto through the pre-commit framework."""
    src, rev = regauto_hook_repo
    monkeypatch.setenv("PRE_COMMIT_HOME", str(pre_commit_home))
    real_cache = Path(os.path.expanduser("~root")) / ".cache" / "pip"
    if real_cache.is_dir():
        monkeypatch.setenv("PIP_CACHE_DIR", str(real_cache))
    (git_repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {src}\n    rev: {rev}\n    hooks:\n"
        "      - id: regauto\n      - id: regauto-post-checkout\n      - id: regauto-post-merge\n"
    )
    make_tree(git_repo, {"README.md": "# Project\n", "docs/guide/intro.md": "# Intro\n"})
    r = subprocess.run(
        ["pre-commit", "install", "--hook-type", "pre-commit", "--hook-type", "post-checkout",
         "--hook-type", "post-merge"], cwd=git_repo, capture_output=True, text=True,
        check=False)
    assert r.returncode == 0, r.stderr
    git(git_repo, "add", "-A")
    first = commit(git_repo, "setup")
    if first.returncode == 1:  # the doc under docs/ was renamed: stage and commit again
        git(git_repo, "add", "-A")
        first = commit(git_repo, "setup")
    assert first.returncode == 0, first.stdout + first.stderr
    return git_repo


def commit(repo: Path, msg: str, *extra: str,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-q", "-m", msg, *extra], cwd=repo,
                          capture_output=True, text=True, check=False, env=env)


def test_new_doc_fails_once_with_rename_then_passes(fw_repo: Path) -> None:
    make_tree(fw_repo, {"docs/plan.md": "# Plan\n"})
    git(fw_repo, "add", "docs/plan.md")
    r = commit(fw_repo, "add plan")
    assert r.returncode == 1, r.stdout + r.stderr
    assert not (fw_repo / "docs/plan.md").exists()
    renamed = [p.name for p in (fw_repo / "docs").glob("*_plan.md")]
    assert len(renamed) == 1 and "renamed docs/plan.md" in r.stdout + r.stderr
    git(fw_repo, "add", "-A")
    r = commit(fw_repo, "add plan")
    assert r.returncode == 0, r.stdout + r.stderr
    recs = assert_commit_consistent(fw_repo)
    rec = recs[f"docs/{renamed[0]}"]
    assert renamed[0].startswith(str(rec["doc_id"]) + "_")
    assert git(fw_repo, "status", "--porcelain") == ""


def test_edit_move_delete_pass_in_one_go(fw_repo: Path) -> None:
    before = committed_records(fw_repo)
    readme_id = before["README.md"]["doc_id"]
    (fw_repo / "README.md").write_text("# Project\n\nMore.\n")
    git(fw_repo, "add", "README.md")
    assert commit(fw_repo, "edit").returncode == 0
    assert assert_commit_consistent(fw_repo)["README.md"]["doc_id"] == readme_id

    git(fw_repo, "mv", "README.md", "ABOUT.md")
    r = commit(fw_repo, "move")
    assert r.returncode == 0, r.stdout + r.stderr
    recs = assert_commit_consistent(fw_repo)
    assert recs["ABOUT.md"]["doc_id"] == readme_id

    git(fw_repo, "rm", "-q", "ABOUT.md")
    assert commit(fw_repo, "delete").returncode == 0
    recs = assert_commit_consistent(fw_repo)
    assert all(r["doc_id"] != readme_id for r in recs.values())
    assert git(fw_repo, "status", "--porcelain") == ""


def test_partial_staging_registers_the_staged_blob(fw_repo: Path) -> None:
    (fw_repo / "notes.txt").write_text("staged line\n")
    git(fw_repo, "add", "notes.txt")
    (fw_repo / "notes.txt").write_text("staged line\nunstaged line\n")  # like git add -p
    r = commit(fw_repo, "partial")
    assert r.returncode == 0, r.stdout + r.stderr
    recs = assert_commit_consistent(fw_repo)
    staged_blob = git(fw_repo, "rev-parse", "HEAD:notes.txt").strip()
    assert recs["notes.txt"]["blob"] == staged_blob
    assert recs["notes.txt"]["size"] == len("staged line\n")
    assert (fw_repo / "notes.txt").read_text() == "staged line\nunstaged line\n"


def test_commit_touching_no_document_passes(fw_repo: Path) -> None:
    head = git(fw_repo, "rev-parse", "HEAD")
    assert commit(fw_repo, "empty", "--allow-empty").returncode == 0
    assert git(fw_repo, "rev-parse", "HEAD~1") == head


def test_commit_all_and_commit_path(fw_repo: Path) -> None:
    make_tree(fw_repo, {"a.txt": "a\n", "b.txt": "b\n"})
    git(fw_repo, "add", "a.txt", "b.txt")
    assert commit(fw_repo, "two files").returncode == 0
    (fw_repo / "a.txt").write_text("a2\n")
    (fw_repo / "b.txt").write_text("b2\n")
    r = commit(fw_repo, "all", "-a")  # git runs the hook with a temporary GIT_INDEX_FILE
    assert r.returncode == 0, r.stdout + r.stderr
    assert_commit_consistent(fw_repo)
    (fw_repo / "a.txt").write_text("a3\n")
    (fw_repo / "b.txt").write_text("b3\n")
    r = subprocess.run(["git", "commit", "-q", "-m", "path", "--", "a.txt"], cwd=fw_repo,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    recs = assert_commit_consistent(fw_repo)
    assert recs["a.txt"]["size"] == 3
    assert (fw_repo / "b.txt").read_text() == "b3\n"  # not committed, still modified


def test_branch_switch_and_merge_leave_check_clean(fw_repo: Path) -> None:
    git(fw_repo, "checkout", "-q", "-b", "feature")
    make_tree(fw_repo, {"feature.txt": "feature\n"})
    git(fw_repo, "add", "-A")
    assert commit(fw_repo, "feature").returncode == 0
    git(fw_repo, "checkout", "-q", "main")
    make_tree(fw_repo, {"main.txt": "main\n"})
    git(fw_repo, "add", "-A")
    assert commit(fw_repo, "main").returncode == 0
    check = run_regauto("check", cwd=fw_repo)
    assert check.returncode == 0, check.stdout + check.stderr
    r = subprocess.run(["git", "merge", "-q", "--no-edit", "feature"], cwd=fw_repo,
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_commit_consistent(fw_repo)
    check = run_regauto("check", cwd=fw_repo)
    assert check.returncode == 0, check.stdout + check.stderr
    git(fw_repo, "checkout", "-q", "feature")
    check = run_regauto("check", cwd=fw_repo)
    assert check.returncode == 0, check.stdout + check.stderr


def test_hand_edited_registry_survives_a_commit(fw_repo: Path) -> None:
    # SPEC 3, "Two registries": the hook writes the index's shard and leaves a work-tree
    # shard that differs from the index its own lines (taking only the records of the
    # documents it commits).  Under `git commit` the framework has set the hand edit aside
    # in its patch (the work tree looks clean): the hook rebases that patch onto the shard
    # it staged, so the framework's restore neither conflicts nor rolls back.
    # `pre-commit run --all-files` sets nothing aside.  Either way the hand edit (of
    # README.md's record) stays, the neighbour committed beside it is recorded, and the
    # commit goes through at once.
    near = next(p for i in range(10_000)
                if shard_of(p := f"notes/near-{i}.txt") == shard_of("README.md"))
    make_tree(fw_repo, {near: "near\n"})
    git(fw_repo, "add", near)
    assert commit(fw_repo, "near").returncode == 0
    shard = fw_repo / ".regauto/registry" / shard_of("README.md")
    committed = shard.read_text()
    hand_edited = committed.replace('"title": "Project"', '"title": "Hand edit"')
    assert hand_edited != committed
    shard.write_text(hand_edited)
    (fw_repo / near).write_text("near, edited\n")
    git(fw_repo, "add", near)
    r = subprocess.run(["pre-commit", "run", "regauto", "--all-files"], cwd=fw_repo,
                       capture_output=True, text=True, check=False)
    out = r.stdout + r.stderr
    assert "conflicted" not in out and "unexpected error" not in out, out
    assert '"title": "Hand edit"' in shard.read_text()
    git(fw_repo, "reset", "-q", "--", ".regauto")  # back to what the user staged
    r = subprocess.run(["git", "commit", "-q", "-m", "edit"], cwd=fw_repo,
                       capture_output=True, text=True, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "conflicted" not in out and "Rolling back" not in out, out
    assert '"title": "Hand edit"' in shard.read_text()
    mine = {r["path"]: r for r in map(json.loads, shard.read_text().splitlines())}
    assert mine[near]["size"] == len("near, edited\n")  # the work tree follows the commit
    recs = assert_commit_consistent(fw_repo)
    assert recs[near]["size"] == len("near, edited\n")
    assert recs["README.md"]["descriptor"]["title"] == "Project"  # the hand edit stays out


@pytest.mark.parametrize("configured", ["by the hook", "bare, by an earlier version"])
def test_registry_merges_through_the_driver_without_regauto_on_path(
    fw_repo: Path, configured: str
) -> None:
    """regauto lives only in the framework's virtualenv, so a user's ``git merge`` has no
    ``regauto`` on PATH: the driver the hook configures names that venv's interpreter, and
    a bare ``regauto`` configured by an earlier version is rewritten by the next commit."""
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    assert shutil.which("regauto", path=git_dir) is None
    env = {**os.environ, "PATH": git_dir}
    if configured != "by the hook":
        git(fw_repo, "config", "merge.regauto.driver", "regauto merge-driver %O %A %B %P")
    a, b, c, d = same_shard_paths(4, "notes/note-{}.txt")  # registry mode: no renames

    def add(path: str, message: str) -> None:
        make_tree(fw_repo, {path: f"{path}\n"})
        git(fw_repo, "add", path)
        r = commit(fw_repo, message, env=env)
        assert r.returncode == 0, r.stdout + r.stderr

    add(a, "a")
    add(d, "d")
    python = shlex.split(git(fw_repo, "config", "merge.regauto.driver"))[0]
    assert Path(python).is_relative_to(os.environ["PRE_COMMIT_HOME"]), python
    git(fw_repo, "checkout", "-q", "-b", "other")
    add(b, "b")
    git(fw_repo, "checkout", "-q", "main")
    add(c, "c")  # the shard's records: a, c, d here; a, b, d on other
    r = subprocess.run(["git", "merge", "-q", "--no-edit", "other"], cwd=fw_repo,
                       capture_output=True, text=True, check=False, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert git(fw_repo, "status", "--porcelain") == ""
    recs = assert_commit_consistent(fw_repo)
    assert {a, b, c, d} <= set(recs)
    check = run_regauto("check", cwd=fw_repo)
    assert check.returncode == 0, check.stdout + check.stderr
