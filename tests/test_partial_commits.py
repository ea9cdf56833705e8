"""Partial commits (SPEC §3, "Two registries"): the registry in the index describes the
index, the registry in the work tree describes the work tree.

Each test commits one staged document while other documents have unstaged edits — with the
work-tree registry not describing them, describing them (``regauto fix``), or kept current
by the daemon — under the plain git hooks and under the pre-commit framework.  Each needs
one commit attempt; then a fresh clone passes ``regauto check`` at the tip, and the work
tree's own registry still describes the work tree.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from regauto import git as rgit
from regauto.project import Project
from regauto.registry import open_store
from regauto.registry.id_index import IdIndex
from regauto.registry.records import shard_of
from tests.conftest import git, make_tree, run_regauto
from tests.hook_helpers import committed_records
from tests.test_history_ops import (  # noqa: F401  (fixtures)
    assert_clean_tip,
    commit_all,
    edit,
    pre_commit_home,
    regauto_hook_repo,
    repo,
    with_index,
)
from tests.watch_helpers import records, stop_daemon, wait_for

pytestmark = pytest.mark.timeout(240)



def edit_m(root: Path) -> bytes:
    """An unstaged edit of ``m.py``; returns its new content."""
    edit(root, "v7 = 7\n", "v7 = 'unstaged'\n")
    return (root / "m.py").read_bytes()


def neighbour() -> str:
    """A document in the same registry shard as ``m.py``: its record sits next to the
    one the work tree changes, where a stash of unstaged registry edits would conflict."""
    return next(p for i in range(10_000)
                if shard_of(p := f"notes/near-{i}.txt") == shard_of("m.py"))


@pytest.fixture
def work(repo: Path) -> Iterator[Path]:  # noqa: F811  (the imported fixture)
    """``repo`` with a neighbour of ``m.py`` committed; no daemon left behind."""
    make_tree(repo, {neighbour(): "near\n"})
    git(repo, "add", "-A")
    commit_all(repo, "add the neighbour")
    yield repo
    stop_daemon(repo)


def commit_staged_edits(root: Path) -> None:
    """Edit and stage the neighbour and ``notes/n.txt``; ONE commit attempt must pass."""
    make_tree(root, {neighbour(): "near, edited\n", "notes/n.txt": "one\nTWO\nthree\n"})
    git(root, "add", neighbour(), "notes/n.txt")
    p = subprocess.run(["git", "commit", "-qm", "partial"], cwd=root, capture_output=True,
                       text=True, check=False)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "conflicted" not in out and "Rolling back" not in out, out


def assert_partial_commit(root: Path) -> None:
    """The tip recorded what it committed; ``m.py``'s edit stayed unstaged, uncommitted."""
    assert_clean_tip(root)
    recs = committed_records(root)
    assert recs[neighbour()]["blob"] == rgit.blob_id(b"near, edited\n")
    assert "unstaged" not in git(root, "show", "HEAD:m.py")
    assert "unstaged" in (root / "m.py").read_text()
    assert "m.py" in git(root, "diff", "--name-only")


def test_unstaged_edits_of_other_documents(work: Path) -> None:
    edit_m(work)
    commit_staged_edits(work)
    assert_partial_commit(work)
    # The work tree's registry never described the edit: check says so, and only that.
    r = run_regauto("check", cwd=work)
    assert r.returncode == 1
    assert "m.py" in r.stdout and "uncommitted edits" in r.stdout, r.stdout
    assert "n.txt" not in r.stdout and "near" not in r.stdout, r.stdout


