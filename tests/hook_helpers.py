"""Helpers for the hook tests: read what a commit recorded, and check it against its tree."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

REGISTRY = ".regauto/registry"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def committed_records(repo: Path, rev: str = "HEAD") -> dict[str, dict[str, object]]:
    """``{path: record}`` of the registry as committed in ``rev``."""
    out: dict[str, dict[str, object]] = {}
    names = _git(repo, "ls-tree", "--name-only", f"{rev}:{REGISTRY}").split()
    for name in names:
        if not name.endswith(".jsonl"):
            continue
        for line in _git(repo, "show", f"{rev}:{REGISTRY}/{name}").splitlines():
            rec = json.loads(line)
            assert rec["path"] not in out, f"two records for {rec['path']}"
            out[rec["path"]] = rec
    return out


def committed_tree(repo: Path, rev: str = "HEAD") -> dict[str, str]:
    """``{path: blob}`` of the documents committed in ``rev`` (registry excluded)."""
    tree: dict[str, str] = {}
    for line in _git(repo, "ls-tree", "-r", "-z", rev).split("\0"):
        if not line:
            continue
        meta, path = line.split("\t", 1)
        if path.startswith(".regauto/"):
            continue
        tree[path] = meta.split()[2]
    return tree


def assert_commit_consistent(repo: Path, rev: str = "HEAD",
                             outputs: tuple[str, ...] = ()) -> dict[str, dict[str, object]]:
    """Every committed document has one record describing its committed blob, and no
    record names a path that is not committed; doc_ids are unique.  ``outputs`` (generated
    outputs) are no documents."""
    recs = committed_records(repo, rev)
    tree = {p: b for p, b in committed_tree(repo, rev).items() if p not in outputs}
    assert set(recs) == set(tree), (
        f"registry/tree mismatch in {rev}: only in registry {set(recs) - set(tree)}, "
        f"only in tree {set(tree) - set(recs)}"
    )
    for path, blob in tree.items():
        assert recs[path]["blob"] == blob, f"{path}: registry blob differs from committed blob"
    ids = [r["doc_id"] for r in recs.values()]
    assert len(ids) == len(set(ids)), "duplicate doc_ids in the committed registry"
    return recs
