"""Helpers for the pipeline's end-to-end tests: the CLI with a timeout, the registry read
straight from its files (never through regauto's own reader), and a snapshot of a tree
that notices any file touched.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import git

REGISTRY = ".regauto/registry"
TIMEOUT_S = 120


def regauto(repo: Path, *args: str, timeout: float = TIMEOUT_S,
            errors: str = "strict") -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess; a hang (a FIFO opened, a lock never released) fails
    the test instead of stalling the run.  ``errors="surrogateescape"`` reads output that
    names a file whose name is not UTF-8 (written as the file system has it)."""
    return subprocess.run(
        [sys.executable, "-m", "regauto", *args],
        cwd=repo, capture_output=True, text=True, errors=errors, timeout=timeout, check=False,
    )


def sync(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = regauto(repo, "sync", *args)
    assert proc.returncode == 0, f"sync {args} failed ({proc.returncode}): {proc.stderr}"
    return proc


def records(repo: Path) -> list[dict[str, Any]]:
    """Every record of every shard, in file order."""
    folder = repo / REGISTRY
    out: list[dict[str, Any]] = []
    for shard in sorted(folder.glob("*.jsonl")):
        for line in shard.read_text(encoding="utf-8").splitlines():
            out.append(json.loads(line))
    return out


def by_path(repo: Path) -> dict[str, dict[str, Any]]:
    recs = records(repo)
    result = {r["path"]: r for r in recs}
    assert len(result) == len(recs), "a path is recorded twice"
    return result


def ids_by_path(repo: Path) -> dict[str, str]:
    return {p: r["doc_id"] for p, r in by_path(repo).items()}


def registry_bytes(repo: Path) -> dict[str, bytes]:
    folder = repo / REGISTRY
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def snapshot(repo: Path) -> dict[str, tuple[int, int, int, int, bytes]]:
    """Mode, size, mtime, inode and content (link text for a symlink) of every entry outside
    ``.git``: equal snapshots mean nothing was written, renamed or replaced.  Never opens a
    FIFO or follows a link."""
    out: dict[str, tuple[int, int, int, int, bytes]] = {}
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if not (dirpath == str(repo) and d == ".git")]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                data = os.fsencode(os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    data = f.read()
            else:
                data = b""
            rel = os.path.relpath(full, repo).replace(os.sep, "/")
            out[rel] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino, data)
    return out


def documents_on_disk(repo: Path) -> set[str]:
    """Regular files and symlinks outside ``.git`` and ``.regauto``: what must be recorded."""
    out = set()
    for rel, (mode, *_rest) in snapshot(repo).items():
        if rel.split("/")[0] == ".regauto":
            continue
        if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
            out.add(rel)
    return out


def git_blobs(repo: Path) -> dict[str, tuple[str, str]]:
    """``{path: (mode, blob)}`` as git stores the work tree (after ``git add -A``)."""
    git(repo, "add", "-A")
    out = {}
    raw = git(repo, "ls-files", "-s", "-z")
    for rec in raw.split("\0"):
        if rec:
            meta, _, path = rec.partition("\t")
            mode, blob, _stage = meta.split(" ")
            out[path] = (mode, blob)
    return out


def commit_all(repo: Path, message: str = "sync") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
