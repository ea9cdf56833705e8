"""Merge the document behind a record both sides of a merge changed (SPEC §8.3, §8.4).

When two branches edited one document, each branch's shard records its own blob.  git
merges the document as it merges any file; the shard merge driver — the one piece of regauto
git runs *inside* ``merge``, ``rebase``, ``cherry-pick``, ``revert`` and ``am -3`` alike —
does the same three-way merge of the document's recorded base, ours and theirs blobs
(``git merge-file``: git's own algorithm) and records the result's blob, size and
descriptor.  The merged shard then describes the merged document before git writes the
commit, so that commit is clean in itself, whether or not any hook runs.

Where it cannot — a blob missing from the object store, a conflict (git's merge of the
document conflicts too, and the user's resolution is recorded by the commit hook), binary
content — it returns None and the record keeps
ours' values: stale, and caught by the hooks' verification and by ``regauto check``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regauto import git
from regauto.errors import RegautoError

CONTENT_FIELDS = ("blob", "size", "descriptor")


class DocumentMerger:
    """Re-derives the content fields of records changed on both sides, for one driver run.

    Reads the blobs of every record it is asked about in one ``git cat-file --batch``
    process when first needed; ``max_file_bytes`` comes from the repository's config (the
    driver runs at the work tree's top level)."""

    def __init__(self, root: Path, max_file_bytes: int) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes

    def __call__(self, base: dict[str, Any], ours: dict[str, Any],
                 theirs: dict[str, Any]) -> dict[str, Any] | None:
        blobs = [r.get("blob") for r in (base, ours, theirs)]
        kind = ours.get("kind")
        if not all(isinstance(b, str) for b in blobs) or not isinstance(kind, str):
            return None
        if kind != theirs.get("kind") or kind in ("binary", "symlink"):
            return None
        try:
            data = git.cat_blobs(self.root, [str(b) for b in blobs])
        except RegautoError:
            return None  # e.g. a shallow clone without the base's blob: the record stays stale
        b, o, t = (data[str(x)] for x in blobs)
        merged = git.merge_file(b, o, t)
        if merged is None:
            return None
        from regauto.automation import descriptor_extractor

        return {
            "blob": git.blob_id(merged),
            "size": len(merged),
            "descriptor": descriptor_extractor.extract(kind, merged,
                                                       max_bytes=self.max_file_bytes),
        }


def for_repository(cwd: Path) -> DocumentMerger | None:
    """The merger for the repository git runs the driver in; None outside one, or when its
    configuration does not load (the driver then merges records as before)."""
    from regauto import config

    found = git.discover(cwd)
    if found is None:
        return None
    try:
        cfg = config.load(found.root)
    except RegautoError:
        return None
    return DocumentMerger(found.root, cfg.max_file_bytes)
