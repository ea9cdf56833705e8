"""RUNBOOK.md's procedures, walked through on real temporary repositories.

Each ``<!-- procedure: NAME -->`` section of the RUNBOOK has a ``test_procedure_NAME`` here
(dashes become underscores) that types the section's fenced commands, literally, into a shell
(:func:`sh`), between the setup that makes the symptom real and the checks of "Verify".
:func:`test_every_procedure_command_is_walked_through` holds the two together: a command
added to the RUNBOOK but not run here fails it.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, git, make_tree, run_regauto
from regauto.durable import CRASH_ENV
from regauto.registry.records import shard_of
from test_doctor import holding_the_registry_lock, state_dir

pytestmark = pytest.mark.timeout(120)

NO_HOOKS = ("-c", "core.hooksPath=/dev/null")  # a clone where nobody installed the hooks
PROCEDURE = re.compile(r"<!-- procedure: ([a-z-]+) -->(.*?)(?=<!-- procedure: |\n## |\Z)", re.S)
FENCE = re.compile(r"```sh\n(.*?)```", re.S)


def procedures() -> dict[str, list[str]]:
    """``{name: [command, …]}`` from the RUNBOOK's fenced ``sh`` blocks (comments dropped)."""
    text = (REPO_ROOT / "RUNBOOK.md").read_text()
    out: dict[str, list[str]] = {}
    for name, body in PROCEDURE.findall(text):
        lines = [ln.split("  #", 1)[0].strip() for block in FENCE.findall(body)
                 for ln in block.splitlines()]
        out[name] = [ln for ln in lines if ln and not ln.startswith("#")]
    return out


def test_every_procedure_command_is_walked_through() -> None:
    found = procedures()
    assert len(found) >= 11, sorted(found)
    module = sys.modules[__name__]
    for name, commands in found.items():
        test = getattr(module, f"test_procedure_{name.replace('-', '_')}", None)
        assert test is not None, f"procedure {name!r} has no test_procedure_ walk-through"
        assert commands, f"procedure {name!r} shows no commands"
        source = inspect.getsource(test)
        missing = [c for c in commands if f'"{c}"' not in source and f"'{c}'" not in source]
        assert not missing, f"procedure {name!r}: commands its test does not run: {missing}"


