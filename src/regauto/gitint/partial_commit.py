"""``git commit PATH`` (git's ``--only``, the default when paths are given): the index the
commit hook writes is not the one the user keeps (SPEC §3, "Two registries").

git builds a temporary index (HEAD plus PATH) and runs the commit hook on it
(``GIT_INDEX_FILE``); the commit takes the registry shards and generated outputs the hook
staged there, but afterwards git updates the real index only for PATH.  Left alone, the
real index would keep the old shard: a staged change that reverts the registry, which the
next commit would record.

So the commit hook, when it staged regauto's files into such an index, records here which
files it wrote, with the blob each had before and the one it staged; and the post-commit
hook moves the real index's entry of each to the committed blob where the real index
still holds the blob recorded before (a user's own staged version is never overwritten;
one line names it).  A record whose blobs the new commit does not hold (the commit was
aborted after the hook passed) changes nothing, and any post-commit consumes it.
"""

from __future__ import annotations

import json
import os
import sys

from regauto import git
from regauto.gitint.history import PARTIAL as RECORD
from regauto.project import Project


def _say(msg: str) -> None:
    sys.stderr.write(f"regauto: {msg}\n")


def record(project: Project, index: str,
           changed: dict[str, tuple[bytes | None, bytes | None]]) -> None:
    """Record the files the hook staged into ``index``: ``{path: (before, after)}``
    contents, kept as blob ids.  A second write of the same commit keeps the first
    ``before``."""
    target = project.state_dir / RECORD
    files: dict[str, list[str | None]] = {}
    old = _load(target)
    if old is not None and old.get("index") == index:
        files = old["files"]
    for path, (before, after) in changed.items():
        first = files[path][0] if path in files else _blob(before)
        files[path] = [first, _blob(after)]
    project.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(RECORD + ".tmp")
    tmp.write_text(json.dumps({"index": index, "files": files}), encoding="utf-8")
    os.replace(tmp, target)


def _blob(data: bytes | None) -> str | None:
    return None if data is None else git.blob_id(data)


def _load(path: os.PathLike[str]) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return None
    return data


def settle(project: Project) -> None:
    """After a commit: the real index's entries of the files a ``git commit PATH`` hook
    staged become the committed ones, where the real index still holds what they were
    before.  Costs one failed open when there is no record."""
    target = project.state_dir / RECORD
    data = _load(target)
    if data is None:
        return
    target.unlink(missing_ok=True)
    files = data["files"]
    assert isinstance(files, dict)
    paths = sorted(files)
    committed = git.tree_entries(project.root, "HEAD", paths)
    real = git.ls_files_stage(project.root, paths)
    updates: dict[str, tuple[str, str] | None] = {}
    kept: list[str] = []
    for path in paths:
        before, after = files[path]
        entry = committed.get(path)
        if (entry[1] if entry else None) != after:
            continue  # not what this commit holds: its commit was aborted
        now = real.get(path)
        blob = now.blob if now is not None and now.stage == 0 else (
            "conflicted" if now is not None else None)
        if blob == after:
            continue
        if blob == before:
            updates[path] = entry
        else:
            kept.append(path)
    git.set_index_entries(project.root, updates)
    if kept:
        _say(f"warning: {kept[0]}{' …' if len(kept) > 1 else ''} was staged with changes of "
             "its own, which stay staged: it does not hold what this commit recorded there "
             "(`git diff --cached` shows the difference; `git restore --staged` it, then "
             "`regauto fix`, to take the commit's)")