def test_work_tree_registry_already_describes_the_unstaged_edits(work: Path) -> None:
    m_edit = edit_m(work)
    r = run_regauto("fix", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    assert ".regauto/registry/" in git(work, "diff", "--name-only")
    commit_staged_edits(work)
    assert_partial_commit(work)
    # The work tree's registry still describes the work tree, unstaged edit included.
    assert records(work)["m.py"]["blob"] == rgit.blob_id(m_edit)
    r = run_regauto("check", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr


def test_daemon_keeps_the_work_tree_registry_current(work: Path) -> None:
    r = run_regauto("daemon", "start", cwd=work)
    assert r.returncode == 0, r.stderr
    m_edit = edit_m(work)
    wait_for("the daemon to record m.py's edit", lambda: records(work)["m.py"]["blob"]
             == rgit.blob_id(m_edit), timeout=30)
    # Another unstaged edit just before the commit: the daemon is busy with it meanwhile.
    make_tree(work, {"notes/later.txt": "written during the commit\n"})
    commit_staged_edits(work)
    assert_partial_commit(work)
    assert "notes/later.txt" not in committed_records(work)
    wait_for("the daemon to register notes/later.txt",
             lambda: "notes/later.txt" in records(work), timeout=30)
    wait_for("the work tree's registry to describe the work tree",
             lambda: run_regauto("check", cwd=work).returncode == 0, timeout=30)
    assert records(work)["m.py"]["blob"] == rgit.blob_id(m_edit)


def test_outputs_are_rendered_from_the_index(work: Path) -> None:
    """A generated output is rendered from the index's registry for the commit, while the
    work tree's registry and output describe an unregistered draft the commit leaves out."""
    with_index(work)
    make_tree(work, {"notes/draft.txt": "draft\n"})
    r = run_regauto("fix", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "notes/draft.txt" in (work / "INDEX.md").read_text()
    make_tree(work, {"notes/a.txt": "a\n"})
    git(work, "add", "notes/a.txt")
    p = subprocess.run(["git", "commit", "-qm", "add a"], cwd=work, capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert_clean_tip(work)
    index = git(work, "show", "HEAD:INDEX.md")
    assert "notes/a.txt" in index and "notes/draft.txt" not in index
    assert "notes/draft.txt" in (work / "INDEX.md").read_text()
    assert "notes/draft.txt" in records(work)
    # Locally: at most the work tree's output is behind its registry (a.txt), which is true.
    r = run_regauto("check", cwd=work)
    assert r.returncode == 0 or "INDEX.md" in r.stdout, r.stdout
    assert "draft" not in r.stdout and "notes/a.txt" not in r.stdout, r.stdout


def test_a_document_registered_before_it_is_staged_keeps_its_id(work: Path) -> None:
    """The work tree's registry gave a new document its id (``fix``, the daemon); staging
    the document alone must commit that id, not a second one (ids are permanent)."""
    make_tree(work, {"notes/new.txt": "new\n"})
    r = run_regauto("fix", cwd=work)
    assert r.returncode == 0, r.stdout + r.stderr
    given = records(work)["notes/new.txt"]["doc_id"]
    git(work, "add", "notes/new.txt")
    p = subprocess.run(["git", "commit", "-qm", "add new"], cwd=work, capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert_clean_tip(work)
    assert committed_records(work)["notes/new.txt"]["doc_id"] == given
    assert records(work)["notes/new.txt"]["doc_id"] == given
    assert git(work, "status", "--porcelain") == ""


def test_the_id_index_follows_the_commit_hooks_writes(work: Path) -> None:
    """The registry shards the hook writes into the index and mirrors into the work tree
    are told to the work tree's id index row by row: afterwards it holds exactly the
    work-tree registry's (doc_id, shard, path), and has no shard left to re-read."""
    project = Project.open(work)
    store = open_store(project)
    index = IdIndex(store)
    index.sync(store.manifest())  # in step, as any regauto command leaves it
    index.close()
    make_tree(work, {neighbour(): "near, edited\n", "notes/new.txt": "new\n"})
    (work / "moved").mkdir()
    git(work, "mv", "notes/n.txt", "moved/n.txt")  # a record that changes shards
    git(work, "add", "-A")
    p = subprocess.run(["git", "commit", "-qm", "edits"], cwd=work, capture_output=True,
                       text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = [json.loads(line) for shard in sorted(store.dir.glob("*.jsonl"))
             for line in shard.read_text().splitlines()]  # read directly: no id index sync
    true_rows = sorted((r["doc_id"], shard_of(r["path"]), r["path"]) for r in lines)
    index = IdIndex(store)
    try:
        held = sorted((d, s, pth) for d, places in index.all_ids().items()
                      for s, pth in places)
        assert held == true_rows
        assert index.sync(store.manifest()) == 0  # nothing left for the next run to re-read
    finally:
        index.close()
    assert_clean_tip(work)
