"""The repair after a commit git wrote without the commit hook follows the index rule
(SPEC §3, "Two registries"; §8.3): it is computed from the index and written into the
index's registry, so it is staged — with its one line — even while the work tree's
registry has unstaged changes of its own (a ``fix`` of an unstaged edit, the daemon).
Committing it is one attempt; the tip is clean in a fresh clone; the work tree's registry
keeps describing the work tree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from regauto import git as rgit
from regauto.registry.records import shard_of
from tests.conftest import git, make_tree, run_regauto
from tests.hook_helpers import committed_records
from tests.test_history_ops import (  # noqa: F401  (fixtures)
    assert_clean_tip,
    commit_all,
    diverge,
    edit,
    pre_commit_home,
    regauto_hook_repo,
    repo,
)
from tests.test_partial_commits import neighbour
from tests.watch_helpers import records

pytestmark = pytest.mark.timeout(240)

EDIT = "unstaged\n"


def fix_an_unstaged_edit(root: Path, path: str) -> None:
    """An unstaged edit of the document ``path`` that ``regauto fix`` records in the work
    tree's registry only."""
    (root / path).write_text(EDIT)
    r = run_regauto("fix", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f".regauto/registry/{shard_of(path)}" in git(root, "diff", "--name-only")


def stale_commit(root: Path, how: str, other: str) -> subprocess.CompletedProcess[str]:
    """A commit of an edit of ``m.py`` that git writes without the commit hook, while
    ``other`` has an unstaged edit the work tree's registry records."""
    if how == "cherry-pick":
        # ``-X theirs`` resolves m.py as the shard merge driver's merge would not.
        diverge(root, ("v5 = 5\n", "v5 = 'topic'\n"), ("v5 = 5\n", "v5 = 'main'\n"))
        fix_an_unstaged_edit(root, other)
        args = ["cherry-pick", "-X", "theirs", "topic"]
    else:
        make_tree(root, {other: "committed\n"})
        git(root, "add", other)
        commit_all(root, f"add {other}")
        fix_an_unstaged_edit(root, other)
        edit(root, "v30 = 30", "v30 = 300")
        git(root, "add", "m.py")
        args = ["commit", "-qm", "no hook", "--no-verify"]
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=False)


# cherry-pick: the other document's record is in another shard than m.py's (git refuses a
# cherry-pick that changes a shard with unstaged changes).  no-verify: in the same shard,
# whose staged copy must take m.py's repair and not the other document's unstaged record.
@pytest.mark.parametrize(("how", "other"), [("cherry-pick", "notes/n.txt"),
                                            ("no-verify", neighbour())])
def test_repair_is_staged_while_the_work_tree_registry_has_unstaged_changes(
        repo: Path, how: str, other: str) -> None:  # noqa: F811  (the imported fixture)
    if how == "cherry-pick":
        assert shard_of(other) != shard_of("m.py")
    p = stale_commit(repo, how, other)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "the repair is staged: commit it" in p.stderr, p.stderr
    assert "unstaged changes of its own" not in p.stderr, p.stderr
    m_shard = f".regauto/registry/{shard_of('m.py')}"
    assert git(repo, "diff", "--cached", "--name-only").split() == [m_shard]
    c = subprocess.run(["git", "commit", "-qm", "Update the registry"], cwd=repo,
                       capture_output=True, text=True, check=False)
    assert c.returncode == 0, c.stdout + c.stderr
    assert_clean_tip(repo)
    assert committed_records(repo)["m.py"]["blob"] == rgit.blob_id(
        git(repo, "show", "HEAD:m.py").encode())
    # The work tree's own unstaged change is still there, and still true.
    assert git(repo, "show", f"HEAD:{other}") != EDIT
    assert committed_records(repo)[other]["blob"] == rgit.blob_id(
        git(repo, "show", f"HEAD:{other}").encode())
    assert (repo / other).read_text() == EDIT
    assert records(repo)[other]["blob"] == rgit.blob_id(EDIT.encode())
    assert sorted(git(repo, "diff", "--name-only").split()) == [
        f".regauto/registry/{shard_of(other)}", other]
    r = run_regauto("check", cwd=repo)
    assert r.returncode == 0, r.stdout + r.stderr
