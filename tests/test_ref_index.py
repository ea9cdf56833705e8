"""The reference index (issue 13): the hook finds the references to a file it renames
without reading every document — in committed files, as HEAD moves, after the index is lost."""

from __future__ import annotations

import posixpath
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from conftest import git, make_tree, run_regauto
from regauto.automation.ref_index import answers, mentioning, names_in
from regauto.automation.references import scan
from test_references import MARKDOWN, NAV, RST


@pytest.mark.parametrize("path, data", [("docs/index.md", MARKDOWN), ("docs/index.rst", RST),
                                        ("mkdocs.yml", NAV)])
def test_every_reference_gives_the_index_its_targets_name(path: str, data: bytes) -> None:
    refs = scan(path, data, "docs")
    assert len(refs) >= 4
    for ref in refs:
        stem = posixpath.basename(ref.target)
        stem = stem if ref.doc else posixpath.splitext(stem)[0]
        words = [stem, quote(stem)]
        if answers(words):  # else the hook greps
            assert {w.encode() for w in words} & names_in(data), ref


def _commit(repo: Path, msg: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-q", "-m", msg], cwd=repo, capture_output=True,
                          text=True)


def test_the_hook_rewrites_links_in_committed_files(git_repo: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    make_tree(git_repo, {
        "regauto.toml": 'auto_stage = "all"\n[[rules]]\nmatch = "adr/**"\nid_mode = "prefix"\n'
                        '[[rules]]\nmatch = "**/*"\nid_mode = "registry"\n',
        # links written before the decisions they name
        "docs/plan.md": "# Plan\n\nSee [Y](../adr/0002-use-y.md#why).\n",
        "docs/other.md": "# Other\n\nNo link to 0002-use-y here, only its name.\n",
    })
    assert run_regauto("init", "--hooks", "git", cwd=git_repo).returncode == 0
    git(git_repo, "add", "-A")
    assert _commit(git_repo, "setup").returncode == 0
    refs_db = git_repo / ".git" / "regauto" / "refs.db"

    def adr(n: int, name: str) -> str:
        make_tree(git_repo, {f"adr/{n:04d}-{name}.md": f"# {name}\n"})
        git(git_repo, "add", "-A")
        r = _commit(git_repo, f"ADR {n}")
        assert r.returncode == 0, r.stderr
        [done] = [p for p in git(git_repo, "ls-files", "adr").split() if f"_{n:04d}-" in p]
        return done

    # The first rename builds the index: the link committed in docs/plan.md is found.
    y = adr(2, "use-y")
    assert refs_db.exists()
    assert git(git_repo, "show", "HEAD:docs/plan.md") == f"# Plan\n\nSee [Y](../{y}#why).\n"
    assert "0002-use-y here" in git(git_repo, "show", "HEAD:docs/other.md")
    # HEAD moved since: a link committed in between is found (the index follows HEAD) ...
    make_tree(git_repo, {"guide/z.md": "[Z](../adr/0003-use-z.md)\n"})
    git(git_repo, "add", "-A")
    assert _commit(git_repo, "guide").returncode == 0
    z = adr(3, "use-z")
    assert git(git_repo, "show", "HEAD:guide/z.md") == f"[Z](../{z})\n"
    # ... and so is one after the index was lost.
    make_tree(git_repo, {"guide/w.md": "[W](../adr/0004-use-w.md)\n"})
    git(git_repo, "add", "-A")
    assert _commit(git_repo, "guide w").returncode == 0
    for f in refs_db.parent.glob("refs.db*"):
        f.unlink()
    w = adr(4, "use-w")
    assert git(git_repo, "show", "HEAD:guide/w.md") == f"[W](../{w})\n"
    assert git(git_repo, "status", "--porcelain") == ""


def test_an_index_whose_base_is_gone_is_rebuilt(git_repo: Path) -> None:
    state = git_repo / ".git" / "regauto"
    make_tree(git_repo, {"docs/a.md": "[x](../x.md)\n", "docs/b.md": "no link\n"})
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "--no-verify", "-m", "a")
    assert mentioning(git_repo, state, ["x"]) == ["docs/a.md"]
    with sqlite3.connect(state / "refs.db") as conn:  # history rewritten, pruned
        conn.execute("UPDATE ref_index_base SET base = ?", ("f" * 40,))
    make_tree(git_repo, {"docs/c.md": "[x](../x.md#y)\n"})
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "--no-verify", "-m", "c")
    git(git_repo, "rm", "-q", "--cached", "docs/a.md")  # staged: no longer in the commit
    assert mentioning(git_repo, state, ["x"]) == ["docs/c.md"]
