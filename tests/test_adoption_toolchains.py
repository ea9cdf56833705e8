"""Adoption on real documentation projects (issue 13 acceptance): a Sphinx reST project, a
MyST project and an MkDocs project, each with an ADR folder, a vendored package and test
fixtures.  After ``init`` + ``sync --all``: the real build passes with no more warnings than
before, no reference newly broken, vendored and fixture files untouched, the ADRs renamed
with their ids and every link to them rewritten.  Then a new ADR through the hook."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_tree
from pipeline_helpers import by_path, regauto
from regauto.automation.references import can_refer, scan

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_parser") is None
    or importlib.util.find_spec("mkdocs") is None,
    reason="needs sphinx, myst-parser and mkdocs (requirements-test.txt)")

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")

COMMON: dict[str, str | bytes] = {
    "src/pkg/__init__.py": '"""The package."""\n',
    "src/pkg/mod.py": "def answer():\n    return 42\n",
    "src/pkg/_vendor/__init__.py": "",
    "src/pkg/_vendor/six.py": "# vendored, byte for byte\nPY3 = True\n",
    "src/pkg/_vendor/README.md": "Vendored; see [upstream](../../../docs/img/diagram.png).\n",
    "tests/data/sample.md": "# A fixture\n\n[link](other.md)\n",
    "tests/fixtures/case.rst": "Case\n====\n",
    "tests/test_mod.py": "def test_answer():\n    assert True\n",
    "docs/img/diagram.png": PNG,
}

SPHINX: dict[str, str | bytes] = {
    **COMMON,
    "docs/conf.py": 'project = "Example"\nroot_doc = "index"\nexclude_patterns = ["_build"]\n',
    "docs/index.rst": (
        "Example\n=======\n\n.. toctree::\n   :maxdepth: 2\n\n   guide\n"
        "   Decisions <adr/0001-use-sqlite>\n   adr/0002-use-http\n\n"
        "See :doc:`guide` and :doc:`the first decision <adr/0001-use-sqlite>`.\n\n"
        ".. image:: img/diagram.png\n\n.. literalinclude:: ../src/pkg/mod.py\n"),
    "docs/guide.rst": (
        "Guide\n=====\n\nWhy SQLite: :doc:`/adr/0001-use-sqlite`.\n\n"
        ".. figure:: /img/diagram.png\n\n   The diagram.\n\n"
        ".. include:: snippets/note.txt\n"),
    "docs/snippets/note.txt": "A shared note.\n",
    "docs/adr/0001-use-sqlite.rst": "Use SQLite\n==========\n\nContext\n-------\n\nSmall.\n",
    "docs/adr/0002-use-http.rst": (
        "Use HTTP\n========\n\nFollows :doc:`0001-use-sqlite`.\n"),
    "README.rst": "Example\n=======\n\nDecisions: `the first <docs/adr/0001-use-sqlite.rst>`_.\n",
}

MYST: dict[str, str | bytes] = {
    **COMMON,
    "docs/conf.py": ('project = "Example"\nextensions = ["myst_parser"]\n'
                     'exclude_patterns = ["_build"]\n'),
    "docs/index.md": (
        "# Example\n\n```{toctree}\n:maxdepth: 2\n\nguide\nDecisions <adr/0001-use-sqlite>\n"
        "adr/0002-use-http\n```\n\nSee {doc}`guide`, [the first decision](adr/0001-use-sqlite.md) "
        "and ![diagram](img/diagram.png).\n\n```{include} snippets/note.md\n```\n"),
    "docs/guide.md": (
        "# Guide\n\nWhy SQLite: {doc}`the decision <adr/0001-use-sqlite>`, or "
        "[by reference][adr].\n\n[adr]: adr/0001-use-sqlite.md\n"),
    "docs/snippets/note.md": "A shared note.\n",
    "docs/adr/0001-use-sqlite.md": "# Use SQLite\n\n## Context\n\nSmall.\n",
    "docs/adr/0002-use-http.md": "# Use HTTP\n\nFollows [ADR 1](0001-use-sqlite.md).\n",
    "README.md": "# Example\n\nDecisions: [the first](docs/adr/0001-use-sqlite.md).\n",
}

MKDOCS: dict[str, str | bytes] = {
    **COMMON,
    "mkdocs.yml": ("site_name: Example\ndocs_dir: docs\nnav:\n  - Home: index.md\n"
                   "  - Guide: guide.md\n  - Decisions: adr/index.md\n"),
    "docs/index.md": "# Example\n\nSee the [guide](guide.md) and ![diagram](img/diagram.png).\n",
    "docs/guide.md": "# Guide\n\nWhy SQLite: [ADR 1](adr/0001-use-sqlite.md#context).\n",
    "docs/adr/index.md": ("# Decisions\n\n- [Use SQLite](0001-use-sqlite.md)\n"
                          "- [Use HTTP](0002-use-http.md)\n"),
    "docs/adr/0001-use-sqlite.md": "# Use SQLite\n\n## Context\n\nSmall.\n",
    "docs/adr/0002-use-http.md": "# Use HTTP\n\nFollows [ADR 1](0001-use-sqlite.md).\n",
    "README.md": "# Example\n\nDecisions: [the first](docs/adr/0001-use-sqlite.md).\n",
}

UNTOUCHED = ("src/pkg/_vendor/", "tests/data/", "tests/fixtures/")


def build(repo: Path, kind: str, out: Path) -> tuple[int, list[str]]:
    """Build the docs outside the repository; (exit code, warning lines)."""
    if kind == "mkdocs":
        cmd = [sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(out)]
    else:
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E",
               "-d", str(out / "doctrees"), "docs", str(out / "html")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=env, timeout=180)
    warnings = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "WARNING" in ln]
    return proc.returncode, warnings


def broken_references(repo: Path) -> set[tuple[str, str]]:
    """(file, written target) of every reference whose target exists nowhere."""
    out = set()
    for p in git(repo, "ls-files", "-co", "--exclude-standard").splitlines():
        if not can_refer(p) or not (repo / p).is_file():
            continue
        srcdir = "docs" if p.startswith("docs/") else ""
        for r in scan(p, (repo / p).read_bytes(), srcdir):
            names = [r.target + s for s in (".rst", ".md")] if r.doc else [r.target]
            if not any((repo / n).exists() for n in names):
                out.add((p, r.written))
    return out


def untouched(repo: Path) -> dict[str, bytes]:
    return {p: (repo / p).read_bytes()
            for p in git(repo, "ls-files", "-co", "--exclude-standard").splitlines()
            if p.startswith(UNTOUCHED)}


def adopt(repo: Path, files: dict[str, str | bytes], kind: str, tmp: Path) -> dict[str, str]:
    make_tree(repo, files)
    (repo / ".regauto").rename(tmp / "unused-registry")  # a repository never set up
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the project")
    rc, warnings_before = build(repo, kind, tmp / "before")
    assert rc == 0, warnings_before
    broken_before = broken_references(repo)
    kept = untouched(repo)
    proc = regauto(repo, "init", "--hooks", "git")
    assert proc.returncode == 0, proc.stderr
    proc = regauto(repo, "sync", "--all")
    assert proc.returncode == 0, proc.stderr
    rc, warnings_after = build(repo, kind, tmp / "after")
    assert rc == 0, warnings_after
    assert len(warnings_after) <= len(warnings_before), warnings_after
    assert broken_references(repo) <= broken_before
    assert untouched(repo) == kept
    recs = by_path(repo)
    adrs = {p.rsplit("_", 1)[1]: p for p in recs if p.startswith("docs/adr/0") or
            "/adr/2" in p}
    ext = "rst" if "docs/adr/0001-use-sqlite.rst" in files else "md"
    assert set(adrs) == {f"0001-use-sqlite.{ext}", f"0002-use-http.{ext}"}
    for p in adrs.values():
        assert p.split("/")[-1].startswith(recs[p]["doc_id"] + "_"), p
    assert regauto(repo, "check").returncode == 0
    return adrs


def commit_new_adr(repo: Path, name: str, text: str, linker: str, link: str) -> None:
    """A new ADR and a link to it in one commit (plain git hooks, auto_stage = managed):
    renamed, the link rewritten, the commit passes after one `git add`."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "adopt regauto")
    make_tree(repo, {f"docs/adr/{name}": text})
    with (repo / linker).open("a", encoding="utf-8") as f:
        f.write(link)
    git(repo, "add", "-A")
    first = subprocess.run(["git", "commit", "-q", "-m", "ADR 3"], cwd=repo,
                           capture_output=True, text=True)
    assert first.returncode == 1 and "rewrote the reference" in first.stderr, first.stderr
    git(repo, "add", "-A")
    second = subprocess.run(["git", "commit", "-q", "-m", "ADR 3"], cwd=repo,
                            capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    new = [p for p in git(repo, "ls-files", "docs/adr").splitlines() if p.endswith(name)]
    assert len(new) == 1 and new[0] != f"docs/adr/{name}"
    assert new[0].rsplit("/", 1)[1].rsplit(".", 1)[0] in (repo / linker).read_text()
    assert regauto(repo, "check").returncode == 0
    assert git(repo, "status", "--porcelain") == ""


def test_sphinx_rest_project(git_repo: Path, tmp_path: Path) -> None:
    adrs = adopt(git_repo, SPHINX, "sphinx", tmp_path)
    first = adrs["0001-use-sqlite.rst"].rsplit("/", 1)[1][:-4]
    index = (git_repo / "docs/index.rst").read_text()
    assert f"Decisions <adr/{first}>" in index and f"<adr/{first}>`" in index
    assert f":doc:`/adr/{first}`" in (git_repo / "docs/guide.rst").read_text()
    assert f"<docs/adr/{first}.rst>`_" in (git_repo / "README.rst").read_text()
    assert (git_repo / "docs/index.rst").read_text().startswith(".. doc_id: ")
    commit_new_adr(git_repo, "0003-use-json.rst", "Use JSON\n========\n", "docs/index.rst",
                   "\nAlso :doc:`adr/0003-use-json`.\n")


def test_myst_project(git_repo: Path, tmp_path: Path) -> None:
    adrs = adopt(git_repo, MYST, "sphinx", tmp_path)
    first = adrs["0001-use-sqlite.md"].rsplit("/", 1)[1]
    index = (git_repo / "docs/index.md").read_text()
    assert f"Decisions <adr/{first[:-3]}>" in index and f"(adr/{first})" in index
    assert f"[adr]: adr/{first}" in (git_repo / "docs/guide.md").read_text()
    commit_new_adr(git_repo, "0003-use-json.md", "# Use JSON\n", "docs/guide.md",
                   "\nAlso {doc}`adr/0003-use-json`.\n")


def test_mkdocs_project(git_repo: Path, tmp_path: Path) -> None:
    adrs = adopt(git_repo, MKDOCS, "mkdocs", tmp_path)
    first = adrs["0001-use-sqlite.md"].rsplit("/", 1)[1]
    assert f"(adr/{first}#context)" in (git_repo / "docs/guide.md").read_text()
    assert f"[Use SQLite]({first})" in (git_repo / "docs/adr/index.md").read_text()
    assert (git_repo / "docs/adr/index.md").exists()  # named in nav: never renamed
    commit_new_adr(git_repo, "0003-use-json.md", "# Use JSON\n", "docs/adr/index.md",
                   "- [Use JSON](0003-use-json.md)\n")
