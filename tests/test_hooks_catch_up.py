"""post-checkout and post-merge catch up the registry with the documents a checkout or a
merge changed (SPEC §8.3) — and stay out of the way where they must: a rebase, the pre-commit
framework's own stash checkout, a file checkout, a clone.  Real git, real hooks
(``init --hooks git``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_tree, run_regauto
from pipeline_helpers import by_path, registry_bytes
from regauto.git import blob_id

LINES = "".join(f"line {i}\n" for i in range(1, 11))


@pytest.fixture
def hooked(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    assert run_regauto("init", "--hooks", "git", cwd=git_repo).returncode == 0
    make_tree(git_repo, {"notes.txt": LINES, "other.txt": "other\n"})
    commit(git_repo, "documents")
    return git_repo


def commit(repo: Path, msg: str, *, verify: bool = True) -> subprocess.CompletedProcess[str]:
    """``git add -A`` and commit; ``verify=False``: as a collaborator without regauto does
    (no hook of regauto's runs, so the registry is not updated)."""
    git(repo, "add", "-A")
    no_hooks = () if verify else ("-c", "core.hooksPath=/dev/null")
    p = subprocess.run(["git", *no_hooks, "commit", "-q", "-m", msg],
                       cwd=repo, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def recorded_blob(repo: Path, path: str) -> str | None:
    rec = by_path(repo).get(path)
    return None if rec is None else str(rec["blob"])


def disk_blob(repo: Path, path: str) -> str:
    return blob_id((repo / path).read_bytes())


def edit_line(repo: Path, n: int, text: str) -> None:
    lines = (repo / "notes.txt").read_text().splitlines(keepends=True)
    lines[n - 1] = text + "\n"
    (repo / "notes.txt").write_text("".join(lines))


def topic_without_regauto(repo: Path) -> None:
    """A branch ``topic`` whose commits changed notes.txt (first line) and added topic.txt
    without the hook, so its committed registry does not describe them."""
    git(repo, "checkout", "-q", "-b", "topic")
    edit_line(repo, 1, "topic's line 1")
    make_tree(repo, {"topic.txt": "from topic\n"})
    commit(repo, "topic, no hook", verify=False)
    git(repo, "checkout", "-q", "main")


def registry_as_committed(repo: Path) -> None:
    """Undo a catch-up: the registry as HEAD has it."""
    git(repo, "checkout", "-q", "--", ".regauto")
    git(repo, "clean", "-fdq", "--", ".regauto")


def checkout(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(["git", "checkout", "-q", *args], cwd=repo, capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stderr
    return p


# -- catching up -------------------------------------------------------------------------------


def test_a_merge_of_a_file_both_branches_edited_records_the_merged_content(
        hooked: Path) -> None:
    git(hooked, "checkout", "-q", "-b", "topic")
    edit_line(hooked, 1, "topic's line 1")
    commit(hooked, "topic edits line 1")
    git(hooked, "checkout", "-q", "main")
    edit_line(hooked, 10, "main's line 10")
    commit(hooked, "main edits line 10")
    p = subprocess.run(["git", "merge", "-q", "--no-edit", "topic"], cwd=hooked,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    merged = (hooked / "notes.txt").read_text()
    assert merged.startswith("topic's line 1\n") and merged.endswith("main's line 10\n")
    # The shard merge driver merged the document as git did: the merge commit itself
    # records the merged content, and post-merge has nothing left to catch up.
    assert recorded_blob(hooked, "notes.txt") == disk_blob(hooked, "notes.txt")
    assert "registry updated" not in p.stderr
    assert git(hooked, "status", "--porcelain") == ""
    assert run_regauto("check", cwd=hooked).returncode == 0


def test_post_merge_registers_what_a_fast_forward_brought(hooked: Path) -> None:
    # A fast-forward writes no merge commit (no pre-merge-commit hook): post-merge catches
    # the work tree's registry up with what the branch without regauto brought.
    topic_without_regauto(hooked)
    p = subprocess.run(["git", "merge", "-q", "--ff-only", "topic"], cwd=hooked,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    assert "registry updated" in p.stderr
    assert recorded_blob(hooked, "notes.txt") == disk_blob(hooked, "notes.txt")
    assert recorded_blob(hooked, "topic.txt") == disk_blob(hooked, "topic.txt")


def test_a_merge_commit_of_a_branch_without_regauto_is_finished_through_the_hooks(
        hooked: Path) -> None:
    # pre-merge-commit registers what the branch brought; git wrote the merge's tree
    # before that hook, so the merge stops once with it staged, and `git commit` ends it.
    topic_without_regauto(hooked)
    edit_line(hooked, 10, "main's line 10")
    commit(hooked, "main edits line 10")
    p = subprocess.run(["git", "merge", "-q", "--no-edit", "topic"], cwd=hooked,
                       capture_output=True, text=True, check=False)
    assert p.returncode != 0 and "finish the merge with `git commit" in p.stderr
    git(hooked, "commit", "-q", "--no-edit")
    assert recorded_blob(hooked, "notes.txt") == disk_blob(hooked, "notes.txt")
    assert recorded_blob(hooked, "topic.txt") == disk_blob(hooked, "topic.txt")
    assert git(hooked, "status", "--porcelain") == ""
    assert run_regauto("check", cwd=hooked).returncode == 0


def test_post_checkout_catches_up_across_branches(hooked: Path) -> None:
    edit_line(hooked, 10, "main's line 10")
    commit(hooked, "main edits line 10")
    main_blob = disk_blob(hooked, "notes.txt")
    topic_without_regauto(hooked)
    p = checkout(hooked, "topic")
    assert "registry updated" in p.stderr
    assert recorded_blob(hooked, "notes.txt") == disk_blob(hooked, "notes.txt") != main_blob
    assert recorded_blob(hooked, "topic.txt") == disk_blob(hooked, "topic.txt")
    # Back on main, with topic's catch-up left uncommitted in the registry: main's files are
    # described again.
    registry_as_committed(hooked)
    checkout(hooked, "main")
    assert recorded_blob(hooked, "notes.txt") == main_blob
    assert recorded_blob(hooked, "topic.txt") is None
    assert run_regauto("check", cwd=hooked).returncode == 0


# -- where the hooks stay out of the way ----------------------------------------------------


def test_a_file_checkout_leaves_the_registry_to_the_next_commit(
        hooked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    topic_without_regauto(hooked)
    before = registry_bytes(hooked)
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))  # reaches the hook's own git commands
    p = checkout(hooked, "topic", "--", "notes.txt")
    assert (hooked / "notes.txt").read_text().startswith("topic's line 1\n")
    assert registry_bytes(hooked) == before
    assert p.stderr == ""
    # HEAD did not move, so there is nothing to catch up with: not even a diff is run.
    ran = [line.split("git.c:", 1)[-1] for line in trace.read_text().splitlines()
           if "trace: built-in: git " in line]
    assert not [c for c in ran if " diff" in c], ran


def test_the_pre_commit_frameworks_stash_checkout_is_left_alone(hooked: Path) -> None:
    # The framework sets this variable for the `git checkout` it runs to set aside (and
    # restore) unstaged changes; the registry must not move under it.
    topic_without_regauto(hooked)
    main = git(hooked, "rev-parse", "HEAD").strip()
    topic = git(hooked, "rev-parse", "topic").strip()
    git(hooked, "checkout", "-q", "topic")  # runs the hook: topic's catch-up
    registry_as_committed(hooked)
    before = registry_bytes(hooked)
    env = {"_PRE_COMMIT_SKIP_POST_CHECKOUT": "1"}
    p = run_regauto("hook", "post-checkout", main, topic, "1", cwd=hooked, env=env)
    assert p.returncode == 0 and p.stderr == ""
    assert registry_bytes(hooked) == before
    p = run_regauto("hook", "post-checkout", main, topic, "1", cwd=hooked)
    assert "registry updated" in p.stderr  # the same call without it catches up


def test_a_rebase_is_left_alone(hooked: Path) -> None:
    topic_without_regauto(hooked)
    edit_line(hooked, 10, "main's line 10")
    commit(hooked, "main edits line 10, no hook", verify=False)
    checkout(hooked, "topic")
    registry_as_committed(hooked)
    # The rebase starts by checking out main, whose registry does not describe notes.txt:
    # a catch-up then would write the registry in the middle of the rebase.
    p = subprocess.run(["git", "rebase", "-q", "main"], cwd=hooked, capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "registry updated" not in p.stderr  # no catch-up in the middle of the rebase
    # After it, post-rewrite found the rebased commits stale and staged the repair (the
    # work tree's registry and the index agree: nothing was written behind git's back).
    assert "the repair is staged: commit it" in p.stderr
    assert git(hooked, "diff", "--name-only", "--", ".regauto") == ""


def test_a_clone_only_reads_the_registry(hooked: Path, tmp_path: Path) -> None:
    topic_without_regauto(hooked)
    git(hooked, "checkout", "-q", "topic")
    registry_as_committed(hooked)
    template = tmp_path / "template"
    (template / "hooks").mkdir(parents=True)
    hook = hooked / ".git/hooks/post-checkout"
    (template / "hooks/post-checkout").write_bytes(hook.read_bytes())
    (template / "hooks/post-checkout").chmod(0o755)
    clone = tmp_path / "clone"
    p = subprocess.run(["git", "clone", "-q", "--template", str(template), "-b", "topic",
                        str(hooked), str(clone)], capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    assert (clone / ".git/hooks/post-checkout").is_file()  # git ran it for the clone
    assert p.stderr == ""
    assert git(clone, "status", "--porcelain") == ""
