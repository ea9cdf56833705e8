"""``max_file_bytes``: a document over it is registered — id, blob, size — but not
described, and gets no header (SPEC §6).  Through ``sync`` (the work tree) and through the
commit hook (the index)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git, make_tree, run_regauto
from pipeline_helpers import by_path, sync
from regauto.git import blob_id

LIMIT = 1000
BIG_MD = "# Big\n\n" + "A line of the big document.\n" * 100  # ~2.8 kB
BIG_PY = '"""Big."""\n' + "x = 1\n" * 400
SMALL_MD = "# Small\n\nShort.\n"


def configure(repo: Path) -> None:
    (repo / "regauto.toml").write_text(f"max_file_bytes = {LIMIT}\n")


def assert_registered_undescribed(repo: Path, path: str, data: str) -> None:
    rec = by_path(repo)[path]
    assert rec["blob"] == blob_id(data.encode()) and rec["size"] == len(data.encode())
    assert len(str(rec["doc_id"])) == 16
    assert rec["descriptor"] == {"skipped": "too large"}


def test_sync_registers_a_file_over_the_limit_without_a_descriptor(git_repo: Path) -> None:
    configure(git_repo)
    make_tree(git_repo, {"notes/big.txt": BIG_MD, "pkg/big.py": BIG_PY,
                         "notes/small.txt": SMALL_MD})
    assert len(BIG_MD) > LIMIT and len(BIG_PY) > LIMIT
    sync(git_repo, "--all")
    assert_registered_undescribed(git_repo, "notes/big.txt", BIG_MD)
    assert_registered_undescribed(git_repo, "pkg/big.py", BIG_PY)
    # No header either: a file over the limit keeps its id in the registry only.
    assert (git_repo / "pkg/big.py").read_text() == BIG_PY
    assert by_path(git_repo)["pkg/big.py"]["id_mode"] == "registry"
    small = by_path(git_repo)["notes/small.txt"]["descriptor"]
    assert small and "skipped" not in small


def test_the_commit_hook_registers_a_staged_file_over_the_limit_without_a_descriptor(
        git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGAUTO", f"{sys.executable} -m regauto")
    assert run_regauto("init", "--hooks", "git", cwd=git_repo).returncode == 0
    configure(git_repo)
    make_tree(git_repo, {"notes/big.txt": BIG_MD, "pkg/big.py": BIG_PY})
    git(git_repo, "add", "-A")
    p = subprocess.run(["git", "commit", "-q", "-m", "big"], cwd=git_repo,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stdout + p.stderr  # nothing to rename or head: one go
    assert_registered_undescribed(git_repo, "notes/big.txt", BIG_MD)
    assert_registered_undescribed(git_repo, "pkg/big.py", BIG_PY)
    assert git(git_repo, "status", "--porcelain") == ""
