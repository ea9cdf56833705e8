"""``regauto check`` has a fast front end (``regauto.cli.check_entry``) for the forms CI
runs; the typer application reads everything else.  Whatever the form, a user sees
exactly what the typer command prints: the same stdout, stderr and exit code."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, initialise, make_tree
from pipeline_helpers import commit_all, sync
from regauto.project import Project

CODE = """\
import sys
from regauto.{module} import main
rc = main(sys.argv[1:])
heavy = sorted(m for m in ("typer", "rich", "click") if m in sys.modules)
sys.stdout.flush()
sys.stderr.write(f"<heavy {{heavy}}>")
raise SystemExit(rc)
"""

FORMS = [
    ["check"],
    ["-q", "check"],
    ["check", "--quiet"],
    ["check", "--format", "json"],
    ["--format", "github", "check"],
    ["--format=json", "check", "-q"],
    ["check", "--format=text", "--diff"],
    ["check", "--diff", "--format", "json"],
    ["check", "--references", "all", "--format", "json"],
    ["check", "--base", "HEAD", "--format", "github"],
    ["--root", "{repo}", "check", "--format", "json"],
    ["check", "--root={repo}"],
    # Left to typer: each says what typer always said.
    ["check", "--format", "xml"],
    ["--diff", "check"],
    ["check", "--format"],
    ["check", "--bogus"],
    ["check", "--format", "json", "--format", "text"],
    ["check", "--rev", "HEAD", "--format", "json"],
    ["check", "-h"],
]
# The forms the fast front end reads itself, without typer.
FAST = {0, 1, 2, 3, 4, 5, 7, 8, 9, 10}


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("entry") / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    make_tree(repo, {"README.md": "# P\n", "data/a.json": '{"a": 1}\n',
                     "pkg/m.py": '"""M."""\n'})
    initialise(repo)
    sync(repo, "--all")
    commit_all(repo)
    (repo / "data/a.json").write_text('{"a": 2}\n')  # modified
    make_tree(repo, {"notes/new.md": "# New\n"})  # untracked
    return repo


def _run(module: str, args: list[str], cwd: Path, repo: Path) -> tuple[int, str, str]:
    shutil.rmtree(Project.open(repo, None).state_dir / "reconcile", ignore_errors=True)
    argv = [a.replace("{repo}", str(repo)) for a in args]
    p = subprocess.run([sys.executable, "-c", CODE.format(module=module), *argv], cwd=cwd,
                       capture_output=True, text=True, timeout=120, check=False)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("i", range(len(FORMS)), ids=[" ".join(f) for f in FORMS])
def test_the_fast_check_prints_what_the_typer_command_prints(
        drifted: Path, tmp_path: Path, i: int) -> None:
    args = FORMS[i]
    cwd = tmp_path if "{repo}" in " ".join(args) else drifted
    fast = _run("__main__", args, cwd, drifted)
    typed = _run("cli.app", args, cwd, drifted)
    strip = lambda err: err.rpartition("<heavy")[0]  # noqa: E731
    assert (fast[0], fast[1], strip(fast[2])) == (typed[0], typed[1], strip(typed[2]))
    assert fast[0] in (0, 1, 2), fast
    if i in FAST:
        # Drift is printed as a table, by rich, even under -q.
        quiet_format = "json" in " ".join(args) or "github" in args
        assert fast[2].endswith("<heavy []>" if quiet_format else "<heavy ['rich']>"), fast[2]


def test_a_clean_and_an_uninitialised_repository_read_the_same(git_repo: Path,
                                                                 tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    git(plain, "init", "-q")
    make_tree(git_repo, {"notes/a.md": "# A\n"})
    sync(git_repo, "--all")
    commit_all(git_repo)
    for repo in (git_repo, plain):
        for args in (["check"], ["-q", "check"], ["check", "--format", "json"]):
            fast = _run("__main__", args, repo, git_repo)
            assert fast[0] == (2 if repo is plain else 0), fast
            assert fast[2].endswith("<heavy []>" if repo is plain or args != ["check"]
                                    else "<heavy ['rich']>"), fast
            typed = _run("cli.app", args, repo, git_repo)
            assert fast[:2] == typed[:2]
            assert fast[2].rpartition("<heavy")[0] == typed[2].rpartition("<heavy")[0]
