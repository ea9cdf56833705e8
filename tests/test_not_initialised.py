"""A repository regauto was never set up in (issue 13): every command but ``init``, ``demo``
and ``--help`` refuses with one line and creates or changes nothing; the git hooks exit 0
silently (they must never block a repository that does not use regauto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, make_tree
from pipeline_helpers import regauto

FILES = {
    "docs/guide.md": "# Guide\n\nSee [the api](api.md).\n",
    "docs/api.md": "# API\n",
    "pkg/mod.py": "x = 1\n",
    "pyproject.toml": "[project]\nname = 'x'\n",
}

COMMANDS: list[tuple[str, ...]] = [
    ("check",), ("fix",), ("fix", "--dry-run"), ("sync", "--all"), ("sync", "docs/guide.md"),
    ("ls",), ("show", "docs/guide.md"), ("hash",), ("stats",), ("patch", "-"),
    ("generate",), ("queue", "list"), ("queue", "add", "docs"), ("queue", "run"),
    ("queue", "dead"), ("queue", "purge"), ("watch",), ("daemon", "start"),
    ("daemon", "status"), ("daemon", "stop"),
]


def tree_bytes(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root`` (directories as None), .git's own contents included."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


@pytest.fixture(params=["git", "plain"])
def bare_repo(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    make_tree(root, FILES)
    if request.param == "git":
        git(root, "init", "-q")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_refuses_and_changes_nothing(bare_repo: Path, cmd: tuple[str, ...]) -> None:
    before = tree_bytes(bare_repo)
    proc = regauto(bare_repo, *cmd, timeout=60)
    assert proc.returncode == 2, (cmd, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "regauto init" in lines[0], proc.stderr
    assert proc.stdout == ""
    assert tree_bytes(bare_repo) == before


def test_hooks_exit_0_silently_in_a_repo_without_regauto(bare_repo: Path) -> None:
    if not (bare_repo / ".git").exists():
        pytest.skip("hooks need git")
    git(bare_repo, "add", "-A")
    before = tree_bytes(bare_repo)
    for hook in (("pre-commit",), ("post-merge", "0"), ("post-checkout", "HEAD", "HEAD", "1")):
        proc = regauto(bare_repo, "hook", *hook)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), hook
    assert tree_bytes(bare_repo) == before


def test_init_then_commands_work(bare_repo: Path) -> None:
    assert regauto(bare_repo, "init").returncode == 0
    assert regauto(bare_repo, "ls").returncode == 0
    assert regauto(bare_repo, "check").returncode in (0, 1)


def test_help_and_demo_need_no_init(tmp_path: Path) -> None:
    assert regauto(tmp_path, "--help").returncode == 0
    assert regauto(tmp_path, "check", "--help").returncode == 0