# -- typing commands as a user ---------------------------------------------------------------


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """A shell environment whose ``regauto`` is the one under test."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "regauto"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m regauto "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "REGAUTO": f"{sys.executable} -m regauto"}


class Shell:
    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.repo, self.env = repo, env

    def __call__(self, line: str, expect: int | None = 0) -> str:
        """Run ``line`` as typed; return stdout + stderr; check the exit code."""
        p = subprocess.run(["sh", "-c", line], cwd=self.repo, env=self.env,
                           capture_output=True, text=True, check=False)
        out = p.stdout + p.stderr
        if expect is not None:
            assert p.returncode == expect, f"{line}: exit {p.returncode}\n{out}"
        return out


@pytest.fixture
def sh(git_repo: Path, shell_env: dict[str, str]) -> Shell:
    return Shell(git_repo, shell_env)


@pytest.fixture
def adopted(git_repo: Path, sh: Shell) -> Path:
    """A repository that went through first adoption: registered and committed."""
    make_tree(git_repo, {"README.md": "# Project\n", "notes.txt": "plan\n",
                         "pkg/mod.py": "x = 1\n", "docs/guide.md": "# Guide\n"})
    sh("regauto init --hooks git")
    sh("regauto sync --all")
    sh("git add -A")
    sh('git commit -q -m "Register documents"')
    return git_repo


def records(repo: Path) -> dict[str, str]:
    out = run_regauto("ls", "--format", "json", cwd=repo)
    assert out.returncode == 0, out.stderr
    return {r["path"]: r["doc_id"] for r in json.loads(out.stdout)}


# -- the procedures --------------------------------------------------------------------------


def test_procedure_first_adoption(git_repo: Path, sh: Shell) -> None:
    make_tree(git_repo, {"README.md": "# Project\n[first](docs/adr/0001-first.md)\n",
                         "pkg/mod.py": "x = 1\n", "docs/adr/0001-first.md": "# First\n"})
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "before regauto")
    sh("regauto init --hooks git")
    plan = sh("regauto sync --all --dry-run")
    out = sh("regauto sync --all")
    assert "renamed docs/adr/0001-first.md -> docs/adr/" in out and "added header" in out
    assert "docs/adr/0001-first.md" in plan
    assert "README.md" in out and "docs/adr/0001-first.md)" not in (
        git_repo / "README.md").read_text()  # the link to it was rewritten
    sh("git add -A")
    sh('git commit -q -m "Register documents"')
    assert "clean" in sh("regauto check")
    assert "fail" not in sh("regauto doctor").lower().split("checks", 1)[-1]
    assert git(git_repo, "status", "--porcelain") == ""
    assert set(records(git_repo)) >= {"README.md", "pkg/mod.py", ".gitattributes"}


def test_procedure_drift_in_ci(adopted: Path, sh: Shell) -> None:
    # Symptom: an edit committed from a clone without hooks; CI's check fails.
    (adopted / "notes.txt").write_text("plan, edited\n")
    git(adopted, *NO_HOOKS, "commit", "-q", "-am", "edit without hooks")
    out = sh("regauto check --format github", expect=1)
    assert "::error" in out and "notes.txt" in out
    sh("regauto check", expect=1)
    before = sh("git status --porcelain")
    assert "notes.txt" in sh("regauto fix --dry-run", expect=1)
    assert sh("git status --porcelain") == before  # the dry run changed nothing
    sh("regauto fix")
    sh("regauto check")
    sh("git add -A")
    sh('git commit -q -m "regauto fix"')
    sh("regauto check --format github")


def test_procedure_duplicate_ids(adopted: Path, sh: Shell) -> None:
    # Symptom: a branch copied a document, header and all; after the merge, two files
    # claim one id.
    git(adopted, "checkout", "-qb", "other")
    (adopted / "pkg" / "copy.py").write_text((adopted / "pkg" / "mod.py").read_text())
    git(adopted, "add", "-A")
    git(adopted, *NO_HOOKS, "commit", "-q", "-m", "copy")
    git(adopted, "checkout", "-q", "-")
    git(adopted, *NO_HOOKS, "merge", "-q", "--no-edit", "other")
    held = records(adopted)["pkg/mod.py"]
    out = sh("regauto check --format json", expect=1)
    assert any(d["doc_id"] == held and d["path"] == "pkg/copy.py"
               for d in json.loads(out)), out
    sh("regauto check", expect=1)
    sh("regauto fix")
    sh("regauto check")
    sh("git add -A")
    sh('git commit -q -m "regauto fix: duplicate ids"')
    ids = records(adopted)
    assert ids["pkg/mod.py"] == held and ids["pkg/copy.py"] != held  # the holder keeps it


def mate_of(path: str) -> str:
    """A file name whose record lands in the same shard as ``path``'s."""
    names = (f"mate-{i}.txt" for i in range(10_000))
    return next(n for n in names if shard_of(n) == shard_of(path))


@pytest.mark.parametrize("shard", ["alone", "shared"])
def test_procedure_registry_conflict(adopted: Path, sh: Shell, shard: str) -> None:
    # Symptom: one branch deleted notes.txt, the other edited it; the merge stops on the
    # document and on its record: the merge driver names the record when its shard holds
    # other records too; when it held only this one, git reports the shard as deleted/modified.
    if shard == "shared":
        (adopted / mate_of("notes.txt")).write_text("a neighbour\n")
        sh("regauto sync --all")
        sh("git add -A")
        sh("git commit -q -m neighbour")
    doc_id = records(adopted)["notes.txt"]
    git(adopted, "checkout", "-qb", "other")
    (adopted / "notes.txt").write_text("plan, edited on other\n")
    sh("git commit -q -am edit")
    git(adopted, "checkout", "-q", "-")
    sh("git rm -q notes.txt")
    sh("git commit -q -m delete")
    out = sh("git merge other", expect=1)
    assert "CONFLICT" in out and "notes.txt" in out
    assert (doc_id in out) == (shard == "shared"), out
    # The procedure: decide the document, stage the registry as it is, let fix repair it.
    assert "notes.txt" in sh("git status --short")
    out = sh("regauto fix", expect=3)  # refused while paths are unresolved, saying what to do
    assert "unresolved" in out and "git add" in out
    sh("git add notes.txt")  # keep the edited document (or: git rm notes.txt)
    sh("git checkout --theirs -- .regauto/registry")  # the side that kept it has its record
    sh("git add .regauto/registry")
    sh("regauto fix")
    sh("git add -A")
    sh("git commit -q --no-edit")
    sh("regauto check")
    assert records(adopted)["notes.txt"] == doc_id
    assert git(adopted, "rev-list", "--count", "--merges", "HEAD").strip() == "1"
    assert git(adopted, "status", "--porcelain") == ""


