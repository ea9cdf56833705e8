"""A merge's generated output follows the index rule (SPEC §3, "Two registries"; §8.3): it
is rendered from the merge's staged registry and staged as such, while the work tree's
registry and output, which describe an unstaged new document (``regauto fix``, the daemon),
keep describing the work tree.

Both branches add a document listed in ``INDEX.md``; the merge driver keeps ours' output,
``pre-merge-commit`` re-renders it, stops the merge once and ``git commit --no-edit``
finishes it.  The merge commit must describe itself (a fresh clone's ``regauto check`` is
clean), and the draft must stay out of it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from regauto import git as rgit
from regauto.registry.records import shard_of
from tests.conftest import git, make_tree, run_regauto
from tests.test_history_ops import (  # noqa: F401  (fixtures)
    add_doc,
    assert_clean_tip,
    pre_commit_home,
    regauto_hook_repo,
    repo,
    run_git,
    with_index,
)
from tests.watch_helpers import records, stop_daemon, wait_for

pytestmark = pytest.mark.timeout(240)

A, B = "notes/a.txt", "notes/b.txt"


def draft_path() -> str:
    """A new document whose record lives in a shard neither branch changes: git refuses a
    merge that would overwrite a file with unstaged changes."""
    return next(p for i in range(10_000) if shard_of(p := f"notes/draft-{i}.txt")
                not in {shard_of(A), shard_of(B)})


def record_the_draft(root: Path, how: str) -> str:
    """An untracked new document that the work tree's registry and output describe."""
    draft = draft_path()
    make_tree(root, {draft: "draft\n"})
    if how == "daemon":
        r = run_regauto("daemon", "start", cwd=root)
        try:
            assert r.returncode == 0, r.stderr
            wait_for("the daemon to render the draft into INDEX.md",
                     lambda: draft in (root / "INDEX.md").read_text(), timeout=30)
        finally:
            stop_daemon(root)
    else:
        r = run_regauto("fix", cwd=root)
        assert r.returncode == 0, r.stdout + r.stderr
    assert draft in records(root) and draft in (root / "INDEX.md").read_text()
    assert "INDEX.md" in git(root, "diff", "--name-only")
    return draft


def combine(root: Path, op: str) -> None:
    """Bring topic's document in: the output is re-rendered and staged, the user finishes."""
    if op == "merge":
        p = subprocess.run(["git", "merge", "--no-edit", "topic"], cwd=root,
                           capture_output=True, text=True, check=False)
        assert p.returncode != 0, p.stdout + p.stderr
        assert "finish the merge with `git commit --no-edit`" in p.stderr, p.stderr
        assert (root / ".git" / "MERGE_HEAD").exists()
    else:  # post-commit re-renders what the cherry-pick left stale
        p = subprocess.run(["git", "cherry-pick", "topic"], cwd=root, capture_output=True,
                           text=True, check=False)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "re-rendered and staged: commit it" in p.stderr, p.stderr
        assert git(root, "diff", "--cached", "--name-only").split() == ["INDEX.md"]


@pytest.mark.parametrize(("op", "how"), [("merge", "fix"), ("merge", "daemon"),
                                         ("cherry-pick", "fix")])
def test_output_is_rendered_from_the_index_while_the_work_tree_is_ahead(
        repo: Path, op: str, how: str) -> None:  # noqa: F811  (the imported fixture)
    with_index(repo)
    git(repo, "checkout", "-qb", "topic")
    add_doc(repo, A)
    git(repo, "checkout", "-q", "main")
    add_doc(repo, B)
    draft = record_the_draft(repo, how)
    mine = (repo / "INDEX.md").read_text()
    combine(repo, op)
    staged = git(repo, "show", ":INDEX.md")
    assert A in staged and B in staged and draft not in staged
    # The user's own output is left as it was: it is not the index's.
    assert (repo / "INDEX.md").read_text() == mine
    if op == "merge":
        run_git(repo, "commit", "--no-edit")
        assert len(git(repo, "log", "-1", "--format=%P").split()) == 2
    else:
        run_git(repo, "commit", "-qm", "Update generated outputs")
    assert_clean_tip(repo)
    committed = git(repo, "show", "HEAD:INDEX.md")
    assert A in committed and B in committed and draft not in committed
    # The work tree still describes the work tree: the draft, untracked, recorded, listed.
    assert (repo / draft).read_text() == "draft\n"
    assert records(repo)[draft]["blob"] == rgit.blob_id(b"draft\n")
    assert (repo / "INDEX.md").read_text() == mine
    status = git(repo, "status", "--porcelain", "--untracked-files=all")
    assert {line[3:] for line in status.splitlines()} == {
        "INDEX.md", draft, f".regauto/registry/{shard_of(draft)}"}, status


def test_commit_without_the_hook_that_left_the_output_out(repo: Path) -> None:  # noqa: F811
    """The work tree's output is current, the committed one is not: post-commit renders
    the index's from the index's registry, whatever the work tree's check says."""
    with_index(repo)
    make_tree(repo, {A: "a\n"})
    r = run_regauto("fix", cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
    assert A in (repo / "INDEX.md").read_text()
    git(repo, "add", A, ".regauto/registry")
    p = subprocess.run(["git", "commit", "-qm", "a, without the hook", "--no-verify"],
                       cwd=repo, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "left INDEX.md stale; re-rendered and staged: commit it" in p.stderr, p.stderr
    assert git(repo, "diff", "--cached", "--name-only").split() == ["INDEX.md"]
    run_git(repo, "commit", "-qm", "Update generated outputs")
    assert_clean_tip(repo)
    assert git(repo, "status", "--porcelain") == ""
