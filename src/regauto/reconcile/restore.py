"""Restoring a malformed registry (a line that is not JSON, a ``meta.json`` that is not).

``check`` stops there (exit 2, naming the file and line): nothing can be compared against a
registry that does not parse.  ``fix`` rebuilds each malformed file and then reconciles as
usual; what it does, per file:

1. the file's bytes are copied to ``<state dir>/quarantine/<time>/`` first — nothing is
   ever lost;
2. its readable lines (JSON objects) are kept as they are: they are the newest data;
3. the newest backup of that file whose lines all parse (``backups.listing``: the writer
   keeps the previous version of every file it changes) adds the records of paths the
   readable lines do not cover — usually those of the broken lines, in their state before
   the last write: "restored from backup";
4. with no such backup, a broken line whose start is still legible
   (``{"path": …, "doc_id": …``) keeps its path and doc_id as a partial record; other
   broken lines are dropped: "rebuilt from the tree".

The result goes through the writer (lock, backup, journal: atomic); the reconciliation
that follows re-derives every record from its file (a partial or stale record is an
``invalid_record`` or ``modified`` like any other), so ids carried by prefix or header
survive whatever happened, and registry-mode files keep theirs when a backup or a legible
line still had it.  A ``meta.json`` of another format (valid JSON, another schema) is not
touched: that is not damage regauto can judge.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from regauto.errors import RegistryFormatError
from regauto.project import Project
from regauto.reconcile.registry_view import RegistryView
from regauto.registry import backups, open_writer
from regauto.registry.records import META_NAME, META_TEXT, sort_key

QUARANTINE = "quarantine"


def malformed_message(view: RegistryView) -> str:
    errors = ([view.meta_error] if view.meta_error else []) + [
        view.errors[n] for n in sorted(view.errors)]
    more = f" (and {len(errors) - 1} more malformed file(s))" if len(errors) > 1 else ""
    return (f"{errors[0]}{more}; the registry does not parse — `regauto fix` restores it "
            "from a backup or rebuilds it")


def restore(project: Project, view: RegistryView) -> list[str]:
    """Rewrite every malformed registry file; one line per file saying what was done."""
    if view.meta_error and "unsupported registry" in view.meta_error:
        raise RegistryFormatError(f"{view.meta_error}; regauto fix does not rewrite a "
                                  "registry of another format")
    folder = _quarantine(project, view)
    texts: dict[str, str | None] = {}
    said: list[str] = []
    if view.meta_error:
        texts[META_NAME] = META_TEXT
        said.append(f"rewrote {view.rel(META_NAME)}: it did not parse (the old file is in "
                    f"{folder})")
    for name in sorted(view.errors):
        texts[name], line = _rebuild(project, view, name)
        said.append(f"{line} (the damaged file is in {folder})")
    open_writer(project).restore(texts, view.hash)
    return said


def _quarantine(project: Project, view: RegistryView) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = project.state_dir / QUARANTINE / f"{stamp}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(view.errors) + ([META_NAME] if view.meta_error else [])
    for name in names:
        src = project.registry_dir / name
        if src.exists():
            (folder / name).write_bytes(src.read_bytes())
    return folder


def _rebuild(project: Project, view: RegistryView, name: str) -> tuple[str | None, str]:
    kept = [(ln.rec, ln.text) for ln in view.lines if ln.shard == name and ln.text is not None]
    have = {r.get("path") for r, _ in kept}
    broken = [b for b in view.broken if b.shard == name]
    lines: list[tuple[bytes, str]] = [(sort_key(r), t) for r, t in kept if t is not None]
    backup = _backup(project, name)
    if backup is not None:
        label, recs = backup
        added = [(r, t) for r, t in recs if r.get("path") not in have]
        lines += [(sort_key(r), t) for r, t in added]
        what = (f"restored {view.rel(name)} from backup {label}: kept {len(kept)} readable "
                f"line(s), took {len(added)} record(s) from the backup, dropped "
                f"{len(broken)} broken line(s)")
    else:
        hinted = 0
        for b in broken:
            if b.hint is not None and b.hint[0] not in have:
                rec = {"path": b.hint[0], "doc_id": b.hint[1]}
                lines.append((sort_key(rec), json.dumps(rec, ensure_ascii=False,
                                                        separators=(", ", ": "))))
                have.add(b.hint[0])
                hinted += 1
        what = (f"rebuilt {view.rel(name)} from the tree (no backup of it parses): kept "
                f"{len(kept)} readable line(s) and {hinted} legible path/doc_id pair(s) of "
                f"{len(broken)} broken line(s)")
    lines.sort(key=lambda x: x[0])
    text = "".join(t + "\n" for _, t in lines)
    return (text or None), what


def _backup(project: Project, name: str) -> tuple[str, list[tuple[dict[str, object], str]]] | None:
    """The newest backup of ``name`` whose lines all parse: (label, [(record, line)])."""
    for folder, meta in backups.listing(project.state_dir):
        path = folder / name
        if not path.exists():
            if name in meta.get("absent", []):
                return f"{folder.name} (the shard did not exist yet)", []
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        out: list[tuple[dict[str, object], str]] = []
        for ln in text.split("\n"):
            if not ln:
                continue
            try:
                rec = json.loads(ln)
            except ValueError:
                break
            if not isinstance(rec, dict):
                break
            out.append((rec, ln))
        else:
            return folder.name, out
    return None
