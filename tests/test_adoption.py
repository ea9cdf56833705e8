"""Adopting regauto on an existing repository (issue 13): what init detects and writes, the
files toolchains name (never renamed), references re-pointed on rename, broken_reference."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from conftest import git, make_tree
from pipeline_helpers import by_path, regauto, sync
from regauto import config as config_mod
from regauto import toolchains
from regauto.automation import adoption

SPHINX_CONF = '''import os, sys
sys.path.insert(0, os.path.abspath(".."))
project = "Example"
extensions = ["sphinx.ext.autodoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "start"
exclude_patterns = ["_build"]
html_theme = os.environ.get("THEME", "alabaster")   # not a literal: ignored
'''

MKDOCS = b"""site_name: Example
docs_dir: site
nav:
  - Home: index.md
  - Guide: guide/intro.md
  - API: https://example.org/api/
"""


def test_toolchains_detected_without_running_anything(tmp_path: Path) -> None:
    make_tree(tmp_path, {
        "docs/conf.py": SPHINX_CONF + "open('/tmp/should-not-exist-regauto', 'w')\n",
        "docs/start.rst": "Start\n=====\n",
        "mkdocs.yml": MKDOCS,
        "site/index.md": "# Home\n",
        "pyproject.toml": '[project]\nname = "x"\nreadme = "README.rst"\n',
        "MANIFEST.in": "include NOTICE.txt docs/*.txt\nrecursive-include docs *.rst\n",
    })
    found = {tc.kind: tc for tc in toolchains.detect(tmp_path)}
    sph = found["sphinx"]
    assert (sph.source_dir, sph.root_doc, sph.myst) == ("docs", "docs/start.rst", True)
    assert set(sph.suffixes) == {".rst", ".md"}
    mk = found["mkdocs"]
    assert mk.source_dir == "site" and mk.root_doc == "site/index.md"
    assert set(toolchains.named_files(tmp_path)) == {
        "docs/start.rst", "site/index.md", "site/guide/intro.md", "README.rst", "NOTICE.txt"}
    assert not Path("/tmp/should-not-exist-regauto").exists()


def test_init_writes_rules_from_what_it_found(git_repo: Path) -> None:
    make_tree(git_repo, {
        "docs/conf.py": SPHINX_CONF, "docs/start.rst": "Start\n=====\n",
        "docs/guide.md": "# Guide\n", "docs/adr/0001-use-x.md": "# Use X\n",
        "src/pkg/mod.py": "x = 1\n", "src/pkg/_vendor/six.py": "y = 2\n",
        "tests/data/input.md": "# fixture\n", "tests/fixtures/case.rst": "Case\n",
        "gen/out.md": "# generated\n", ".gitattributes": "gen/** linguist-generated\n",
        "notes/todo.md": "# todo\n",
    })
    shutil.rmtree(git_repo / ".regauto")  # a repository never set up
    proc = regauto(git_repo, "init")
    assert proc.returncode == 0, proc.stderr
    assert "found Sphinx + MyST (docs/conf.py; root document docs/start.rst)" in proc.stderr
    text = (git_repo / "regauto.toml").read_text()
    assert "# vendored third-party code: never modified" in text
    cfg = config_mod.load(git_repo)
    mode = {p: cfg.rule_for(p).id_mode for p in (
        "docs/adr/0001-use-x.md", "docs/guide.md", "docs/start.rst", "src/pkg/mod.py",
        "src/pkg/_vendor/six.py", "tests/data/input.md", "tests/fixtures/case.rst",
        "gen/out.md", "notes/todo.md")}
    assert mode == {
        "docs/adr/0001-use-x.md": "prefix", "docs/guide.md": "header",
        "docs/start.rst": "header", "src/pkg/mod.py": "header",
        "src/pkg/_vendor/six.py": "registry", "tests/data/input.md": "registry",
        "tests/fixtures/case.rst": "registry", "gen/out.md": "registry",
        "notes/todo.md": "registry"}


def test_gitattributes_patterns() -> None:
    assert adoption.gitattributes_globs(
        "*.min.js linguist-generated\n/third/ linguist-vendored=true\n"
        "docs/** -linguist-vendored\nx.py linguist-generated=false\n# c linguist-vendored\n"
    ) == {"**/*.min.js": "linguist-generated in .gitattributes",
          "third/**": "linguist-vendored in .gitattributes"}


def test_toolchain_named_files_are_never_renamed(git_repo: Path) -> None:
    make_tree(git_repo, {
        "regauto.toml": '[[rules]]\nmatch = "docs/**"\nid_mode = "prefix"\n',
        "mkdocs.yml": b"site_name: x\nnav:\n  - Home: index.md\n  - Guide: guide.md\n",
        "docs/index.md": "# Home\n", "docs/guide.md": "# Guide\n", "docs/other.md": "# O\n",
    })
    sync(git_repo, "--all")
    assert (git_repo / "docs/index.md").exists() and (git_repo / "docs/guide.md").exists()
    assert not (git_repo / "docs/other.md").exists()
    assert by_path(git_repo)["docs/index.md"]["id_mode"] == "registry"


ADR_TREE = {
    "regauto.toml": '[[rules]]\nmatch = "docs/adr/**"\nid_mode = "prefix"\n'
                    '[[rules]]\nmatch = "vendor/**"\nid_mode = "registry"\n'
                    '[[rules]]\nmatch = "**/*"\nid_mode = "registry"\n',
    "docs/adr/0001-use-x.md": "# Use X\n\n## Context\n",
    "docs/index.md": "# Index\n\n* [ADR 1](adr/0001-use-x.md#context \"The first\")\n",
    "README.md": "See [the decision](docs/adr/0001-use-x.md).\n\n[d]: docs/adr/0001-use-x.md\n",
    "vendor/lib/README.md": "Upstream: [x](../../docs/adr/0001-use-x.md)\n",
}


def test_sync_renames_and_rewrites_every_reference(git_repo: Path) -> None:
    make_tree(git_repo, ADR_TREE)
    vendored = (git_repo / "vendor/lib/README.md").read_bytes()
    proc = sync(git_repo, "--all")
    doc = next(p for p in by_path(git_repo) if p.startswith("docs/adr/"))
    name = doc.rsplit("/", 1)[1]
    assert name.endswith("_0001-use-x.md")
    assert (git_repo / "docs/index.md").read_text() == (
        f"# Index\n\n* [ADR 1](adr/{name}#context \"The first\")\n")
    assert (git_repo / "README.md").read_text() == (
        f"See [the decision](docs/adr/{name}).\n\n[d]: docs/adr/{name}\n")
    assert "rewrote the reference README.md:1:" in proc.stderr
    assert "rewrote the reference docs/index.md:3:" in proc.stderr
    assert (git_repo / "vendor/lib/README.md").read_bytes() == vendored
    assert regauto(git_repo, "check").returncode == 0  # the rewritten files re-registered


def test_broken_reference_after_a_plain_mv(git_repo: Path) -> None:
    make_tree(git_repo, ADR_TREE)
    sync(git_repo, "--all")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "adopt")
    old = next(p for p in by_path(git_repo) if p.startswith("docs/adr/"))
    new = old.replace("docs/adr/", "docs/decisions/")
    (git_repo / "docs/decisions").mkdir()
    (git_repo / old).rename(git_repo / new)  # behind regauto's back
    proc = regauto(git_repo, "check", "--format", "json")
    assert proc.returncode == 1
    broken = sorted((d["path"], d["detail"].split(":")[0]) for d in json.loads(proc.stdout)
                    if d["kind"] == "broken_reference")
    assert broken == [("README.md", "line 1"), ("README.md", "line 3"),
                      ("docs/index.md", "line 3")]
    vendored = (git_repo / "vendor/lib/README.md").read_bytes()
    proc = regauto(git_repo, "fix")
    assert "rewrote README.md:1: docs/adr/" in proc.stdout
    name = new.rsplit("/", 1)[1]
    assert f"(decisions/{name}#context" in (git_repo / "docs/index.md").read_text()
    assert (git_repo / "vendor/lib/README.md").read_bytes() == vendored
    assert proc.returncode == 0, proc.stderr
    assert regauto(git_repo, "check").returncode == 0
    tree = {p: (git_repo / p).read_bytes() for p in ("README.md", "docs/index.md")}
    again = regauto(git_repo, "fix")
    assert "rewrote" not in again.stdout
    assert {p: (git_repo / p).read_bytes() for p in tree} == tree


def test_references_all_lists_links_to_paths_never_known(git_repo: Path) -> None:
    make_tree(git_repo, {"regauto.toml": "", "a.md": "[gone](never/was.md) [ok](b.md)\n",
                         "b.md": "# B\n"})
    sync(git_repo, "--all")
    assert regauto(git_repo, "check").returncode == 0
    proc = regauto(git_repo, "check", "--references", "all", "--format", "json")
    assert proc.returncode == 1
    assert [(d["kind"], d["path"]) for d in json.loads(proc.stdout)] == [
        ("broken_reference", "a.md")]


def _in_sync_tense(line: str) -> str:
    """A ``sync --dry-run`` line as ``sync`` prints the change it announces."""
    if line.startswith("would register "):
        return line.replace("would register ", "registered ", 1)
    if " should be renamed " in line:
        return "renamed " + line.replace(" should be renamed ", " -> ", 1)
    if " needs the header " in line:
        path, _, header = line.partition(" needs the header ")
        return f"added header {header} to {path}"
    return "rewrote the reference " + line.replace(" should become ", " -> ", 1)


def _wait_for_a_fresh_minute() -> None:
    """Ids are per UTC minute: a dry run and the sync after it must share one."""
    second = time.gmtime().tm_sec
    if second >= 45:
        time.sleep(61 - second)


def test_sync_dry_run_is_what_sync_then_does(git_repo: Path) -> None:
    make_tree(git_repo, {**ADR_TREE, "src/mod.py": "x = 1\n",
                         "regauto.toml": ADR_TREE["regauto.toml"].replace(
                             'match = "**/*"', 'match = "**/*.py"\nid_mode = "header"\n'
                             '[[rules]]\nmatch = "**/*"')})
    before = {p: (git_repo / p).read_bytes() for p in ADR_TREE}
    _wait_for_a_fresh_minute()
    text = regauto(git_repo, "sync", "--all", "--dry-run")
    assert text.returncode == 0, text.stderr
    plan = json.loads(regauto(git_repo, "sync", "--all", "--dry-run", "--format", "json").stdout)
    assert {p: (git_repo / p).read_bytes() for p in ADR_TREE} == before
    assert not list((git_repo / ".regauto/registry").glob("*.jsonl"))
    assert [(r["path"], r["line"]) for r in plan["references"]] == [
        ("README.md", 1), ("README.md", 3), ("docs/index.md", 3)]
    assert [h["path"] for h in plan["headers"]] == ["src/mod.py"]
    done = sync(git_repo, "--all").stderr.splitlines()
    # the same registrations (same ids), renames, headers and rewrites, in the other tense
    assert [_in_sync_tense(ln) for ln in text.stdout.splitlines()] == [
        ln for ln in done if not ln.startswith("registry updated")]
    moved = {m["path"]: m["new_path"] for m in plan["renames"]}
    assert {moved.get(r["path"], r["path"]): r["doc_id"] for r in plan["register"]} == {
        path: rec["doc_id"] for path, rec in by_path(git_repo).items()}


def test_init_closes_with_the_plan(git_repo: Path) -> None:
    make_tree(git_repo, {"docs/adr/0001-use-x.md": "# X\n",
                         "docs/index.md": "[x](adr/0001-use-x.md) [gone](nowhere.md)\n",
                         "src/_vendor/v.py": "v = 1\n", "src/m.py": "m = 1\n"})
    shutil.rmtree(git_repo / ".regauto")  # a repository never set up
    proc = regauto(git_repo, "init")
    assert ("`regauto sync --all` would register 6 file(s), head 1, rename 1, rewrite 1 "
            "reference(s), and leave 1 vendored/generated/fixture file(s) untouched"
            ) in proc.stderr
    assert "`regauto sync --all --dry-run` lists every change" in proc.stderr
    assert "1 reference(s) already point nowhere" in proc.stderr
