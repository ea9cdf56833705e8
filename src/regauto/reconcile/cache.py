"""The reconciler's caches in the state dir: what makes a clean ``check`` cheap.

Every entry is a pure function of its key, so a stale or lost cache costs time, never
correctness:

- ``shards``: per shard file, keyed by its sha256 (from the registry manifest, itself
  stat-cached): the summary of its records, stored only for a shard found valid and
  canonical — an unchanged shard is neither read nor re-checked;
- ``claims``: per ``(kind, blob)``, the doc_id the content claims in a header ("" for none),
  so a file whose blob equals its record's is not read again to see its header;
- ``stat`` (outside git only): per path ``(size, mtime_ns, ctime_ns, inode, mode)`` and
  the blob, the stand-in for git's index;
- ``verdict``: the key of the last clean check (registry hash, configuration, index and
  work-tree changes); the same key again is clean without comparing anything.

Files are ``marshal``-encoded (fast for large lists of tuples), written to a temp file
and renamed; a file that cannot be read is an empty cache.
"""

from __future__ import annotations

import marshal
import os
from pathlib import Path
from typing import Any

VERSION = 2
DIR = "reconcile"


class Cache:
    def __init__(self, state_dir: Path, name: str) -> None:
        self.path = state_dir / DIR / f"{name}.marshal"
        self.data: dict[Any, Any] = {}
        self.dirty = False
        self._loaded = False

    def load(self) -> dict[Any, Any]:
        if not self._loaded:
            self._loaded = True
            try:
                stored = marshal.loads(self.path.read_bytes())
                if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == VERSION:
                    self.data = stored[1]
            except (OSError, ValueError, EOFError, TypeError):
                self.data = {}
        return self.data

    def get(self, key: Any, default: Any = None) -> Any:
        return self.load().get(key, default)

    def put(self, key: Any, value: Any) -> None:
        data = self.load()
        if data.get(key) != value:
            data[key] = value
            self.dirty = True

    def replace(self, data: dict[Any, Any]) -> None:
        self.load()
        if data != self.data:
            self.data = data
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(marshal.dumps((VERSION, self.data)))
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass  # a cache: losing it only costs time
