"""SPEC §11 for odd file names: one clear line, a non-zero exit where the user named the
path, and nothing half-registered."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import run_regauto


def test_non_utf8_name_is_skipped_with_one_line(git_repo: Path) -> None:
    (git_repo / "good.txt").write_text("g\n")
    with open(os.path.join(os.fsencode(git_repo), b"bad\xff.txt"), "wb") as f:
        f.write(b"x\n")
    r = run_regauto("sync", "--all", cwd=git_repo)
    assert r.returncode == 0, r.stderr
    assert "not valid UTF-8" in r.stderr
    ls = run_regauto("ls", "--format", "json", cwd=git_repo)
    paths = [rec["path"] for rec in json.loads(ls.stdout)]
    assert "good.txt" in paths and not any(p.startswith("bad") for p in paths)


def test_over_long_name_exits_2_with_one_line(git_repo: Path) -> None:
    r = run_regauto("sync", "a" * 300, cwd=git_repo)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "File name too long" in r.stderr


def _odd_names(repo: Path) -> None:
    with open(os.path.join(os.fsencode(repo), b"caf\xe9.md"), "wb") as f:  # Latin-1 é
        f.write(b"# x\n")
    (repo / "[bold]a.md").write_text("# y\n")  # rich markup, if it were read as markup


def test_odd_names_are_named_on_a_strict_utf8_terminal(git_repo: Path) -> None:
    # en_US.UTF-8 terminals and CI logs encode strictly: a name that is not UTF-8 used to
    # crash every output (exit 4).  It is spelled \xNN for people, and in JSON as \udcNN,
    # which gives the file system's bytes back in Python (os.fsencode).
    _odd_names(git_repo)
    strict = {"PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}
    r = run_regauto("check", cwd=git_repo, env=strict)
    assert r.returncode == 1, r.stderr
    assert "caf\\xe9.md" in r.stdout and "[bold]a.md" in r.stdout
    r = run_regauto("check", "--format", "github", cwd=git_repo, env=strict)
    assert r.returncode == 1, r.stderr
    assert "::error file=caf\\xe9.md," in r.stdout and "file=[bold]a.md," in r.stdout
    r = run_regauto("check", "--format", "json", cwd=git_repo, env=strict)
    assert r.returncode == 1, r.stderr
    paths = {os.fsencode(d["path"]) for d in json.loads(r.stdout.encode("utf-8"))}
    assert {b"caf\xe9.md", b"[bold]a.md"} <= paths
    r = run_regauto("fix", cwd=git_repo, env=strict)
    assert r.returncode == 1 and "could not repair caf\\xe9.md" in r.stderr, r.stderr
    ls = run_regauto("ls", cwd=git_repo, env=strict)
    assert ls.returncode == 0 and "[bold]a.md" in ls.stdout
