"""``git commit PATH`` (git's ``--only``): git runs the commit hook on a temporary index
(HEAD plus PATH), commits what the hook staged there, then updates the real index for PATH
only.  The real index must end up holding the committed registry and generated outputs
(SPEC §3, "Two registries"), so ``git status`` stays clean and the next commit does not
revert the registry — under the plain git hooks and under the pre-commit framework.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from regauto import git as rgit
from regauto.gitint import history, install
from regauto.registry.records import shard_of
from tests.conftest import git, make_tree, run_regauto
from tests.hook_helpers import REGISTRY, committed_records
from tests.test_history_ops import (  # noqa: F401  (fixtures)
    assert_clean_tip,
    edit,
    pre_commit_home,
    regauto_hook_repo,
    repo,
    with_index,
)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def work(repo: Path) -> Path:  # noqa: F811  (the imported fixture)
    """A registered repository with ``m.py`` and ``notes/n.txt``, under the plain git
    hooks and under the pre-commit framework."""
    return repo


def commit(work: Path, *args: str) -> str:
    p = subprocess.run(["git", "commit", "-q", *args], cwd=work, capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout + p.stderr


def managed_head(work: Path) -> dict[str, str]:
    """``{path: blob}`` of the registry files and INDEX.md committed at HEAD."""
    out = git(work, "ls-tree", "-r", "HEAD", "--", REGISTRY, "INDEX.md")
    return {line.split("\t")[1]: line.split()[2] for line in out.splitlines()}


def managed_index(work: Path) -> dict[str, str]:
    """The same, as the (real) index holds them."""
    out = git(work, "ls-files", "-s", "--", REGISTRY, "INDEX.md")
    return {line.split("\t")[1]: line.split()[1] for line in out.splitlines()}


def assert_index_is_the_commit(work: Path) -> None:
    """The real index holds the committed registry (and output); nothing of regauto's is
    staged or modified; ``regauto check`` passes."""
    assert managed_index(work) == managed_head(work)
    assert git(work, "status", "--porcelain") == ""
    r = run_regauto("check", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr


def test_commit_of_a_path(work: Path) -> None:
    edit(work, "v3 = 3\n", "v3 = 'only'\n")
    commit(work, "-m", "only m.py", "m.py")
    assert committed_records(work)["m.py"]["blob"] == rgit.blob_id((work / "m.py").read_bytes())
    assert_clean_tip(work)
    assert_index_is_the_commit(work)
    # The next commit, of another file, keeps m.py's record (the stale shard would revert it).
    make_tree(work, {"notes/n.txt": "one\nTWO\nthree\n"})
    git(work, "add", "notes/n.txt")
    commit(work, "-m", "n.txt")
    assert_clean_tip(work)
    assert_index_is_the_commit(work)


def test_commit_of_a_path_with_a_generated_output(work: Path) -> None:
    """A document staged earlier, committed by path while another edit stays unstaged:
    the output the hook rendered into the temporary index reaches the real index too."""
    with_index(work)
    make_tree(work, {"notes/a.txt": "a\n"})
    git(work, "add", "notes/a.txt")
    edit(work, "v3 = 3\n", "v3 = 'unstaged'\n")
    commit(work, "-m", "add a", "notes/a.txt")
    assert "notes/a.txt" in git(work, "show", "HEAD:INDEX.md")
    assert_clean_tip(work)
    assert managed_index(work) == managed_head(work)
    assert git(work, "status", "--porcelain") == " M m.py\n"
    git(work, "add", "m.py")
    commit(work, "-m", "m.py")
    assert_clean_tip(work)
    assert_index_is_the_commit(work)


def neighbour() -> str:
    """A document in ``m.py``'s registry shard."""
    return next(p for i in range(10_000)
                if shard_of(p := f"notes/near-{i}.txt") == shard_of("m.py"))


def test_registry_staged_by_the_user_takes_the_commits_records(work: Path) -> None:
    """The user staged a registry of their own (``fix`` + ``git add``) for an edit of a
    document in ``m.py``'s shard, then edits ``m.py`` and commits it by path: the real index's
    shard keeps the staged record and takes the committed one (the shard merged record by
    record), and the next commit records both."""
    near = neighbour()
    make_tree(work, {near: "near\n"})
    git(work, "add", near)
    commit(work, "-m", "near")
    make_tree(work, {near: "near, edited\n"})
    r = run_regauto("fix", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    git(work, "add", "-A")
    edit(work, "v3 = 3\n", "v3 = 'only'\n")
    out = commit(work, "-m", "m.py alone", "m.py")
    assert "warning" not in out, out
    assert_clean_tip(work)
    assert "edited" not in git(work, "show", f"HEAD:{near}")
    shard = f"{REGISTRY}/{shard_of(near)}"
    assert git(work, "status", "--porcelain").splitlines() == [f"M  {shard}", f"M  {near}"]
    staged = {json.loads(line)["path"]: json.loads(line)["blob"]
              for line in git(work, "show", f":{shard}").splitlines()}
    assert staged["m.py"] == committed_records(work)["m.py"]["blob"]
    assert staged[near] == rgit.blob_id(b"near, edited\n")
    commit(work, "-m", "near")
    assert_clean_tip(work)
    assert_index_is_the_commit(work)


@pytest.mark.parametrize("how", [("-a",), ("-i", "m.py")])
def test_commit_all_and_include_use_the_real_index(work: Path, how: tuple[str, ...]) -> None:
    """``-a`` and ``-i PATH``: git runs the hook on its lock of the real index and keeps it."""
    edit(work, "v3 = 3\n", "v3 = 'all'\n")
    commit(work, "-m", "m.py", *how)
    assert_clean_tip(work)
    assert_index_is_the_commit(work)


def test_aborted_commit_leaves_the_real_index_alone(work: Path) -> None:
    """A commit stopped after the hook passed (an empty message) commits nothing: the next
    commit's post-commit must not take the aborted commit's shard into the real index."""
    edit(work, "v3 = 3\n", "v3 = 'aborted'\n")
    p = subprocess.run(["git", "commit", "-q", "-m", "", "m.py"], cwd=work,
                       capture_output=True, text=True, check=False)
    assert p.returncode != 0
    make_tree(work, {"notes/n.txt": "one\nTWO\nthree\n"})
    git(work, "add", "notes/n.txt")
    commit(work, "-m", "n.txt")
    assert_clean_tip(work)
    assert managed_index(work) == managed_head(work)
    # m.py's edit stays unstaged; the work tree's registry describes it (the index rule).
    status = git(work, "status", "--porcelain").splitlines()
    assert status == [f" M {REGISTRY}/{shard_of('m.py')}", " M m.py"], status


def test_plain_post_commit_script_starts_python_for_a_record() -> None:
    script = install.render_hook("post-commit")
    assert f'"$STATE/{history.PARTIAL}"' in script
    assert f'"$STATE/{history.STAMP}"' in script
