"""``git commit PATH`` (git's ``--only``, the default when paths are given): the index the
commit hook writes is not the one the user keeps (SPEC §3, "Two registries").

git builds a temporary index (HEAD plus PATH) and runs the commit hook on it
(``GIT_INDEX_FILE``); the commit takes every file the hook staged there — registry shards,
generated outputs, ``.gitattributes`` and, with ``auto_stage = all``, headers, renames and
re-pointed references — but git updates the real index only for PATH, as it was before the
hook.  Left alone, the real index would keep the old shard (a staged change that reverts
the registry) and ``new.py`` without the header the commit holds: the next commit would
record both reversions.

So the commit hook, when it staged a file into such an index, records here which (through
``index_commit.record_staged``), with the blob each had before and the one it staged (None:
no entry — a rename's old path after, its new path before); and the post-commit hook sets
the real index's entry of each to the committed one (removing it, for a removal) where
the real index still holds the blob recorded before.  A registry shard the user had staged
a version of keeps it, with the commit's record changes merged in as the shard merge
driver merges; anything else the user staged is never overwritten (one line names it).
A record whose blobs the new commit does not hold (the commit was aborted after the hook
passed) changes nothing, and any post-commit consumes it.
"""

from __future__ import annotations

import json
import os
import sys

from regauto import git
from regauto.errors import RegautoError
from regauto.gitint.history import PARTIAL as RECORD
from regauto.project import Project


def _say(msg: str) -> None:
    sys.stderr.write(f"regauto: {msg}\n")


def record(project: Project, index: str,
           changed: dict[str, tuple[str | None, str | None]]) -> None:
    """Record the files the hook staged into ``index``: ``{path: (before, after)}`` blob
    ids (None: no entry — an addition, or a removal such as a rename's old path).  A
    second write of the same commit keeps the first ``before``."""
    target = project.state_dir / RECORD
    old = _load(target)
    files = _files(old) if old is not None and old.get("index") == index else {}
    for path, (before, after) in changed.items():
        files[path] = (files[path][0] if path in files else before, after)
    project.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(RECORD + ".tmp")
    tmp.write_text(json.dumps({"index": index, "files": files}), encoding="utf-8")
    os.replace(tmp, target)


def _load(path: os.PathLike[str]) -> dict[str, object] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def settle(project: Project) -> None:
    """After a commit: the real index's entries of the files a ``git commit PATH`` hook
    staged become the committed ones where the real index still holds what they were
    before; a registry shard the user staged a version of takes the commit's record
    changes merged into it (``_merge_shards``).  Called only when a record exists."""
    target = project.state_dir / RECORD
    data = _load(target)
    target.unlink(missing_ok=True)
    files = _files(data)
    if not files:
        return
    paths = sorted(files)
    committed = git.tree_entries(project.root, "HEAD", paths)
    real = git.ls_files_stage(project.root, paths)
    updates: dict[str, tuple[str, str] | None] = {}
    kept: dict[str, str | None] = {}  # path -> the real index's own blob
    for path in paths:
        before, after = files[path]
        entry = committed.get(path)
        now = real.get(path)
        if (entry[1] if entry else None) != after or (now is not None and now.stage != 0):
            continue  # not what this commit holds (it was aborted), or a conflict
        blob = now.blob if now is not None else None
        if blob == before:
            updates[path] = entry
        elif blob != after:
            kept[path] = blob
    git.set_index_entries(project.root, updates)
    left = _merge_shards(project, files, kept) if kept else []
    if left:
        _say(f"warning: {left[0]}{' …' if len(left) > 1 else ''} was staged with changes of "
             "its own, which stay staged: it does not hold what this commit recorded there "
             "(`git diff --cached` shows the difference)")


def _files(data: dict[str, object] | None) -> dict[str, tuple[str | None, str | None]]:
    out: dict[str, tuple[str | None, str | None]] = {}
    files = data.get("files") if data is not None else None
    for path, pair in (files.items() if isinstance(files, dict) else ()):
        if (isinstance(path, str) and isinstance(pair, list) and len(pair) == 2
                and all(b is None or isinstance(b, str) for b in pair)):
            out[path] = (pair[0], pair[1])
    return out


def _merge_shards(project: Project, files: dict[str, tuple[str | None, str | None]],
                  kept: dict[str, str | None]) -> list[str]:
    """The real index's own version of each registry shard in ``kept`` with the commit's
    record changes merged in, record by record, as the shard merge driver merges (base:
    the shard the hook started from; ours: the real index's; theirs: the committed one),
    and staged.  Returns the paths left as they were (no shard, or a conflict)."""
    from regauto.gitint import merge_driver
    from regauto.registry import staged

    prefix = project.config.registry.rstrip("/") + "/"
    shards = [p for p in sorted(kept) if p.startswith(prefix) and p.endswith(".jsonl")]
    wanted = {b for p in shards for b in (*files[p], kept[p]) if b is not None}
    texts = git.cat_blobs(project.root, sorted(wanted))

    def text(blob: str | None) -> str:
        return "" if blob is None else texts.get(blob, b"").decode("utf-8", "replace")

    merged: dict[str, bytes | None] = {}
    for p in shards:
        before, after = files[p]
        try:
            out, conflicts = merge_driver.merge(text(before), text(kept[p]), text(after), p)
        except RegautoError:
            continue  # a malformed version: ``check`` reports it
        if not conflicts:
            merged[p] = out.encode("utf-8") or None
    staged.stage_files(project.root, {p: d for p, d in merged.items()
                                      if d != (text(kept[p]).encode("utf-8") or None)},
                       project.state_dir)
    return [p for p in sorted(kept) if p not in merged]
