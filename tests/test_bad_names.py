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