def test_procedure_corrupted_registry(adopted: Path, sh: Shell) -> None:
    shard = next(p for p in (adopted / ".regauto" / "registry").glob("*.jsonl") if p.stat().st_size)
    good = records(adopted)
    # A hand edit that broke a line, after a write that left a backup.
    (adopted / "notes.txt").write_text("plan, v2\n")
    sh("regauto sync notes.txt")
    shard.write_text(shard.read_text().replace("{", "{oops", 1))
    out = sh("regauto check", expect=2)
    assert f"{shard.name}:1" in out
    out = sh("regauto fix")
    assert "restored" in out or "rebuilt" in out
    sh("regauto check")
    # With no backup left, fix rebuilds from the tree (ids come back from names, headers
    # and the committed registry).
    shard.write_text(shard.read_text().replace("{", "{oops", 1))
    sh('rm -rf "$(git rev-parse --git-dir)/regauto/backups"')
    sh("regauto fix")
    sh("regauto check")
    sh("git diff --stat")
    assert records(adopted) == good


def test_procedure_dead_letters(adopted: Path, sh: Shell, tmp_path: Path) -> None:
    # Symptom: a job failed max_attempts times (here: the registry lock held throughout).
    (adopted / "regauto.toml").write_text("lock_timeout_s = 0.2\n[queue]\nmax_attempts = 1\n")
    (adopted / "notes.txt").write_text("plan, edited\n")
    with holding_the_registry_lock(adopted, tmp_path):
        sh("regauto queue add notes.txt")
        sh("regauto queue run", expect=1)
    assert json.loads(sh("regauto stats --format json"))["queue"]["dead_letter"] == 1
    out = sh("regauto queue dead")
    assert "notes.txt" in out
    sh("regauto queue retry --all-dead")
    sh("regauto queue run")
    sh("regauto queue purge")
    assert "notes.txt" not in sh("regauto queue list")
    stats = json.loads(sh("regauto stats --format json"))
    assert stats["queue"]["dead_letter"] == 0


def test_procedure_stale_locks(adopted: Path, sh: Shell, tmp_path: Path) -> None:
    (adopted / "regauto.toml").write_text("lock_timeout_s = 0.2\n")
    (adopted / "notes.txt").write_text("plan, edited\n")
    with holding_the_registry_lock(adopted, tmp_path) as holder:
        out = sh("regauto fix", expect=3)
        assert "lock" in out
        out = sh("regauto doctor")
        assert f"is held by pid {holder.pid}" in out and f"kill {holder.pid}" in out
    # The holder is gone (here: killed): its flock went with it; the lock file left behind
    # is not a lock.
    assert list((state_dir(adopted) / "locks").iterdir())
    sh("regauto fix")
    sh("regauto check")


def test_procedure_crashed_writer(adopted: Path, sh: Shell) -> None:
    # A writer SIGKILLed in the middle of its write: journal in place, no shard replaced yet.
    (adopted / "notes.txt").write_text("plan, edited\n")
    before = records(adopted)
    r = run_regauto("sync", "notes.txt", cwd=adopted, env={CRASH_ENV: "replace:1"})
    assert r.returncode == -9, r.stderr
    assert "interrupted write" in sh("regauto doctor")
    sh("regauto check", expect=None)  # any command finishes or rolls back the write first
    assert "journal" not in sh("regauto doctor")
    sh("regauto sync notes.txt")
    sh("regauto check")
    assert records(adopted) == before


def test_procedure_daemon(adopted: Path, sh: Shell) -> None:
    try:
        sh("regauto daemon start")
        assert "running (pid" in sh("regauto daemon status")
        (adopted / "notes.txt").write_text("plan, edited by the daemon's user\n")
        log = ""
        for _ in range(200):
            log = sh('tail -n 20 "$(git rev-parse --git-dir)/regauto/daemon.log"')
            if "registry updated" in log:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert "daemon start" in log and "registry updated" in log
    finally:
        sh("regauto daemon stop")
    assert "not running" in sh("regauto daemon status", expect=1)


def test_procedure_upgrading(adopted: Path, sh: Shell) -> None:
    # After the new version is installed: hooks and driver rewritten for it, then checked.
    sh("regauto --version")
    sh("regauto init --hooks git")
    sh("regauto doctor")
    sh("regauto check")
    assert git(adopted, "status", "--porcelain") == ""


def test_procedure_stats(adopted: Path, sh: Shell) -> None:
    out = sh("regauto stats")
    assert "writes" in out and "dead_letter" in out
    data = json.loads(sh("regauto stats --format json"))
    assert data["writer"]["rollbacks"] == 0 and data["queue"]["dead_letter"] == 0
    assert data["registry"]["files"] == len(list((adopted / ".regauto" / "registry").iterdir()))
