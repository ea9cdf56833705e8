"""``git commit PATH`` when the commit hook stages more than the registry: a header it wrote
into a new file, a prefix-mode rename (``auto_stage = all``), a re-pointed reference, the
merge drivers' ``.gitattributes`` line.  git commits them from its temporary index but
updates the real index for PATH only, as it was before the hook: the real index must end up
holding the committed files too (``git status`` clean, and the next commit reverts
nothing) — under the plain git hooks and under the pre-commit framework."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, make_tree, run_regauto
from tests.hook_helpers import committed_records
from tests.test_commit_only import commit, work  # noqa: F401  (the fixture)
from tests.test_history_ops import (  # noqa: F401  (fixtures)
    GENERATOR,
    assert_clean_tip,
    commit_all,
    pre_commit_home,
    regauto_hook_repo,
    repo,
)

pytestmark = pytest.mark.timeout(240)
PREFIX_RULE = '[[rules]]\nmatch = "docs/**/*.md"\nid_mode = "prefix"\n\n'


@pytest.fixture
def staging_all(work: Path) -> Path:  # noqa: F811  (the imported fixture)
    """``work`` with ``auto_stage = all`` and ``docs/**/*.md`` in prefix mode: the hook stages
    the headers and renames it makes."""
    cfg = work / "regauto.toml"
    text = cfg.read_text().replace('auto_stage = "managed"', 'auto_stage = "all"')
    cfg.write_text(text.replace("[[rules]]", PREFIX_RULE + "[[rules]]", 1))
    git(work, "add", "-A")
    commit_all(work, "auto_stage = all")
    assert git(work, "status", "--porcelain") == ""
    return work


def entries(root: Path, rev: str | None, paths: list[str]) -> dict[str, str]:
    """``{path: "mode blob"}`` of ``paths`` at ``rev`` (None: the real index)."""
    if rev is None:
        out = git(root, "ls-files", "-s", "--", *paths)
        return {ln.split("\t")[1]: " ".join(ln.split()[:2]) for ln in out.splitlines()}
    out = git(root, "ls-tree", "-r", rev, "--", *paths)
    return {ln.split("\t")[1]: " ".join(ln.split()[:3:2]) for ln in out.splitlines()}


def assert_real_index_is_the_commit(root: Path, paths: list[str]) -> None:
    assert entries(root, None, paths) == entries(root, "HEAD", paths)
    assert git(root, "status", "--porcelain") == ""
    r = run_regauto("check", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr


def then_commit_another_file(root: Path) -> None:
    """The next commit, of another file, is clean: it reverts nothing the hook staged."""
    make_tree(root, {"notes/n.txt": "one\nTWO\nthree\n"})
    git(root, "add", "notes/n.txt")
    commit(root, "-m", "n.txt")
    changed = git(root, "diff", "--name-only", "HEAD^", "HEAD", "--", ":!.regauto",
                  ":!INDEX.md").split()
    assert changed == ["notes/n.txt"]
    assert git(root, "status", "--porcelain") == ""
    assert_clean_tip(root)


def test_header_written_into_a_new_file(staging_all: Path) -> None:
    root = staging_all
    make_tree(root, {"new.py": "x = 1\n"})
    git(root, "add", "new.py")
    commit(root, "-m", "new.py", "new.py")
    header = f"# doc_id: {committed_records(root)['new.py']['doc_id']}"
    assert header in git(root, "show", "HEAD:new.py")
    assert header in (root / "new.py").read_text()
    assert_clean_tip(root)
    assert_real_index_is_the_commit(root, ["new.py"])
    then_commit_another_file(root)
    assert header in git(root, "show", "HEAD:new.py")


def commit_readme_linking_the_guide(root: Path) -> None:
    """A committed README.md with a link to docs/guide.md (not a document yet)."""
    make_tree(root, {"README.md": "# Project\n\nSee [the guide](docs/guide.md).\n"})
    git(root, "add", "README.md")
    commit(root, "-m", "readme")


def test_prefix_rename_and_its_reference(staging_all: Path) -> None:
    """A new prefix-mode doc committed by path is renamed by the hook (old path removed,
    new one added) and the link to it in a committed file, not in PATH, re-pointed."""
    root = staging_all
    commit_readme_linking_the_guide(root)
    make_tree(root, {"docs/guide.md": "# Guide\n"})
    git(root, "add", "docs/guide.md")
    commit(root, "-m", "guide", "docs/guide.md")
    new = next(p for p in committed_records(root) if p.endswith("_guide.md"))
    assert re.fullmatch(r"docs/\d{16}_guide\.md", new)
    assert not (root / "docs/guide.md").exists() and (root / new).exists()
    assert f"({new})" in git(root, "show", "HEAD:README.md")
    assert_clean_tip(root)
    assert_real_index_is_the_commit(root, ["docs/guide.md", new, "README.md"])
    then_commit_another_file(root)
    assert f"({new})" in git(root, "show", "HEAD:README.md")


def test_gitattributes_line_for_a_new_output(work: Path) -> None:  # noqa: F811
    """A generator configured since ``init``, committed by path: the hook adds its output's
    merge-driver line to ``.gitattributes`` and stages it."""
    root = work
    with (root / "regauto.toml").open("a") as f:
        f.write(GENERATOR)
    commit(root, "-m", "index", "regauto.toml")
    assert "INDEX.md" in git(root, "show", "HEAD:.gitattributes")
    assert_clean_tip(root)
    assert_real_index_is_the_commit(root, [".gitattributes", "INDEX.md"])
    then_commit_another_file(root)


@pytest.mark.parametrize("repo", ["git-hooks"], indirect=True)
def test_a_file_the_user_staged_meanwhile_is_kept(staging_all: Path) -> None:
    """The hook re-points a link in a file outside PATH whose own version the user has
    staged: the real index keeps the user's version, and one line names the file.

    Plain git hooks only: under the framework the commit fails before post-commit (its
    stash of the user's README conflicts with the re-pointed link; the hook warns that
    ``auto_stage = all`` can clash with that stash)."""
    root = staging_all
    commit_readme_linking_the_guide(root)
    make_tree(root, {"README.md": "# Mine\n\nSee [the guide](docs/guide.md).\n"})
    git(root, "add", "README.md")
    mine = entries(root, None, ["README.md"])
    make_tree(root, {"docs/guide.md": "# Guide\n"})
    git(root, "add", "docs/guide.md")
    p = subprocess.run(["git", "commit", "-q", "-m", "guide", "docs/guide.md"], cwd=root,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    warnings = [ln for ln in p.stderr.splitlines() if "stay staged" in ln]
    assert len(warnings) == 1 and "README.md" in warnings[0], p.stderr
    assert entries(root, None, ["README.md"]) == mine
    assert_clean_tip(root)
