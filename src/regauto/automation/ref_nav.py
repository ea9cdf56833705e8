"""References in an MkDocs configuration: the ``nav`` entries (paths under ``docs_dir``)."""

from __future__ import annotations

import posixpath

from regauto.automation.references import Reference, make
from regauto.toolchains import join, mkdocs_nav


def scan_nav(path: str, data: bytes) -> list[Reference]:
    folder = posixpath.dirname(path)
    docs_dir, entries = mkdocs_nav(data)
    base = join(folder, docs_dir)
    refs = []
    for e in entries:
        ref = make(path, e.line, e.start, e.path, "nav", base=base)
        if ref is not None:
            refs.append(ref)
    return refs
