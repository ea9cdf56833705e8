"""``auto_stage = "all"``: a new ADR and a link to it commit in one go — the rename and the
rewritten link staged by the hook, the registry describing what is committed (issue 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_tree, run_regauto
from hook_helpers import assert_commit_consistent


def test_new_adr_and_its_link_commit_in_one_go(git_repo: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    make_tree(git_repo, {
        "regauto.toml": 'auto_stage = "all"\n[[rules]]\nmatch = "adr/**"\nid_mode = "prefix"\n'
                        '[[rules]]\nmatch = "**/*"\nid_mode = "registry"\n',
        "README.md": "# Project\n\nDecisions:\n",
    })
    assert run_regauto("init", "--hooks", "git", cwd=git_repo).returncode == 0
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "setup")
    make_tree(git_repo, {"adr/0001-use-x.md": "# Use X\n"})
    with (git_repo / "README.md").open("a") as f:
        f.write("- [Use X](adr/0001-use-x.md#context)\n")
    (git_repo / "notes.md").write_text("unstaged, never committed\n")
    git(git_repo, "add", "adr", "README.md")
    r = subprocess.run(["git", "commit", "-q", "-m", "ADR 1"], cwd=git_repo,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    recs = assert_commit_consistent(git_repo)
    adr = next(p for p in recs if p.startswith("adr/"))
    assert adr.endswith("_0001-use-x.md")
    committed = git(git_repo, "show", "HEAD:README.md")
    assert f"- [Use X]({adr}#context)\n" in committed
    assert git(git_repo, "status", "--porcelain") == "?? notes.md\n"
