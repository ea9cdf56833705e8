"""A registry the file system refuses to change: exit 2, one line, nothing left behind.

The tests run as root, for whom permission bits change nothing, so the folder (or one
shard) is made immutable with ``chattr +i`` — EPERM for everyone, as a read-only mount
gives.  Skipped where chattr is unavailable or not allowed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipeline_helpers import REGISTRY, regauto, registry_bytes

STATE = ".git/regauto"


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not allowed here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture
def repo(git_repo: Path) -> Path:
    assert regauto(git_repo, "init", "--hooks", "none").returncode == 0
    (git_repo / "a.txt").write_text("a\n")
    assert regauto(git_repo, "sync", "a.txt").returncode == 0
    return git_repo


def _left_behind(repo: Path) -> list[str]:
    temps = [p.name for p in (repo / REGISTRY).iterdir() if p.name.startswith(".")]
    journals = [p.name for p in (repo / STATE).glob("journal*")]
    return temps + journals


@pytest.mark.parametrize("what", ["folder", "shard"])
def test_an_unwritable_registry_exits_2_with_one_line_and_leaves_nothing(
        repo: Path, what: str) -> None:
    before = registry_bytes(repo)
    (shard,) = [n for n in before if n.endswith(".jsonl")]
    target = repo / REGISTRY if what == "folder" else repo / REGISTRY / shard
    (repo / "a.txt").write_text("changed\n")  # its record, in that shard, must change
    with immutable(target):
        proc = regauto(repo, "sync", "a.txt")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot write the registry" in lines[0], proc.stderr
        assert str(target) in lines[0]
        assert _left_behind(repo) == []
        assert registry_bytes(repo) == before
    proc = regauto(repo, "sync", "a.txt")
    assert proc.returncode == 0, proc.stderr
    assert registry_bytes(repo) != before and _left_behind(repo) == []
