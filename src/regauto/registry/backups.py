"""Backups of the shards a write is about to change, in ``<state dir>/backups/``.

Each write gets a numbered folder holding the previous versions of the files it changes
and ``backup.json`` (which files were absent, the hashes before and after).  The last N
writes are kept.  ``regauto fix`` uses them to restore a registry that no longer parses.

A previous version is hard-linked from the registry when it can be: the writer never
changes a shard in place (it renames a new file over it), so the link keeps the old bytes
exactly, and a 10-record patch of a 100k registry does not copy ~2 MB each time.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from regauto import jsonload

BACKUP_DIR = "backups"


def save(
    state_dir: Path,
    old_texts: dict[str, str | None],
    base_hash: str,
    target_hash: str,
    keep: int,
    source_dir: Path | None = None,
) -> Path:
    """Back up ``old_texts`` (None: the file was absent).  With ``source_dir``, each file
    is linked from there (its bytes must be the given text) and written only when the
    file system refuses the link."""
    root = state_dir / BACKUP_DIR
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(p.name) for p in root.iterdir() if p.name.isdigit()]
    n = max(numbers, default=0) + 1
    folder = root / f"{n:08d}"
    folder.mkdir()
    absent = []
    for name, text in old_texts.items():
        if text is None:
            absent.append(name)
        elif source_dir is None or not _link(source_dir / name, folder / name):
            (folder / name).write_text(text, encoding="utf-8")
    (folder / "backup.json").write_text(
        json.dumps({"base_hash": base_hash, "target_hash": target_hash,
                    "absent": sorted(absent), "time": time.time()}, indent=1)
    )
    for old in sorted(numbers)[: max(0, len(numbers) + 1 - keep)]:
        shutil.rmtree(root / f"{old:08d}", ignore_errors=True)
    return folder


def discard(folder: Path) -> None:
    """Drop the backup of a write that did not happen (rolled back before its commit)."""
    shutil.rmtree(folder, ignore_errors=True)


def _link(src: Path, dst: Path) -> bool:
    try:
        os.link(src, dst)
    except OSError:  # another file system, no hard links, file gone: copy instead
        return False
    return True


def listing(state_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Backups, newest first, with their metadata."""
    root = state_dir / BACKUP_DIR
    if not root.is_dir():
        return []
    out = []
    for p in sorted((p for p in root.iterdir() if p.name.isdigit()), reverse=True):
        try:
            out.append((p, jsonload.loads((p / "backup.json").read_text())))
        except (OSError, ValueError):
            continue
    return out
